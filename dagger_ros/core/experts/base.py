"""What every expert is: a deterministic map from an observation to an in-bounds action."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from dagger_ros.core.errors import InputError
from dagger_ros.core.spec import EnvSpec


@runtime_checkable
class Expert(Protocol):
    """A labeler: ``expert(obs) -> action`` of shape (act_dim,), float64, inside the bounds.

    Attributes:
        spec: the spaces the expert reads and writes.
    """

    spec: EnvSpec

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return the action for one observation."""
        ...


class ScriptedExpert:
    """Shared checks of the scripted experts: one finite observation in, one clipped action out.

    Subclasses implement :meth:`_act` on a validated float64 observation of shape (obs_dim,).
    """

    spec: EnvSpec

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return the expert's action for one observation.

        Raises:
            InputError: the observation has the wrong size or non-finite entries.
        """
        vec = self.spec.check_obs(obs)
        if vec.ndim != 1:
            raise InputError(
                f'observation has shape {vec.shape}, expected ({self.spec.obs_dim},): '
                'experts label one state per call')
        action = np.asarray(self._act(vec), dtype=np.float64).reshape(self.spec.act_dim)
        return self.spec.clip_action(action)

    def _act(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.spec.env_id!r})'


def make_private_env(env_id: str, **kwargs: Any) -> Any:
    """Return a fresh unwrapped env the expert owns: its spec and model, never the learner's.

    Typed Any: experts read the task's own attributes (``model``, ``dt``, ``max_torque``...).
    """
    return gym.make(env_id, **kwargs).unwrapped


def spec_of(env: gym.Env, env_id: str) -> EnvSpec:
    """Return the EnvSpec of an expert's private env under the public id."""
    return EnvSpec.from_env(env, env_id)
