"""β and DART noise-level schedules at their edges: round 0, the last round, past the end."""

import math

import pytest

from dagger_ros.core import schedules
from dagger_ros.core.errors import ConfigError


@pytest.mark.parametrize('name, params, rounds, expected', [
    # a constant β holds at round 0 too: the schedule is the plain formula
    ('constant', {'beta': 0.3}, [0, 1, 7, 1000], [0.3, 0.3, 0.3, 0.3]),
    ('constant', {'beta': 0.0}, [0, 5], [0.0, 0.0]),
    # start at round 0, end at round `rounds`, then flat
    ('linear', {'start': 1.0, 'end': 0.0, 'rounds': 4}, [0, 1, 2, 3, 4, 5, 99],
     [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]),
    ('linear', {'start': 0.8, 'end': 0.2, 'rounds': 3}, [0, 3, 4], [0.8, 0.2, 0.2]),
    ('linear', {'rounds': 1}, [0, 1, 2], [1.0, 0.0, 0.0]),
    # Ross et al.'s β_i = p^(i-1): round 0 (their i = 1) is pure expert
    ('exponential', {'p': 0.5}, [0, 1, 2, 3], [1.0, 0.5, 0.25, 0.125]),
    ('exponential', {'p': 1.0}, [0, 50], [1.0, 1.0]),
    ('exponential', {'p': 0.9}, [200], [0.9 ** 200]),
    ('first_round_only', {}, [0, 1, 2, 100], [1.0, 0.0, 0.0, 0.0]),
])
def test_beta_schedule_values(name, params, rounds, expected):
    schedule = schedules.make_beta_schedule(name, **params)
    assert [schedule(i) for i in rounds] == pytest.approx(expected)


@pytest.mark.parametrize('name', sorted(schedules.BETA_SCHEDULES))
def test_beta_stays_in_unit_interval_and_never_rises(name):
    schedule = schedules.make_beta_schedule(name)
    values = [schedule(i) for i in range(30)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(later <= earlier for earlier, later in zip(values, values[1:]))


@pytest.mark.parametrize('name, params, pattern', [
    ('cosine', {}, "unknown beta schedule 'cosine'; expected one of constant, linear, "
                   'exponential, first_round_only'),
    ('constant', {'beta': 2.0}, r'beta must lie in \[0, 1\], got 2.0'),
    ('constant', {'beta': -0.1}, r'beta must lie in \[0, 1\], got -0.1'),
    ('constant', {'beta': math.nan}, r'beta must lie in \[0, 1\], got nan'),
    ('constant', {'beta': '0.5'}, r"beta must lie in \[0, 1\], got '0.5'"),
    ('linear', {'start': 1.5}, r'start must lie in \[0, 1\], got 1.5'),
    ('linear', {'end': -1.0}, r'end must lie in \[0, 1\], got -1.0'),
    ('linear', {'rounds': 0}, 'rounds must be an integer >= 1, got 0'),
    ('linear', {'rounds': 2.5}, 'rounds must be an integer >= 1, got 2.5'),
    ('exponential', {'p': 0.0}, r'p must lie in \(0, 1\], got 0.0'),
    ('exponential', {'p': 1.2}, r'p must lie in \(0, 1\], got 1.2'),
    ('constant', {'gamma': 1}, r"bad parameters for beta schedule 'constant': got \['gamma'\], "
                               r"expected some of \['beta'\]"),
    ('first_round_only', {'beta': 1.0}, "bad parameters for beta schedule 'first_round_only'"),
])
def test_bad_beta_schedule_is_refused_with_a_message(name, params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        schedules.make_beta_schedule(name, **params)


@pytest.mark.parametrize('schedule', [
    schedules.ConstantBeta(0.5), schedules.LinearBeta(), schedules.ExponentialBeta(0.5),
    schedules.FirstRoundOnly(), schedules.ConstantNoise(0.1), schedules.DecayingNoise()])
@pytest.mark.parametrize('round_index, pattern', [
    (-1, 'round_index must be >= 0, got -1'),
    (1.5, 'round_index must be an integer, got 1.5')])
def test_bad_round_index_is_refused(schedule, round_index, pattern):
    with pytest.raises(ConfigError, match=pattern):
        schedule(round_index)


def test_schedules_are_frozen_values():
    schedule = schedules.ExponentialBeta(0.5)
    with pytest.raises(AttributeError):
        schedule.p = 0.9
    assert schedule == schedules.make_beta_schedule('exponential', p=0.5)


@pytest.mark.parametrize('name, params, rounds, expected', [
    ('constant', {'level': 0.1}, [0, 1, 50], [0.1, 0.1, 0.1]),
    ('constant', {'level': 0.0}, [3], [0.0]),
    ('decaying', {'start': 0.2, 'rate': 0.5}, [0, 1, 2, 3], [0.2, 0.1, 0.05, 0.025]),
    ('decaying', {'start': 0.2, 'rate': 1.0}, [0, 40], [0.2, 0.2]),
])
def test_noise_schedule_values(name, params, rounds, expected):
    schedule = schedules.make_noise_schedule(name, **params)
    assert [schedule(i) for i in rounds] == pytest.approx(expected)


@pytest.mark.parametrize('name, params, pattern', [
    ('pink', {}, "unknown noise schedule 'pink'; expected one of constant, decaying"),
    ('estimated', {}, "unknown noise schedule 'estimated'"),
    ('constant', {'level': -0.1}, r'level must lie in \[0, inf\), got -0.1'),
    ('constant', {'level': math.inf}, r'level must lie in \[0, inf\), got inf'),
    ('decaying', {'rate': 0.0}, r'rate must lie in \(0, 1\], got 0.0'),
    ('decaying', {'start': math.nan}, r'start must lie in \[0, inf\), got nan'),
    ('decaying', {'level': 0.1}, "bad parameters for noise schedule 'decaying'"),
])
def test_bad_noise_schedule_is_refused_with_a_message(name, params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        schedules.make_noise_schedule(name, **params)
