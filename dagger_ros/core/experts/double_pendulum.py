"""InvertedDoublePendulum-v5: LQR on a finite-difference linearization of the env step."""

from __future__ import annotations

import functools
from typing import Any

import mujoco
import numpy as np

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.experts.base import make_private_env, ScriptedExpert, spec_of
from dagger_ros.core.experts.lqr import lqr_gain

ENV_ID = 'InvertedDoublePendulum-v5'
# State (x, theta1, theta2, x', theta1', theta2'): angles weigh most, since the reward and the
# termination depend on the tip height; the cart may drift (0.01 x^2 in the reward).
DEFAULT_STATE_COST = (1.0, 100.0, 100.0, 0.1, 1.0, 1.0)


class DoublePendulumExpert(ScriptedExpert):
    """Balance the double pendulum on its cart with a linear-quadratic regulator.

    ``mujoco.mjd_transitionFD`` refuses this model's RK4 integrator, so the expert steps a
    private copy of the model (``frame_skip`` substeps per action) around the upright state and
    takes central differences. The gain is computed once per process for each cost.

    Args:
        state_cost: diagonal of Q over (x, theta1, theta2, x', theta1', theta2').
        action_cost: R, the weight of the squared action in [-1, 1].
    """

    def __init__(self, state_cost: tuple[float, ...] = DEFAULT_STATE_COST,
                 action_cost: float = 1.0) -> None:
        if len(state_cost) != 6 or min(state_cost) < 0 or not action_cost > 0:
            raise ConfigError(
                f'double pendulum LQR got state_cost={tuple(state_cost)} and '
                f'action_cost={action_cost!r}; expected 6 weights >= 0 and action_cost > 0')
        env = make_private_env(ENV_ID)
        self.spec = spec_of(env, ENV_ID)
        env.close()
        self._gain = _cached_gain(tuple(float(v) for v in state_cost), float(action_cost))

    def _act(self, obs: np.ndarray) -> np.ndarray:
        return -self._gain @ state_from_obs(obs)


def state_from_obs(obs: np.ndarray) -> np.ndarray:
    """Return (x, theta1, theta2, x', theta1', theta2') from the 9-vector observation."""
    angles = np.arctan2(obs[1:3], obs[3:5])
    return np.concatenate([obs[:1], angles, obs[5:8]])


@functools.lru_cache(maxsize=8)
def _cached_gain(state_cost: tuple[float, ...], action_cost: float) -> np.ndarray:
    a_mat, b_mat = linearize_upright()
    gain = lqr_gain(a_mat, b_mat, np.diag(state_cost), np.array([[action_cost]]))
    gain.setflags(write=False)
    return gain


def linearize_upright(eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Return (A, B) of one env step at the upright rest state, by central differences."""
    env = make_private_env(ENV_ID)
    model, frame_skip = env.model, int(env.frame_skip)
    data = mujoco.MjData(model)
    step = functools.partial(_step, model, data, frame_skip)
    columns = [(step(e, 0.0) - step(-e, 0.0)) / (2 * eps) for e in eps * np.eye(6)]
    b_col = (step(np.zeros(6), eps) - step(np.zeros(6), -eps)) / (2 * eps)
    env.close()
    return np.stack(columns, axis=1), b_col[:, None]


def _step(model: Any, data: Any, frame_skip: int, state: np.ndarray, ctrl: float) -> np.ndarray:
    mujoco.mj_resetData(model, data)
    data.qpos[:] = state[:3]
    data.qvel[:] = state[3:]
    data.ctrl[0] = ctrl
    mujoco.mj_step(model, data, nstep=frame_skip)
    return np.concatenate([data.qpos, data.qvel])
