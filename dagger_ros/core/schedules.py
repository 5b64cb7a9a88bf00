"""β mixing schedules (DAgger) and noise-level schedules (DART) as small callables.

Round 0 is the demonstration round (β = 1: the expert drives). Ross et al. number iterations
from 1 with β_1 = 1, so their iteration i is our round i - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dagger_ros.core.errors import ConfigError


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f'{name} must lie in [0, 1], got {value!r}')


@dataclass(frozen=True)
class ConstantBeta:
    """β_i = beta for every round after round 0."""

    beta: float = 0.5

    def __post_init__(self) -> None:
        _check_unit('beta', self.beta)

    def __call__(self, round_index: int) -> float:
        return 1.0 if round_index == 0 else self.beta


@dataclass(frozen=True)
class LinearBeta:
    """β falls linearly from start (round 1) to end (round ``rounds``), then stays at end."""

    start: float = 1.0
    end: float = 0.0
    rounds: int = 10

    def __post_init__(self) -> None:
        _check_unit('start', self.start)
        _check_unit('end', self.end)
        if self.rounds < 1:
            raise ConfigError(f'rounds must be >= 1, got {self.rounds!r}')

    def __call__(self, round_index: int) -> float:
        if round_index == 0:
            return 1.0
        progress = min((round_index - 1) / max(self.rounds - 1, 1), 1.0)
        return self.start + (self.end - self.start) * progress


@dataclass(frozen=True)
class ExponentialBeta:
    """β_i = p^i (Ross et al.'s β_i = p^(i-1) with their i = our round + 1)."""

    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.p <= 1.0:
            raise ConfigError(f'p must lie in (0, 1], got {self.p!r}')

    def __call__(self, round_index: int) -> float:
        return self.p ** round_index


@dataclass(frozen=True)
class FirstRoundOnly:
    """β = 1 in round 0 and 0 after: the learner drives every interactive round."""

    def __call__(self, round_index: int) -> float:
        return 1.0 if round_index == 0 else 0.0


BETA_SCHEDULES: dict[str, Callable[..., Callable[[int], float]]] = {
    'constant': ConstantBeta, 'linear': LinearBeta, 'exponential': ExponentialBeta,
    'first_round_only': FirstRoundOnly}


def make_beta_schedule(name: str, **params: float) -> Callable[[int], float]:
    """Build a β schedule by name; unknown names and bad parameters raise ConfigError."""
    if name not in BETA_SCHEDULES:
        raise ConfigError(f'unknown beta schedule {name!r}; expected one of '
                          f'{", ".join(BETA_SCHEDULES)}')
    try:
        return BETA_SCHEDULES[name](**params)
    except TypeError as err:
        raise ConfigError(f'bad parameters for beta schedule {name!r}: {err}') from err


@dataclass(frozen=True)
class ConstantNoise:
    """The same noise level every round."""

    level: float = 0.1

    def __post_init__(self) -> None:
        if self.level < 0:
            raise ConfigError(f'noise level must be >= 0, got {self.level!r}')

    def __call__(self, round_index: int) -> float:
        return self.level


@dataclass(frozen=True)
class DecayingNoise:
    """level = start · rate^(round - 1) from round 1 on."""

    start: float = 0.2
    rate: float = 0.7

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError(f'noise start must be >= 0, got {self.start!r}')
        _check_unit('rate', self.rate)

    def __call__(self, round_index: int) -> float:
        return self.start * self.rate ** max(round_index - 1, 0)


def make_noise_schedule(name: str, **params: float) -> Callable[[int], float]:
    """Build a noise schedule ('constant' or 'decaying') by name."""
    table = {'constant': ConstantNoise, 'decaying': DecayingNoise}
    if name not in table:
        raise ConfigError(f'unknown noise schedule {name!r}; expected constant or decaying')
    return table[name](**params)
