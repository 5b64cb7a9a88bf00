"""Per-task settings that make the default runs sensible (episode lengths differ 5×)."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    'Pendulum-v1': {'demo_steps': 200, 'steps_per_round': 100, 'rounds': 20, 'eval_episodes': 5},
    'InvertedDoublePendulum-v5': {'demo_steps': 300, 'steps_per_round': 150, 'rounds': 8,
                                  'eval_episodes': 3},
    'LunarLanderContinuous-v3': {'demo_steps': 1000, 'steps_per_round': 1000, 'rounds': 10,
                                 'eval_episodes': 5},
    'HalfCheetah-v5': {'demo_steps': 2000, 'steps_per_round': 1000, 'rounds': 18,
                       'eval_episodes': 2},
}


def preset_for(env_id: str) -> dict[str, Any]:
    """The preset of env_id, or nothing for unknown tasks."""
    return dict(PRESETS.get(env_id, {}))
