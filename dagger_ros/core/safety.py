"""The safety layer around every gating rule: one safe command, never a stale or invalid one.

All functions are pure: time, the previous command and the inputs' ages come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.settings import meta as _meta
from dagger_ros.core.spec import EnvSpec

FALLBACKS = ('zero', 'center', 'hold')


@dataclass(frozen=True)
class SafetyConfig:
    """Limits applied to whatever the gate decides."""

    stale_timeout_s: float = field(default=0.05, metadata=_meta(
        'an input older than this counts as absent', 's', 0.0))
    max_rate: float = field(default=0.0, metadata=_meta(
        'largest change of any action dimension per second; 0 turns the limit off',
        'action units/s', 0.0))
    fallback: str = field(default='zero', metadata=_meta(
        'safe command: zero (clipped into bounds), center of the bounds, or hold the last'))
    handover_steps: int = field(default=5, metadata=_meta(
        'when a person releases the takeover, blend from their last command to the policy '
        'over this many steps; 0 switches at once', 'steps', 0, 1000))

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ConfigError(f'fallback must be one of {FALLBACKS}, got {self.fallback!r}')
        if not (self.stale_timeout_s > 0 and math.isfinite(self.stale_timeout_s)):
            raise ConfigError(f'stale_timeout_s must be > 0, got {self.stale_timeout_s!r}')
        if not (self.max_rate >= 0 and math.isfinite(self.max_rate)):
            raise ConfigError(f'max_rate must be >= 0, got {self.max_rate!r}')


def is_stale(now_s: float, stamp_s: float | None, timeout_s: float) -> bool:
    """True when the input never came or is older than timeout_s (a clock jump back too)."""
    if stamp_s is None or not math.isfinite(stamp_s):
        return True
    age = now_s - stamp_s
    return age > timeout_s or age < -timeout_s


def is_valid_action(action: np.ndarray | None, spec: EnvSpec) -> bool:
    """True for a finite vector of the spec's action size."""
    if action is None:
        return False
    arr = np.asarray(action)
    return arr.shape == (spec.act_dim,) and bool(np.all(np.isfinite(arr)))


def fallback_action(spec: EnvSpec, previous: np.ndarray | None, cfg: SafetyConfig) -> np.ndarray:
    """The one safe command: zero clipped into bounds, the bounds' center, or the last one."""
    if cfg.fallback == 'hold' and is_valid_action(previous, spec):
        return np.asarray(previous, dtype=np.float64)
    if cfg.fallback == 'center':
        return (spec.low + spec.high) / 2
    return spec.clip_action(np.zeros(spec.act_dim))


def limit_rate(action: np.ndarray, previous: np.ndarray | None, dt_s: float,
               max_rate: float) -> np.ndarray:
    """Move from previous toward action by at most max_rate·dt per dimension."""
    if previous is None or max_rate <= 0 or not (dt_s > 0):
        return action
    step = max_rate * dt_s
    return previous + np.clip(action - previous, -step, step)


@dataclass(frozen=True)
class SafeCommand:
    """The command to publish and why it differs from what the gate wanted, if it does."""

    action: np.ndarray
    reason: str


def make_safe(wanted: np.ndarray | None, previous: np.ndarray | None, spec: EnvSpec,
              cfg: SafetyConfig, dt_s: float, estopped: bool) -> SafeCommand:
    """Apply e-stop, validity, bounds and rate limits to the gate's wanted command."""
    if estopped:
        return SafeCommand(spec.clip_action(np.zeros(spec.act_dim)), 'estop')
    if not is_valid_action(wanted, spec):
        return SafeCommand(fallback_action(spec, previous, cfg), 'invalid_input')
    action = spec.clip_action(np.asarray(wanted, dtype=np.float64))
    limited = limit_rate(action, previous, dt_s, cfg.max_rate)
    return SafeCommand(spec.clip_action(limited), 'ok' if np.array_equal(limited, action)
                       else 'rate_limited')
