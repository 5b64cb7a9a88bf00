"""The safety layer's truth tables: e-stop, invalid input, bounds, rate limits, staleness."""

import math

import numpy as np
import pytest

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.safety import (
    fallback_action, is_stale, limit_rate, make_safe, SafetyConfig)
from dagger_ros.core.spec import EnvSpec

SPEC = EnvSpec('toy', 2, 2, (-1.0, 0.5), (1.0, 2.0))
CFG = SafetyConfig(stale_timeout_s=0.1, max_rate=0.0, fallback='zero')


@pytest.mark.parametrize('now, stamp, timeout, expected', [
    (1.0, None, 0.1, True),        # never received
    (1.0, 0.95, 0.1, False),       # fresh
    (1.0, 0.9, 0.1, False),        # exactly at the limit
    (1.0, 0.89, 0.1, True),        # too old
    (1.0, 1.5, 0.1, True),         # from the future: a clock jump
    (1.0, math.nan, 0.1, True),
])
def test_is_stale(now, stamp, timeout, expected):
    assert is_stale(now, stamp, timeout) is expected


@pytest.mark.parametrize('wanted, estop, expected, reason', [
    ([0.2, 1.0], False, [0.2, 1.0], 'ok'),
    ([5.0, -3.0], False, [1.0, 0.5], 'ok'),                 # clipped into bounds
    ([math.nan, 1.0], False, [0.0, 0.5], 'invalid_input'),  # zero clipped into bounds
    ([0.1], False, [0.0, 0.5], 'invalid_input'),            # wrong size
    (None, False, [0.0, 0.5], 'invalid_input'),             # nothing to send
    ([0.2, 1.0], True, [0.0, 0.5], 'estop'),
])
def test_make_safe_table(wanted, estop, expected, reason):
    wanted = None if wanted is None else np.array(wanted)
    out = make_safe(wanted, None, SPEC, CFG, 0.01, estop)
    np.testing.assert_allclose(out.action, expected)
    assert out.reason == reason


def test_rate_limit_moves_at_most_rate_times_dt():
    limited = limit_rate(np.array([1.0, 1.0]), np.array([0.0, 0.9]), 0.01, 10.0)
    np.testing.assert_allclose(limited, [0.1, 1.0])
    cfg = SafetyConfig(max_rate=10.0)
    out = make_safe(np.array([1.0, 1.0]), np.array([0.0, 0.9]), SPEC, cfg, 0.01, False)
    assert out.reason == 'rate_limited'


@pytest.mark.parametrize('fallback, previous, expected', [
    ('zero', None, [0.0, 0.5]),
    ('center', None, [0.0, 1.25]),
    ('hold', np.array([0.3, 1.1]), [0.3, 1.1]),
    ('hold', None, [0.0, 0.5]),                 # nothing to hold: zero
    ('hold', np.array([math.nan, 1.0]), [0.0, 0.5]),
])
def test_fallback_action(fallback, previous, expected):
    cfg = SafetyConfig(fallback=fallback)
    np.testing.assert_allclose(fallback_action(SPEC, previous, cfg), expected)


@pytest.mark.parametrize('changes, pattern', [
    ({'fallback': 'brake'}, "fallback must be one of .* got 'brake'"),
    ({'stale_timeout_s': 0.0}, 'stale_timeout_s must be > 0, got 0.0'),
    ({'max_rate': -1.0}, 'max_rate must be >= 0, got -1.0'),
])
def test_bad_safety_config_is_refused(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        SafetyConfig(**changes)
