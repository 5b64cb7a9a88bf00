"""Pendulum-v1: pump energy to swing up, then hold the top with LQR."""

from __future__ import annotations

from typing import Any

import numpy as np

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.experts.base import make_private_env, ScriptedExpert, spec_of
from dagger_ros.core.experts.lqr import lqr_gain


class PendulumExpert(ScriptedExpert):
    """Energy-shaping swing-up with an LQR balance near upright.

    The pendulum obeys ``theta'' = a sin(theta) + b u`` (theta = 0 upright), so
    ``E = theta'^2 / 2 + a cos(theta)`` changes at rate ``b u theta'``: pushing along the
    velocity adds energy until E reaches the upright value ``a``, where LQR on the env's own
    cost (theta^2 + 0.1 theta'^2 + 0.001 u^2) takes over.

    Args:
        energy_gain: slope of the pump torque in (energy deficit x velocity); large values
            give bang-bang pumping, which is close to time-optimal.
        switch_angle: |theta| in radians below which LQR balances.
        **env_kwargs: passed to ``gymnasium.make('Pendulum-v1')`` (e.g. ``g``).
    """

    def __init__(self, energy_gain: float = 0.3, switch_angle: float = 0.8,
                 **env_kwargs: Any) -> None:
        if energy_gain < 0 or not 0 < switch_angle <= np.pi:
            raise ConfigError(
                f'pendulum expert got energy_gain={energy_gain!r}, switch_angle='
                f'{switch_angle!r}; expected energy_gain >= 0 and 0 < switch_angle <= pi')
        env = make_private_env('Pendulum-v1', **env_kwargs)
        self.spec = spec_of(env, 'Pendulum-v1')
        self._a = 3.0 * env.g / (2.0 * env.l)
        self._b = 3.0 / (env.m * env.l ** 2)
        self._max_torque = float(env.max_torque)
        self._gain = _balance_gain(self._a, self._b, float(env.dt))
        self._energy_gain = float(energy_gain)
        self._switch_angle = float(switch_angle)
        env.close()

    def _act(self, obs: np.ndarray) -> np.ndarray:
        theta = float(np.arctan2(obs[1], obs[0]))
        omega = float(obs[2])
        if abs(theta) < self._switch_angle:
            return -self._gain @ np.array([theta, omega])
        return np.array([self._pump(theta, omega)])

    def _pump(self, theta: float, omega: float) -> float:
        deficit = self._a - (0.5 * omega ** 2 + self._a * np.cos(theta))
        # At rest at the bottom the pump law gives zero torque; any push starts the swing.
        velocity = omega if abs(omega) > 1e-3 else 1e-3
        return self._max_torque * float(np.clip(self._energy_gain * deficit * velocity, -1, 1))


def _balance_gain(a: float, b: float, dt: float) -> np.ndarray:
    """LQR gain of the env's semi-implicit Euler step linearized at upright."""
    a_mat = np.array([[1.0 + a * dt ** 2, dt], [a * dt, 1.0]])
    b_mat = np.array([[b * dt ** 2], [b * dt]])
    return lqr_gain(a_mat, b_mat, np.diag([1.0, 0.1]), np.array([[0.001]]))
