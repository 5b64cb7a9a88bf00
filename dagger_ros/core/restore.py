"""Put a simulation back into the state an observation came from, to show it to a person.

A label request shows the person the state the robot was in. That needs the full simulator
state, which an observation gives only for some tasks: Pendulum (cos θ, sin θ, θ̇) and MuJoCo
tasks whose observation is exactly (qpos, qvel), such as InvertedPendulum-v5. For the others
:func:`can_restore` is False and the live view plots the observation instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _mujoco_sizes(env: Any) -> tuple[int, int] | None:
    data = getattr(env.unwrapped, 'data', None)
    if data is None or not hasattr(env.unwrapped, 'set_state'):
        return None
    return len(data.qpos), len(data.qvel)


def can_restore(env: Any) -> bool:
    """The env's state can be rebuilt from one of its observations."""
    if hasattr(env.unwrapped, 'state') and env.unwrapped.spec.id.startswith('Pendulum'):
        return True
    sizes = _mujoco_sizes(env)
    return sizes is not None and sum(sizes) == env.observation_space.shape[0]


def restore(env: Any, obs: np.ndarray) -> None:
    """Set the env's state to the one obs was observed in (check :func:`can_restore` first).

    Raises:
        ValueError: for an env whose state an observation does not determine.
    """
    obs = np.asarray(obs, dtype=np.float64)
    if not can_restore(env):
        raise ValueError(f'{env.unwrapped.spec.id}: the observation does not determine the '
                         f'simulator state')
    if hasattr(env.unwrapped, 'state') and env.unwrapped.spec.id.startswith('Pendulum'):
        env.unwrapped.state = np.array([np.arctan2(obs[1], obs[0]), obs[2]])
        return
    nq, _ = _mujoco_sizes(env)
    env.unwrapped.set_state(obs[:nq], obs[nq:])
