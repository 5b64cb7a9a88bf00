"""β and noise schedules at their edges; DART noise statistics."""

import numpy as np
import pytest

from dagger_ros.core import noise, schedules
from dagger_ros.core.errors import ConfigError


@pytest.mark.parametrize('name, params, expected', [
    ('constant', {'beta': 0.3}, [1.0, 0.3, 0.3, 0.3]),
    ('linear', {'start': 1.0, 'end': 0.0, 'rounds': 3}, [1.0, 1.0, 0.5, 0.0, 0.0]),
    ('exponential', {'p': 0.5}, [1.0, 0.5, 0.25, 0.125]),
    ('first_round_only', {}, [1.0, 0.0, 0.0]),
])
def test_beta_schedules(name, params, expected):
    schedule = schedules.make_beta_schedule(name, **params)
    assert [schedule(i) for i in range(len(expected))] == pytest.approx(expected)


@pytest.mark.parametrize('name, params, pattern', [
    ('cosine', {}, "unknown beta schedule 'cosine'; expected one of constant, linear"),
    ('constant', {'beta': 2.0}, r'beta must lie in \[0, 1\], got 2.0'),
    ('exponential', {'p': 0.0}, r'p must lie in \(0, 1\], got 0.0'),
    ('linear', {'rounds': 0}, 'rounds must be >= 1'),
    ('constant', {'gamma': 1}, "bad parameters for beta schedule 'constant'"),
])
def test_bad_beta_schedules(name, params, pattern):
    with pytest.raises(ConfigError, match=pattern):
        schedules.make_beta_schedule(name, **params)


def test_noise_schedules():
    decaying = schedules.make_noise_schedule('decaying', start=0.2, rate=0.5)
    assert [decaying(i) for i in (1, 2, 3)] == pytest.approx([0.2, 0.1, 0.05])
    assert schedules.make_noise_schedule('constant', level=0.1)(7) == 0.1
    with pytest.raises(ConfigError, match='unknown noise schedule'):
        schedules.make_noise_schedule('pink')


def test_dart_action_has_the_asked_covariance_and_stays_in_bounds(rng):
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    clean = np.zeros(2)
    samples = np.array([noise.dart_action(clean, cov, rng, -np.ones(2) * 9, np.ones(2) * 9)
                        for _ in range(20000)])
    # standard error of a covariance entry at n=20000 is < 0.001 here; 0.005 is > 5 sigma
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=0.005)
    assert np.abs(samples.mean(0)).max() < 0.01
    clipped = noise.dart_action(clean, np.eye(2) * 100, rng, -np.ones(2), np.ones(2))
    assert np.all(np.abs(clipped) <= 1.0)


def test_estimated_covariance_recovers_the_learner_errors(rng):
    true = np.array([[0.5, 0.2], [0.2, 0.3]])
    errors = rng.multivariate_normal(np.zeros(2), true, size=50000)
    cov = noise.estimate_dart_covariance(errors + 1.0, np.ones_like(errors))
    np.testing.assert_allclose(cov, true, atol=0.02)
    bounded = noise.estimate_dart_covariance(errors, np.zeros_like(errors), trace_bound=0.4)
    assert np.trace(bounded) == pytest.approx(0.4)


def test_dart_covariance_shape_is_checked(rng):
    with pytest.raises(ConfigError, match=r'shape \(3, 3\), expected \(2, 2\)'):
        noise.dart_action(np.zeros(2), np.eye(3), rng, -np.ones(2), np.ones(2))
