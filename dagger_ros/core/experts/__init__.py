"""Scripted experts: deterministic labelers ``expert(obs) -> action`` for the benchmark tasks.

Each expert needs only the observation (never the learner's simulator), returns a float64
action of shape (act_dim,) inside the bounds, and gives the same action for the same
observation, so its labels can be learned.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.experts.base import Expert, ScriptedExpert
from dagger_ros.core.experts.policy_file import PolicyFileExpert

# Modules are imported on demand: MuJoCo and Box2D load only for the task asked for.
_REGISTRY: dict[str, tuple[str, str]] = {
    'Pendulum-v1': ('pendulum', 'PendulumExpert'),
    'InvertedDoublePendulum-v5': ('double_pendulum', 'DoublePendulumExpert'),
    'LunarLanderContinuous-v3': ('lunar_lander', 'LunarLanderExpert'),
    'HalfCheetah-v5': ('half_cheetah', 'HalfCheetahExpert'),
}
KNOWN_EXPERTS: tuple[str, ...] = tuple(_REGISTRY)

__all__ = ['Expert', 'KNOWN_EXPERTS', 'PolicyFileExpert', 'ScriptedExpert', 'expert_class',
           'make_expert']


def expert_class(env_id: str) -> type[ScriptedExpert]:
    """Return the scripted expert class of a task.

    Raises:
        ConfigError: no scripted expert exists for env_id; the message lists the known ids.
    """
    if env_id not in _REGISTRY:
        raise ConfigError(
            f'no scripted expert for env id {env_id!r}; known ids: {", ".join(KNOWN_EXPERTS)}')
    module_name, class_name = _REGISTRY[env_id]
    module = importlib.import_module(f'{__name__}.{module_name}')
    return getattr(module, class_name)


def make_expert(env_id: str, **options: Any) -> Expert:
    """Build the scripted expert of a task.

    Args:
        env_id: gymnasium id, one of :data:`KNOWN_EXPERTS`.
        **options: constructor arguments of that expert (e.g. ``samples=128`` for HalfCheetah).

    Raises:
        ConfigError: unknown env id, or an option the expert does not take.
    """
    cls = expert_class(env_id)
    _check_options(cls, env_id, options)
    return cls(**options)


def _check_options(cls: type, env_id: str, options: dict[str, Any]) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        accepted = list(params)
        raise ConfigError(
            f'expert for {env_id} got unknown option(s) {unknown}; it accepts {accepted}')
