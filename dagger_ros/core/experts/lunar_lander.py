"""LunarLanderContinuous-v3: gymnasium's own landing heuristic."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dagger_ros.core.experts.base import make_private_env, ScriptedExpert, spec_of

ENV_ID = 'LunarLanderContinuous-v3'


class LunarLanderExpert(ScriptedExpert):
    """Wrap ``gymnasium.envs.box2d.lunar_lander.heuristic`` (a PD law on angle and hover height).

    The heuristic reads only ``env.unwrapped.continuous`` from its env argument, so the expert
    hands it a stub that says "continuous" instead of keeping a Box2D world alive.
    """

    def __init__(self) -> None:
        from gymnasium.envs.box2d.lunar_lander import heuristic
        env = make_private_env(ENV_ID)
        self.spec = spec_of(env, ENV_ID)
        env.close()
        self._heuristic = heuristic
        flags = SimpleNamespace(continuous=True)
        self._env_stub = SimpleNamespace(unwrapped=flags)

    def _act(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(self._heuristic(self._env_stub, obs), dtype=np.float64)
