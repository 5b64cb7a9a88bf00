"""Training: learns, reproducible, early stopping, warm start, EMA, schedules, classifier."""

import dataclasses

import numpy as np
import pytest
import torch

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.policies import make_policy, MLPPolicy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.training import lr_factor, train_classifier, train_policy, TrainConfig

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
    assert stats.val_loss < 0.05  # in units of the labels' spread
    assert stats.updates > 0 and stats.samples_per_s > 0 and policy.version == 1


def test_a_bare_mlp_trains_too(rng):
    obs, labels = task(rng)
    policy = MLPPolicy(SPEC, PolicyConfig(hidden_sizes=(32,)))
    stats = train_policy(policy, obs, labels, FAST, device='cpu')
    assert policy.version == 1 and stats.val_loss < 0.2


def test_same_seed_same_weights_other_seed_other_weights(rng):
    obs, labels = task(rng)
    first, again, other = small_policy(2), small_policy(2), small_policy(2)
    torch.manual_seed(123)  # the global generator must not matter
    train_policy(first, obs, labels, FAST, device='cpu')
    train_policy(again, obs, labels, FAST, device='cpu')
    train_policy(other, obs, labels, dataclasses.replace(FAST, seed=1), device='cpu')
    assert torch.equal(weights(first), weights(again))
    assert not torch.equal(weights(first), weights(other))


def test_training_leaves_the_global_generator_alone(rng):
    obs, labels = task(rng, 300)
    policy = small_policy(2)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    train_policy(policy, obs, labels, dataclasses.replace(FAST, max_updates=5),
                 device='cpu')
    assert torch.equal(torch.rand(3), expected)


def test_early_stopping_ends_before_the_epoch_limit(rng):
    obs, labels = task(rng, 400)
    cfg = TrainConfig(epochs=2000, max_updates=None, patience=3, min_updates=10, seed=0)
    seen = []
    stats = train_policy(small_policy(), obs, labels, cfg, device='cpu', on_progress=seen.append)
    assert stats.epochs_run < 2000 and len(seen) == stats.epochs_run
    assert stats.best_epoch <= stats.epochs_run - cfg.patience
    assert stats.val_loss == pytest.approx(min(row['val_loss'] for row in seen))


def test_progress_reports_every_epoch(rng):
    obs, labels = task(rng, 300)
    seen = []
    cfg = TrainConfig(epochs=4, patience=10, max_updates=None, lr_schedule='constant')
    train_policy(small_policy(2), obs, labels, cfg, device='cpu', on_progress=seen.append)
    assert [(row['member'], row['epoch']) for row in seen] == [
        (m, e) for m in (0, 1) for e in (1, 2, 3, 4)]
    assert all(row['lr'] == cfg.lr and np.isfinite(row['val_loss']) for row in seen)


def test_max_updates_caps_the_gradient_steps(rng):
    obs, labels = task(rng, 1000)
    stats = train_policy(small_policy(), obs, labels,
                         TrainConfig(epochs=50, max_updates=7, batch_size=32), device='cpu')
    assert stats.updates == 7 and stats.epochs_run == 1


def test_warm_start_continues_and_cold_start_reinitializes(rng):
    obs, labels = task(rng)
    warm = small_policy()
    train_policy(warm, obs, labels, FAST, device='cpu')
    trained = weights(warm).clone()
    one_step = TrainConfig(epochs=1, max_updates=1, seed=0, val_fraction=0.0)
    train_policy(warm, obs, labels, one_step, device='cpu')
    assert (weights(warm) - trained).abs().max() < 0.05  # one small step away
    cold = dataclasses.replace(one_step, warm_start=False)
    train_policy(warm, obs, labels, cold, device='cpu')
    assert (weights(warm) - trained).abs().max() > 0.1  # back near a fresh initialization
    assert warm.version == 3 and all(member.version == 3 for member in warm.members)


def test_ema_changes_the_result(rng):
    obs, labels = task(rng)
    plain, averaged = small_policy(), small_policy()
    train_policy(plain, obs, labels, FAST, device='cpu')
    stats = train_policy(averaged, obs, labels, dataclasses.replace(FAST, ema_decay=0.99),
                         device='cpu')
    assert not torch.equal(weights(plain), weights(averaged))
    assert stats.val_loss < 0.1


@pytest.mark.parametrize('schedule, update, expected', [
    ('constant', 90, 1.0), ('cosine', 0, 1.0), ('cosine', 50, 0.5), ('cosine', 100, 0.0),
    ('step', 0, 1.0), ('step', 34, 0.1), ('step', 67, 0.01), ('step', 100, 0.01),
])
def test_lr_schedules_at_their_edges(schedule, update, expected):
    assert lr_factor(schedule, update, 100) == pytest.approx(expected, abs=1e-12)


def test_classifier_learns_a_separable_rule(rng):
    obs = rng.normal(size=(2000, 4))
    targets = obs[:, 0] + obs[:, 1] > 0.5
    clf = SafetyClassifier(SPEC, (32, 32))
    train_classifier(clf, obs, targets, FAST, device='cpu')
    test = rng.normal(size=(1000, 4))
    accuracy = np.mean((clf.prob_unsafe(test) > 0.5) == (test[:, 0] + test[:, 1] > 0.5))
    assert accuracy > 0.9 and clf.version == 1


@pytest.mark.parametrize('balanced', [True, False])
def test_balanced_classifier_flags_a_rare_noisy_unsafe_region(rng, balanced):
    # unsafe only where obs[0] > 0.7 (about 24%), and there only 3 times in 10: 7% unsafe
    obs = rng.normal(size=(3000, 4))
    risky = obs[:, 0] > 0.7
    targets = risky & (rng.random(3000) < 0.3)
    clf = SafetyClassifier(SPEC, (32, 32))
    if balanced:
        assert clf.balance_classes(targets) == pytest.approx((~targets).sum() / targets.sum())
    train_classifier(clf, obs, targets, FAST, device='cpu')
    test = rng.normal(size=(2000, 4))
    flagged = clf.prob_unsafe(test) > 0.5
    inside = test[:, 0] > 1.0
    outside = test[:, 0] < 0.3
    if balanced:  # the region is flagged, the rest is not
        assert flagged[inside].mean() > 0.8 and flagged[outside].mean() < 0.1
    else:  # fitted to the 7% prior, the net is never sure enough to flag anything
        assert flagged.mean() < 0.05


def test_class_balance_without_both_classes_is_neutral():
    clf = SafetyClassifier(SPEC, (8,))
    assert clf.balance_classes(np.zeros(10, dtype=bool)) == 1.0
    assert clf.balance_classes(np.ones(10, dtype=bool)) == 1.0


def test_bad_training_data_is_refused(rng):
    obs, labels = task(rng, 50)
    with pytest.raises(InputError, match='got 50 observations and 49 targets'):
        train_policy(small_policy(), obs, labels[:49], FAST, device='cpu')
    with pytest.raises(InputError, match=r'training observations has shape \(50, 3\)'):
        train_policy(small_policy(), obs[:, :3], labels, FAST, device='cpu')
    labels[3, 1] = np.nan
    with pytest.raises(InputError, match='training labels has non-finite'):
        train_policy(small_policy(), obs, labels, FAST, device='cpu')
    with pytest.raises(InputError, match='must be booleans'):
        train_classifier(SafetyClassifier(SPEC, (8,)), obs, np.full(50, 0.5), FAST, 'cpu')


@pytest.mark.parametrize('changes, pattern', [
    ({'lr': 0.0}, 'lr must be > 0'), ({'lr_schedule': 'warm'}, 'lr_schedule must be one of'),
    ({'val_fraction': 0.95}, 'val_fraction must lie in'), ({'batch_size': 0}, 'batch_size must'),
    ({'ema_decay': 1.0}, r'ema_decay must lie in \[0, 1\)'),
    ({'max_updates': 0}, 'max_updates must be >= 1 or None, got 0'),
    ({'weight_decay': -1.0}, 'weight_decay must be >= 0'),
    ({'grad_clip': 0.0}, 'grad_clip must be > 0 or None'), ({'seed': -1}, 'seed must be >= 0'),
])
def test_bad_train_config(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig(**changes)
