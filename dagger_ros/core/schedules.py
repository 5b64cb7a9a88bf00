"""β mixing schedules (DAgger) and noise-level schedules (DART), as small pure callables.

A schedule maps a round index to a number and holds nothing else: no state, no clock, no
randomness. Build one from a config with :func:`make_beta_schedule` or :func:`make_noise_schedule`.

Round numbering: round 0 is the first round of data collection. Ross et al. (2011, Algorithm 3.1)
number their iterations from 1, so their iteration i is our round i - 1 and their β_1 is our
``beta(0)``. Every schedule here is the plain formula of the round index, round 0 included. The
schedules that Ross et al. analyse give β = 1 at round 0 (pure expert data); a
:class:`ConstantBeta` gives its β there too. The round loop of this package records round 0 as
expert demonstrations whatever the schedule says, so only callers that also mix in round 0 see
the difference.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
import numbers
import operator
from typing import Any, Callable

from dagger_ros.core.errors import ConfigError

Schedule = Callable[[int], float]


def _check_number(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> None:
    """Raise ConfigError unless value is a finite real in [lo, hi] ((lo, hi] when lo_open)."""
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    inside = (is_real and math.isfinite(value) and (lo < value if lo_open else lo <= value)
              and value <= hi)
    if not inside:
        expected = f'{"(" if lo_open else "["}{lo:g}, {hi:g}{")" if math.isinf(hi) else "]"}'
        raise ConfigError(f'{name} must lie in {expected}, got {value!r}')


def _check_round(round_index: Any) -> int:
    """Return round_index as an int; raise ConfigError for a negative or non-integer index."""
    try:
        index = operator.index(round_index)
    except TypeError as err:
        raise ConfigError(f'round_index must be an integer, got {round_index!r}') from err
    if index < 0:
        raise ConfigError(f'round_index must be >= 0, got {index}')
    return index


@dataclass(frozen=True)
class ConstantBeta:
    """β_i = beta in every round, round 0 included.

    Ross et al.'s guarantee needs the mean β over the rounds to tend to 0, which a constant
    β > 0 does not give; it stays for users who want a fixed share of expert control.
    """

    beta: float = 0.5

    def __post_init__(self) -> None:
        _check_number('beta', self.beta, 0.0, 1.0)

    def __call__(self, round_index: int) -> float:
        """Return β for this round."""
        _check_round(round_index)
        return float(self.beta)


@dataclass(frozen=True)
class LinearBeta:
    """β falls linearly from ``start`` at round 0 to ``end`` at round ``rounds``, then stays.

    β_i = start + (end - start) · min(i / rounds, 1).
    """

    start: float = 1.0
    end: float = 0.0
    rounds: int = 10

    def __post_init__(self) -> None:
        _check_number('start', self.start, 0.0, 1.0)
        _check_number('end', self.end, 0.0, 1.0)
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ConfigError(f'rounds must be an integer >= 1, got {self.rounds!r}')

    def __call__(self, round_index: int) -> float:
        """Return β for this round."""
        progress = min(_check_round(round_index) / self.rounds, 1.0)
        return float(self.start + (self.end - self.start) * progress)


@dataclass(frozen=True)
class ExponentialBeta:
    """β_i = p^i: Ross et al.'s β_i = p^(i-1) with their iteration i = our round + 1.

    Round 0 thus has β = 1 (pure expert data) and round 1 has β = p.
    """

    p: float = 0.5

    def __post_init__(self) -> None:
        _check_number('p', self.p, 0.0, 1.0, lo_open=True)

    def __call__(self, round_index: int) -> float:
        """Return β for this round."""
        return float(self.p ** _check_round(round_index))


@dataclass(frozen=True)
class FirstRoundOnly:
    """β = 1 in round 0 and 0 after: Ross et al.'s parameter-free β_i = I(i = 1) variant."""

    def __call__(self, round_index: int) -> float:
        """Return β for this round."""
        return 1.0 if _check_round(round_index) == 0 else 0.0


BETA_SCHEDULES: dict[str, type] = {
    'constant': ConstantBeta, 'linear': LinearBeta, 'exponential': ExponentialBeta,
    'first_round_only': FirstRoundOnly}


@dataclass(frozen=True)
class ConstantNoise:
    """The same DART noise level every round.

    A level is a standard deviation; its unit is the caller's (``noise.level_covariance`` reads
    it as a fraction of the half action range).
    """

    level: float = 0.1

    def __post_init__(self) -> None:
        _check_number('level', self.level, 0.0, math.inf)

    def __call__(self, round_index: int) -> float:
        """Return the noise level for this round."""
        _check_round(round_index)
        return float(self.level)


@dataclass(frozen=True)
class DecayingNoise:
    """level_i = start · rate^i: ``start`` at round 0, shrinking by ``rate`` per round."""

    start: float = 0.2
    rate: float = 0.7

    def __post_init__(self) -> None:
        _check_number('start', self.start, 0.0, math.inf)
        _check_number('rate', self.rate, 0.0, 1.0, lo_open=True)

    def __call__(self, round_index: int) -> float:
        """Return the noise level for this round."""
        return float(self.start * self.rate ** _check_round(round_index))


NOISE_SCHEDULES: dict[str, type] = {'constant': ConstantNoise, 'decaying': DecayingNoise}


def _build(kind: str, table: dict[str, type], name: str, params: dict[str, Any]) -> Schedule:
    """Instantiate table[name](**params), naming the known names or parameters on failure."""
    if name not in table:
        raise ConfigError(f'unknown {kind} schedule {name!r}; expected one of '
                          f'{", ".join(table)}')
    cls = table[name]
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f'bad parameters for {kind} schedule {name!r}: got {unknown}, '
                          f'expected some of {known}')
    return cls(**params)


def make_beta_schedule(name: str, **params: Any) -> Schedule:
    """Build a β schedule by name.

    Args:
        name: 'constant' (beta), 'linear' (start, end, rounds), 'exponential' (p) or
            'first_round_only' (no parameters).
        **params: the schedule's parameters; missing ones take their defaults.

    Returns:
        A callable round_index -> β in [0, 1].

    Raises:
        ConfigError: unknown name or parameter, or a value out of range (β in [0, 1],
            p in (0, 1], rounds >= 1), naming what was got and what was expected.
    """
    return _build('beta', BETA_SCHEDULES, name, params)


def make_noise_schedule(name: str, **params: Any) -> Schedule:
    """Build a DART noise-level schedule by name.

    Args:
        name: 'constant' (level) or 'decaying' (start, rate). The third DART option, a
            covariance estimated from the learner's errors, is not a schedule: see
            ``noise.estimate_dart_covariance``.
        **params: the schedule's parameters; missing ones take their defaults.

    Returns:
        A callable round_index -> noise level >= 0.

    Raises:
        ConfigError: unknown name or parameter, or a value out of range (levels >= 0,
            rate in (0, 1]).
    """
    return _build('noise', NOISE_SCHEDULES, name, params)
