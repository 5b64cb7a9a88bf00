"""Scoring policies on a gymnasium env: returns, and the random/expert baselines."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np

from dagger_ros.core.errors import ConfigError

ActFn = Callable[[np.ndarray], np.ndarray]


def make_env(env_id: str, max_episode_steps: int = 0, **kwargs: Any) -> gym.Env:
    """Create a gymnasium env; an unknown id raises ConfigError naming it."""
    try:
        if max_episode_steps:
            return gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
        return gym.make(env_id, **kwargs)
    except gym.error.Error as err:
        raise ConfigError(f'unknown or unavailable gymnasium env id {env_id!r}: {err}') from err


def episode_seeds(seed: int, episodes: int) -> list[int]:
    """Fixed evaluation start states, disjoint from the training resets."""
    return [1_000_000 + 1000 * seed + k for k in range(episodes)]


def evaluate(env: gym.Env, act: ActFn, seeds: list[int]) -> np.ndarray:
    """Return of one episode per seed with ``act`` driving alone."""
    returns = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return np.asarray(returns)


def random_policy(env: gym.Env, seed: int) -> ActFn:
    """Uniform random actions from a seeded generator."""
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    return lambda obs: rng.uniform(low, high)


def normalized(value: float, random_return: float, expert_return: float) -> float:
    """0 at the random policy's return, 1 at the expert's."""
    span = expert_return - random_return
    return float((value - random_return) / span) if span else float('nan')
