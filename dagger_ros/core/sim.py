"""A gymnasium env as a robot: episode bookkeeping for the sim bridge, free of ROS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dagger_ros.core.evaluation import make_env
from dagger_ros.core.spec import EnvSpec


@dataclass(frozen=True)
class SimStep:
    """One transition as the bridge publishes it."""

    obs: np.ndarray
    reward: float
    terminated: bool
    truncated: bool
    episode: int
    step: int
    episode_return: float

    @property
    def done(self) -> bool:
        """The episode ended; the next step starts a new one."""
        return self.terminated or self.truncated


class SimStepper:
    """Steps one env, resets it at episode ends with seeds derived from ``seed``."""

    def __init__(self, env_id: str, seed: int = 0, max_episode_steps: int = 0,
                 render: bool = False) -> None:
        options = {'render_mode': 'rgb_array'} if render else {}
        self.env = make_env(env_id, max_episode_steps, **options)
        self.spec = EnvSpec.from_env(self.env, env_id)
        self.seed = seed
        self.episode = -1
        self.step_index = 0
        self.episode_return = 0.0
        self.obs = self.reset()

    def reset(self) -> np.ndarray:
        """Start the next episode and return its first observation."""
        self.episode += 1
        self.step_index = 0
        self.episode_return = 0.0
        obs, _ = self.env.reset(seed=int(1000 * self.seed + self.episode))
        self.obs = np.asarray(obs, dtype=np.float64)
        return self.obs

    def step(self, action: np.ndarray) -> SimStep:
        """Apply a (validated, clipped) action; the caller resets after a done step."""
        action = self.spec.clip_action(self.spec.check_action(action))
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.step_index += 1
        self.episode_return += float(reward)
        self.obs = np.asarray(obs, dtype=np.float64)
        return SimStep(self.obs, float(reward), bool(terminated), bool(truncated),
                       self.episode, self.step_index, self.episode_return)

    def frame(self) -> np.ndarray | None:
        """Return the rendered frame, (H, W, 3) uint8, when the env was made to render."""
        if self.env.render_mode != 'rgb_array':
            return None
        return np.ascontiguousarray(self.env.render(), dtype=np.uint8)

    def close(self) -> None:
        """Close the env."""
        self.env.close()
