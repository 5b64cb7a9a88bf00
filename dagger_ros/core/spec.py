"""The spaces a policy, a dataset and a checkpoint agree on, and input checks against them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dagger_ros.core.errors import InputError, SpecMismatchError


@dataclass(frozen=True)
class EnvSpec:
    """Observation and action spaces of one task (Box spaces, flat vectors).

    Attributes:
        env_id: gymnasium id or a robot's own name; datasets and checkpoints record it.
        obs_dim: length of an observation vector.
        act_dim: length of an action vector.
        act_low: lower action bounds, one per dimension.
        act_high: upper action bounds, one per dimension.
    """

    env_id: str
    obs_dim: int
    act_dim: int
    act_low: tuple[float, ...]
    act_high: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.obs_dim < 1 or self.act_dim < 1:
            raise SpecMismatchError(
                f'obs_dim and act_dim must be >= 1, got {self.obs_dim} and {self.act_dim}')
        object.__setattr__(self, 'act_low', tuple(float(v) for v in self.act_low))
        object.__setattr__(self, 'act_high', tuple(float(v) for v in self.act_high))
        if len(self.act_low) != self.act_dim or len(self.act_high) != self.act_dim:
            raise SpecMismatchError(
                f'action bounds must have {self.act_dim} entries, got '
                f'{len(self.act_low)} low and {len(self.act_high)} high')
        low, high = np.array(self.act_low), np.array(self.act_high)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
            raise SpecMismatchError(
                f'action bounds must be finite with low < high, got low={self.act_low} '
                f'high={self.act_high}')

    @classmethod
    def from_env(cls, env: Any, env_id: str | None = None) -> EnvSpec:
        """Build the spec of a gymnasium env with flat Box observation and action spaces."""
        obs_space, act_space = env.observation_space, env.action_space
        if getattr(obs_space, 'shape', None) is None or len(obs_space.shape) != 1:
            raise SpecMismatchError(
                f'expected a flat Box observation space, got {obs_space}')
        if getattr(act_space, 'shape', None) is None or len(act_space.shape) != 1:
            raise SpecMismatchError(
                f'expected a flat (continuous) Box action space, got {act_space}')
        name = env_id or getattr(getattr(env, 'spec', None), 'id', None) or 'unknown'
        return cls(env_id=name, obs_dim=int(obs_space.shape[0]), act_dim=int(act_space.shape[0]),
                   act_low=tuple(act_space.low.tolist()), act_high=tuple(act_space.high.tolist()))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data['act_low'] = list(self.act_low)
        data['act_high'] = list(self.act_high)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvSpec:
        """Inverse of :meth:`to_dict`; raises SpecMismatchError on a malformed dict."""
        try:
            return cls(env_id=str(data['env_id']), obs_dim=int(data['obs_dim']),
                       act_dim=int(data['act_dim']), act_low=tuple(data['act_low']),
                       act_high=tuple(data['act_high']))
        except (KeyError, TypeError, ValueError) as err:
            raise SpecMismatchError(f'malformed space description {data!r}: {err}') from err

    @property
    def low(self) -> np.ndarray:
        """Action lower bounds as an array."""
        return np.asarray(self.act_low, dtype=np.float64)

    @property
    def high(self) -> np.ndarray:
        """Action upper bounds as an array."""
        return np.asarray(self.act_high, dtype=np.float64)

    def check_obs(self, obs: Any, what: str = 'observation') -> np.ndarray:
        """Return obs as float64, shape (obs_dim,) or (N, obs_dim); else raise InputError."""
        return check_vector(obs, self.obs_dim, what)

    def check_action(self, action: Any, what: str = 'action') -> np.ndarray:
        """Return action as float64, shape (act_dim,) or (N, act_dim); else raise InputError."""
        return check_vector(action, self.act_dim, what)

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip an action into the bounds."""
        return np.clip(action, self.low, self.high)

    def require_same(self, other: EnvSpec, what: str) -> None:
        """Raise SpecMismatchError naming both specs when other differs from self."""
        if self != other:
            raise SpecMismatchError(
                f'{what} was made for {other.env_id} (obs_dim={other.obs_dim}, '
                f'act_dim={other.act_dim}, bounds {other.act_low}..{other.act_high}) but this run '
                f'uses {self.env_id} (obs_dim={self.obs_dim}, act_dim={self.act_dim}, bounds '
                f'{self.act_low}..{self.act_high})')


def check_vector(value: Any, dim: int, what: str) -> np.ndarray:
    """Return value as a finite float64 array of shape (dim,) or (N, dim).

    Raises:
        InputError: naming the shape or the non-finite entries got and the shape expected.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f'{what} must be numeric, got {type(value).__name__}: {err}') from err
    if arr.ndim not in (1, 2) or arr.shape[-1] != dim:
        raise InputError(f'{what} has shape {arr.shape}, expected ({dim},) or (N, {dim})')
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr)).tolist()[:5]
        raise InputError(f'{what} has non-finite entries at {bad}; expected finite values')
    return arr
