"""DART noise: executed action vs clean label, noise statistics, and the fitted covariance."""

import math

import numpy as np
import pytest

from dagger_ros.core import noise
from dagger_ros.core.errors import ConfigError, InputError

COV = np.array([[0.04, 0.01], [0.01, 0.09]])
WIDE = np.full(2, 9.0)


def sample_actions(clean, cov, rng, count, low=-WIDE, high=WIDE):
    return np.array([noise.dart_action(clean, cov, rng, low, high) for _ in range(count)])


def test_executed_action_differs_from_the_clean_label(rng):
    clean = np.array([0.2, -0.3])
    kept = clean.copy()
    executed = noise.dart_action(clean, COV, rng, -WIDE, WIDE)
    assert executed.shape == (2,)
    assert not np.allclose(executed, clean)
    np.testing.assert_array_equal(clean, kept)  # the label is left untouched


def test_noise_has_zero_mean_and_the_asked_covariance(rng):
    count = 10000
    clean = np.array([0.5, -0.5])
    errors = sample_actions(clean, COV, rng, count) - clean
    # standard errors at n=10000: mean sqrt(Σ_ii / n); covariance entry
    # sqrt((Σ_ii Σ_jj + Σ_ij²) / n) for Gaussian noise; 5 of them keep false failures < 1e-6
    mean_tol = 5 * np.sqrt(np.diag(COV) / count)
    cov_tol = 5 * np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV ** 2) / count)
    assert np.all(np.abs(errors.mean(axis=0)) < mean_tol)
    assert np.all(np.abs(np.cov(errors.T) - COV) < cov_tol)


def test_zero_covariance_executes_the_clean_action(rng):
    clean = np.array([0.2, -0.3])
    np.testing.assert_array_equal(noise.dart_action(clean, np.zeros((2, 2)), rng, -WIDE, WIDE),
                                  clean)


def test_singular_covariance_leaves_the_quiet_dimension_alone(rng):
    clean = np.array([0.2, -0.3])
    samples = sample_actions(clean, np.diag([0.01, 0.0]), rng, 200)
    assert np.all(samples[:, 1] == clean[1])
    assert np.std(samples[:, 0]) > 0.05


def test_executed_action_is_clipped_into_the_bounds(rng):
    samples = sample_actions(np.array([0.9, -0.9]), np.eye(2) * 100.0, rng, 200,
                             low=-np.ones(2), high=np.ones(2))
    assert np.all(np.abs(samples) <= 1.0)
    assert np.any(samples == 1.0) and np.any(samples == -1.0)


def test_same_seed_same_noise():
    first = noise.dart_action(np.zeros(2), COV, np.random.default_rng(4), -WIDE, WIDE)
    again = noise.dart_action(np.zeros(2), COV, np.random.default_rng(4), -WIDE, WIDE)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize('cov, pattern', [
    (np.eye(3), r'shape \(3, 3\), expected \(2, 2\)'),
    (np.array([0.1, 0.1]), r'shape \(2,\), expected \(2, 2\)'),
    (np.array([[0.1, math.nan], [math.nan, 0.1]]), 'non-finite'),
    (np.array([[0.1, 0.05], [0.0, 0.1]]), 'not symmetric'),
    (np.array([[0.1, 0.0], [0.0, -0.1]]), 'eigenvalue -0.1 < 0'),
    (np.array([[0.1, 0.2], [0.2, 0.1]]), 'positive semi-definite'),
])
def test_bad_covariance_is_refused(rng, cov, pattern):
    with pytest.raises(ConfigError, match=pattern):
        noise.dart_action(np.zeros(2), cov, rng, -WIDE, WIDE)


@pytest.mark.parametrize('action', [np.array([math.nan, 0.0]), np.zeros((1, 2))])
def test_bad_expert_action_is_refused(rng, action):
    with pytest.raises(InputError, match='expert action must be a finite vector'):
        noise.dart_action(action, COV, rng, -WIDE, WIDE)


@pytest.mark.parametrize('level, low, high, expected', [
    (0.2, [-2.0, -1.0], [2.0, 1.0], [0.16, 0.04]),     # std = 0.2 · half range
    (0.0, [-1.0], [1.0], [0.0]),
    (1.0, [0.0], [4.0], [4.0]),
])
def test_level_covariance(level, low, high, expected):
    np.testing.assert_allclose(noise.level_covariance(level, low, high), np.diag(expected))


@pytest.mark.parametrize('level, low, high, pattern', [
    (-0.1, [-1.0], [1.0], 'noise level must be a finite number >= 0'),
    (math.nan, [-1.0], [1.0], 'noise level must be a finite number >= 0'),
    (0.1, [1.0], [-1.0], 'low < high'),
    (0.1, [-1.0, -1.0], [1.0], 'low < high'),
])
def test_level_covariance_refuses_bad_input(level, low, high, pattern):
    with pytest.raises(ConfigError, match=pattern):
        noise.level_covariance(level, low, high)


def test_estimated_covariance_recovers_the_learner_errors(rng):
    count = 50000
    true = np.array([[0.5, 0.2], [0.2, 0.3]])
    expert = rng.uniform(-1.0, 1.0, size=(count, 2))
    policy = expert + rng.multivariate_normal(np.zeros(2), true, size=count)
    cov = noise.estimate_dart_covariance(policy, expert)
    assert cov.shape == (2, 2)
    # sample covariance entries have sd sqrt((Σ_ii Σ_jj + Σ_ij²) / n) <= 0.0032: 0.016 is 5 sd
    np.testing.assert_allclose(cov, true, atol=0.016)


def test_estimated_covariance_keeps_the_learner_bias(rng):
    """A learner that is off by a constant drifts too, so the bias is part of the noise."""
    bias = np.array([0.3, -0.1])
    expert = rng.normal(size=(1000, 2))
    cov = noise.estimate_dart_covariance(expert + bias, expert)
    np.testing.assert_allclose(cov, np.outer(bias, bias), atol=1e-12)


def test_trace_bound_rescales_to_alpha_over_horizon(rng):
    errors = rng.multivariate_normal(np.zeros(3), np.diag([0.5, 0.2, 0.1]), size=2000)
    free = noise.estimate_dart_covariance(errors, np.zeros_like(errors))
    bounded = noise.estimate_dart_covariance(errors, np.zeros_like(errors), horizon=50,
                                             trace_bound=2.0)
    assert np.trace(bounded) == pytest.approx(2.0 / 50)
    np.testing.assert_allclose(bounded / np.trace(bounded), free / np.trace(free))
    # without a horizon the trace is α itself, and it may scale the estimate up as well
    assert np.trace(noise.estimate_dart_covariance(
        errors, np.zeros_like(errors), trace_bound=5.0)) == pytest.approx(5.0)


def test_perfect_learner_gives_no_noise():
    actions = np.ones((10, 2))
    np.testing.assert_array_equal(noise.estimate_dart_covariance(actions, actions), 0.0)
    np.testing.assert_array_equal(
        noise.estimate_dart_covariance(actions, actions, horizon=5, trace_bound=1.0), 0.0)


@pytest.mark.parametrize('count', [1, 2, 7])
def test_estimated_covariance_is_symmetric_psd_even_from_few_samples(rng, count):
    errors = rng.normal(size=(count, 4)) * np.array([1e-8, 1.0, 1e4, 0.0])
    cov = noise.estimate_dart_covariance(errors, np.zeros_like(errors))
    assert cov.shape == (4, 4)
    np.testing.assert_array_equal(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() >= -1e-9 * np.abs(cov).max()
    noise.dart_action(np.zeros(4), cov, rng, -np.inf, np.inf)  # usable as is


def test_fitted_noise_reproduces_the_learner_errors(rng):
    """DART's point: noise drawn with the fitted Σ spreads like the learner's own errors."""
    true = np.array([[0.02, -0.01], [-0.01, 0.03]])
    errors = rng.multivariate_normal(np.zeros(2), true, size=20000)
    cov = noise.estimate_dart_covariance(errors, np.zeros_like(errors))
    drawn = sample_actions(np.zeros(2), cov, rng, 5000)
    # sd of a covariance entry at n=5000 is <= 0.0006 (and the fit adds < 0.0003): 0.004 > 5 sd
    np.testing.assert_allclose(np.cov(drawn.T), true, atol=0.004)


@pytest.mark.parametrize('policy, expert, kwargs, error, pattern', [
    (np.zeros((3, 2)), np.zeros((3, 3)), {}, InputError, r'got \(3, 2\) and \(3, 3\)'),
    (np.zeros((0, 2)), np.zeros((0, 2)), {}, InputError, 'N >= 1'),
    (np.zeros(2), np.zeros(2), {}, InputError, r'\(N, act_dim\)'),
    (np.full((2, 2), math.nan), np.zeros((2, 2)), {}, InputError, 'non-finite'),
    (np.ones((2, 2)), np.zeros((2, 2)), {'trace_bound': -1.0}, ConfigError,
     'trace_bound must be a finite number >= 0, got -1.0'),
    (np.ones((2, 2)), np.zeros((2, 2)), {'trace_bound': math.inf}, ConfigError,
     'trace_bound must be a finite number >= 0, got inf'),
    (np.ones((2, 2)), np.zeros((2, 2)), {'horizon': 0, 'trace_bound': 1.0}, ConfigError,
     'horizon must be an integer >= 1, got 0'),
    (np.ones((2, 2)), np.zeros((2, 2)), {'horizon': 2.5}, ConfigError,
     'horizon must be an integer >= 1, got 2.5'),
])
def test_estimate_refuses_bad_input(policy, expert, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        noise.estimate_dart_covariance(policy, expert, **kwargs)


def test_floor_raises_only_the_variances_below_it():
    cov = np.array([[1e-8, 1e-9], [1e-9, 0.5]])
    floor = np.diag([0.01, 0.01])
    raised = noise.with_floor(cov, floor)
    np.testing.assert_allclose(np.diag(raised), [0.01, 0.5])
    assert raised[0, 1] == raised[1, 0] == 1e-9  # correlations of the estimate are kept
    assert np.all(np.linalg.eigvalsh(raised) >= 0)


def test_zero_floor_leaves_the_estimate():
    np.testing.assert_array_equal(noise.with_floor(COV, np.zeros((2, 2))), COV)


def test_floor_of_another_shape_is_refused():
    with pytest.raises(InputError, match='two square matrices of one shape'):
        noise.with_floor(COV, np.zeros((3, 3)))
