"""Training: learns, reproducible, early stopping, warm start, EMA, classifier."""

import numpy as np
import pytest
import torch

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.policies import make_policy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.training import train_classifier, train_policy, TrainConfig

SPEC = EnvSpec('toy', 4, 2, (-1.0, -1.0), (1.0, 1.0))
FAST = TrainConfig(epochs=60, max_updates=400, seed=0, min_updates=50, patience=5)


def task(rng, n=1500):
    obs = rng.normal(size=(n, 4))
    return obs, np.column_stack([np.tanh(obs[:, 0] - obs[:, 1]), 0.5 * np.tanh(obs[:, 2])])


def small_policy(size=1):
    return make_policy(SPEC, PolicyConfig(hidden_sizes=(64, 64), ensemble_size=size))


def weights(policy):
    return torch.cat([p.detach().flatten() for p in policy.parameters()])


def test_learns_a_known_function_far_better_than_untrained(rng):
    obs, labels = task(rng)
    test_obs, test_labels = task(np.random.default_rng(99), 500)
    policy = small_policy()
    before = np.mean((policy.act(test_obs) - test_labels) ** 2)
    stats = train_policy(policy, obs, labels, FAST, device='cpu')
    after = np.mean((policy.act(test_obs) - test_labels) ** 2)
    assert after < 0.1 * before
    assert stats.updates > 0 and stats.samples_per_s > 0 and policy.version == 1


def test_same_seed_same_weights_other_seed_other_weights(rng):
    obs, labels = task(rng)
    first, again, other = small_policy(2), small_policy(2), small_policy(2)
    train_policy(first, obs, labels, FAST, device='cpu')
    train_policy(again, obs, labels, FAST, device='cpu')
    train_policy(other, obs, labels, TrainConfig(**{**FAST.__dict__, 'seed': 1}), device='cpu')
    assert torch.equal(weights(first), weights(again))
    assert not torch.equal(weights(first), weights(other))


def test_early_stopping_ends_before_the_epoch_limit(rng):
    obs, labels = task(rng, 400)
    cfg = TrainConfig(epochs=2000, max_updates=None, patience=3, min_updates=10, seed=0)
    stats = train_policy(small_policy(), obs, labels, cfg, device='cpu')
    assert stats.epochs_run < 2000
    assert stats.best_epoch <= stats.epochs_run


def test_warm_start_continues_and_cold_start_reinitializes(rng):
    obs, labels = task(rng)
    warm = small_policy()
    train_policy(warm, obs, labels, FAST, device='cpu')
    trained = weights(warm).clone()
    one_step = TrainConfig(epochs=1, max_updates=1, seed=0, val_fraction=0.0)
    train_policy(warm, obs, labels, one_step, device='cpu')
    assert (weights(warm) - trained).abs().max() < 0.05  # one small step away
    cold = TrainConfig(**{**one_step.__dict__, 'warm_start': False})
    train_policy(warm, obs, labels, cold, device='cpu')
    assert (weights(warm) - trained).abs().max() > 0.1  # back near a fresh initialization
    assert warm.version == 3


def test_ema_changes_the_result(rng):
    obs, labels = task(rng)
    plain, averaged = small_policy(), small_policy()
    train_policy(plain, obs, labels, FAST, device='cpu')
    train_policy(averaged, obs, labels, TrainConfig(**{**FAST.__dict__, 'ema_decay': 0.99}),
                 device='cpu')
    assert not torch.equal(weights(plain), weights(averaged))


def test_classifier_learns_a_separable_rule(rng):
    obs = rng.normal(size=(2000, 4))
    targets = obs[:, 0] + obs[:, 1] > 0.5
    clf = SafetyClassifier(SPEC, (32, 32))
    train_classifier(clf, obs, targets, FAST, device='cpu')
    test = rng.normal(size=(1000, 4))
    accuracy = np.mean((clf.prob_unsafe(test) > 0.5) == (test[:, 0] + test[:, 1] > 0.5))
    assert accuracy > 0.9


def test_bad_training_data_is_refused(rng):
    obs, labels = task(rng, 50)
    with pytest.raises(InputError, match='got 50 observations and 49 targets'):
        train_policy(small_policy(), obs, labels[:49], FAST, device='cpu')
    labels[3, 1] = np.nan
    with pytest.raises(InputError, match='training labels has non-finite'):
        train_policy(small_policy(), obs, labels, FAST, device='cpu')


@pytest.mark.parametrize('changes, pattern', [
    ({'lr': 0.0}, 'lr must be > 0'), ({'lr_schedule': 'warm'}, 'lr_schedule must be one of'),
    ({'val_fraction': 0.95}, 'val_fraction must lie in'), ({'batch_size': 0}, 'batch_size must'),
    ({'ema_decay': 1.0}, r'ema_decay must lie in \[0, 1\)'),
])
def test_bad_train_config(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig(**changes)
