"""RunConfig validation: bad values are refused with a message naming got and expected."""

import pytest

from dagger_ros.core.algorithms.config import ALGORITHM_NAMES, RunConfig
from dagger_ros.core.errors import ConfigError


def test_defaults_are_valid_and_round_trip():
    cfg = RunConfig()
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize('name', ALGORITHM_NAMES)
def test_every_algorithm_name_is_accepted(name):
    assert RunConfig(algorithm=name).algorithm == name


@pytest.mark.parametrize('changes, pattern', [
    ({'algorithm': 'dagr'}, "unknown algorithm 'dagr'; expected one of bc, dagger"),
    ({'beta': 1.5}, r'beta=1.5 is out of range; expected \[0.0, 1.0\]'),
    ({'rounds': 0}, r'rounds=0 is out of range'),
    ({'mixing': 'round'}, "mixing must be 'step' or 'episode', got 'round'"),
    ({'query_mode': 'best'}, "query_mode must be 'uncertainty' or 'random'"),
    ({'noise_schedule': 'loud'}, 'noise_schedule must be estimated|constant|decaying'),
    ({'target_rate': -0.1}, 'target_rate=-0.1 is out of range'),
    ({'noise_floor': -0.1}, 'noise_floor=-0.1 is out of range'),
])
def test_bad_values_are_refused_with_reason(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        RunConfig(**changes)


def test_unknown_keys_are_listed():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['rouns'\]"):
        RunConfig.from_dict({'rouns': 3})
