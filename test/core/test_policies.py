"""Policies: bounds, normalization, input checks, ensemble doubt."""

import numpy as np
import pytest

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.policies import make_policy, MLPPolicy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.training import train_policy, TrainConfig

SPEC = EnvSpec('toy', 3, 2, (-1.0, 0.0), (1.0, 4.0))


def test_actions_stay_inside_bounds_for_huge_inputs(rng):
    policy = MLPPolicy(SPEC, PolicyConfig(hidden_sizes=(16,)))
    actions = policy.act(rng.normal(scale=1e6, size=(200, 3)))
    assert np.all(actions >= SPEC.low) and np.all(actions <= SPEC.high)


def test_act_shapes_for_one_and_many():
    policy = make_policy(SPEC)
    assert policy.act(np.zeros(3)).shape == (2,)
    assert policy.act(np.zeros((5, 3))).shape == (5, 2)
    action, doubt = policy.act_with_doubt(np.zeros(3))
    assert action.dtype == np.float64 and isinstance(doubt, float)


@pytest.mark.parametrize('obs, pattern', [
    (np.zeros(4), r'shape \(4,\), expected \(3,\) or \(N, 3\)'),
    (np.array([0.0, np.nan, 0.0]), 'non-finite entries at'),
    (np.zeros((2, 2, 3)), r'shape \(2, 2, 3\)'),
])
def test_bad_observations_are_refused_with_got_and_expected(obs, pattern):
    with pytest.raises(InputError, match=pattern):
        make_policy(SPEC).act(obs)


def test_normalization_comes_from_the_data(rng):
    policy = MLPPolicy(SPEC)
    obs = rng.normal(loc=5.0, scale=3.0, size=(1000, 3))
    labels = np.column_stack([rng.uniform(-1, 1, 1000), rng.uniform(0, 4, 1000)])
    policy.fit_normalization(obs, labels)
    np.testing.assert_allclose(policy.obs_mean.numpy(), obs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(policy.obs_std.numpy(), obs.std(0), rtol=1e-5)
    np.testing.assert_allclose(policy.act_mean.numpy(), labels.mean(0), rtol=1e-5, atol=1e-6)


def test_ensemble_doubts_more_off_distribution_than_on(rng):
    # GIVEN an ensemble trained near the origin, with bounds wide enough that extrapolation
    # is not flattened by the squash into the bounds
    wide = EnvSpec('toy', 3, 2, (-20.0, -20.0), (20.0, 20.0))
    obs = rng.normal(scale=0.5, size=(600, 3))
    labels = np.column_stack([np.sin(2 * obs[:, 0]), obs[:, 1] * obs[:, 2]])
    policy = make_policy(wide, PolicyConfig(hidden_sizes=(64, 64), ensemble_size=5))
    train_policy(policy, obs, labels, TrainConfig(max_updates=600, seed=0), device='cpu')
    # WHEN asked far away THEN its members disagree more than on the training data
    _, near = policy.act_with_doubt(obs[:200])
    _, far = policy.act_with_doubt(rng.normal(scale=0.5, size=(200, 3)) + 6.0)
    assert np.median(far) > 3 * np.median(near)


def test_single_member_has_zero_doubt():
    assert make_policy(SPEC).act_with_doubt(np.zeros(3))[1] == 0.0


@pytest.mark.parametrize('changes, pattern', [
    ({'hidden_sizes': ()}, 'hidden_sizes must be positive'),
    ({'activation': 'swish'}, "activation must be one of .* got 'swish'"),
    ({'ensemble_size': 0}, 'ensemble_size must be >= 1, got 0'),
])
def test_bad_policy_config(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        PolicyConfig(**changes)


def test_classifier_probability_shapes():
    clf = SafetyClassifier(SPEC)
    assert isinstance(clf.prob_unsafe(np.zeros(3)), float)
    assert clf.prob_unsafe(np.zeros((4, 3))).shape == (4,)
