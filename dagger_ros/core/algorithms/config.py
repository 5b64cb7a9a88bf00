"""One frozen config for an offline (in-process) run of any algorithm."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.settings import meta as _meta

ALGORITHM_NAMES = (
    'bc', 'dagger', 'hg_dagger', 'safe_dagger', 'lazy_dagger', 'ensemble_dagger',
    'thrifty_dagger', 'dart', 'budgeted', 'async')


@dataclass(frozen=True)
class RunConfig:
    """Everything an offline run needs; defaults are the ones the README runs."""

    env_id: str = field(default='Pendulum-v1', metadata=_meta('gymnasium env id'))
    algorithm: str = field(default='dagger', metadata=_meta('one of ALGORITHM_NAMES'))
    seed: int = field(default=0, metadata=_meta('seed of resets, sampling and training', '', 0))
    rounds: int = field(default=10, metadata=_meta('rounds after the demonstration round', '', 1))
    demo_steps: int = field(
        default=400, metadata=_meta('expert steps recorded before round 1 (round 0)', 'steps', 0))
    steps_per_round: int = field(
        default=200, metadata=_meta('environment steps collected per round', 'steps', 1))
    max_episode_steps: int = field(
        default=0, metadata=_meta('episode cut-off; 0 keeps the env default', 'steps', 0))
    eval_episodes: int = field(
        default=5, metadata=_meta('policy-only episodes scored after each round', '', 1))
    # DAgger mixing
    beta_schedule: str = field(
        default='first_round_only', metadata=_meta('constant|linear|exponential|first_round_only'))
    beta: float = field(default=0.5, metadata=_meta('constant β or linear start', '', 0.0, 1.0))
    beta_decay: float = field(
        default=0.5, metadata=_meta('exponential schedule base p (β_i = p^i)', '', 0.0, 1.0))
    mixing: str = field(default='step', metadata=_meta('β draw per step or per episode'))
    # learned gates
    ensemble_size: int = field(default=5, metadata=_meta('bootstrap ensemble members', '', 1))
    target_rate: float = field(
        default=0.1, metadata=_meta('wanted share of steps under expert control', '', 0.0, 1.0))
    safety_tau: float = field(
        default=0.0, metadata=_meta('SafeDAgger deviation τ; 0 sets it from data',
                                    'action units', 0))
    safety_threshold: float = field(
        default=0.5, metadata=_meta('p(unsafe) above which the expert drives', '', 0.0, 1.0))
    handback_ratio: float = field(
        default=0.5, metadata=_meta('hysteresis: switch back at this share of the entry level',
                                    '', 0.0, 1.0))
    holdout_fraction: float = field(
        default=0.3, metadata=_meta('share of labels kept from the policy for the safety net',
                                    '', 0.0, 0.9))
    # human stand-in (HG-DAgger)
    takeover_threshold: float = field(
        default=0.3, metadata=_meta('scripted human takes over at this action error',
                                    'fraction of action range', 0.0))
    # DART
    noise_schedule: str = field(default='estimated', metadata=_meta('estimated|constant|decaying'))
    noise_level: float = field(
        default=0.2, metadata=_meta('DART noise std for constant/decaying',
                                    'fraction of half range', 0))
    noise_decay: float = field(default=0.7, metadata=_meta('decaying noise factor per round',
                                                           '', 0.0, 1.0))
    noise_floor: float = field(
        default=0.05, metadata=_meta('least DART noise std when estimated',
                                     'fraction of half range', 0))
    # budgeted / async
    query_budget: int = field(default=100, metadata=_meta('labels bought per round', 'labels', 0))
    query_mode: str = field(default='uncertainty', metadata=_meta('uncertainty|random'))
    label_delay_s: float = field(
        default=0.001, metadata=_meta('async: time the slow expert takes per label', 's', 0.0))
    # learner
    hidden_sizes: tuple[int, ...] = field(default=(256, 256), metadata=_meta('MLP widths'))
    epochs: int = field(default=200, metadata=_meta('max epochs per round', '', 1))
    batch_size: int = field(default=256, metadata=_meta('minibatch size', '', 1))
    lr: float = field(default=1e-3, metadata=_meta('Adam learning rate', '', 0.0))
    patience: int = field(default=20, metadata=_meta('early-stopping patience', 'epochs', 1))
    max_updates: int = field(
        default=4000, metadata=_meta('cap on gradient steps per round', 'steps', 1))
    warm_start: bool = field(default=True, metadata=_meta('continue from last round weights'))
    demos_path: str = field(
        default='', metadata=_meta('recorded demonstrations (dataset dir or .npz) to seed from'))
    device: str = field(default='auto', metadata=_meta('auto|cpu|cuda'))

    def __post_init__(self) -> None:
        object.__setattr__(self, 'hidden_sizes', tuple(int(h) for h in self.hidden_sizes))
        if self.algorithm not in ALGORITHM_NAMES:
            raise ConfigError(
                f'unknown algorithm {self.algorithm!r}; expected one of '
                f'{", ".join(ALGORITHM_NAMES)}')
        if self.mixing not in ('step', 'episode'):
            raise ConfigError(f"mixing must be 'step' or 'episode', got {self.mixing!r}")
        if self.query_mode not in ('uncertainty', 'random'):
            raise ConfigError(
                f"query_mode must be 'uncertainty' or 'random', got {self.query_mode!r}")
        if self.noise_schedule not in ('estimated', 'constant', 'decaying'):
            raise ConfigError(
                f'noise_schedule must be estimated|constant|decaying, '
                f'got {self.noise_schedule!r}')
        for f in fields(self):
            _check_range(f.name, getattr(self, f.name), f.metadata.get('range'))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data['hidden_sizes'] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a dict, refusing unknown keys with the list of known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f'unknown setting(s) {unknown}; known: {sorted(known)}')
        return cls(**data)


def _check_range(name: str, value: Any, bounds: tuple | None) -> None:
    if bounds is None or isinstance(value, (str, tuple, bool)):
        return
    lo, hi = bounds
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f'{name}={value!r} is out of range; expected [{lo}, {hi}]')
