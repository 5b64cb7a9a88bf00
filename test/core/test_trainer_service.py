"""Background retraining: never blocks, hands out each new version once, survives failures."""

import time

import numpy as np

from dagger_ros.core.checkpoint import policy_from_bytes
from dagger_ros.core.policies import make_policy, PolicyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.trainer_service import BackgroundTrainer
from dagger_ros.core.training import TrainConfig

SPEC = EnvSpec('toy', 3, 1, (-1.0,), (1.0,))


def data(n, rng):
    obs = rng.normal(size=(n, 3))
    return obs, np.tanh(obs[:, :1] - obs[:, 1:2])


def wait_for(trainer, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = trainer.poll()
        if version is not None:
            return version
        time.sleep(0.01)
    raise AssertionError('no version within the deadline')


def test_retrains_only_after_enough_new_labels_and_versions_increase(rng, tmp_path):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(32, 32)))
    trainer = BackgroundTrainer(policy, TrainConfig(epochs=20, seed=0), min_new_labels=100,
                                checkpoint_dir=tmp_path, device='cpu')
    obs, labels = data(99, rng)
    assert not trainer.maybe_start(obs, labels)  # 99 < 100 new labels
    obs, labels = data(300, rng)
    assert trainer.maybe_start(obs, labels)
    assert not trainer.maybe_start(obs, labels)  # one retraining at a time
    first = wait_for(trainer)
    assert trainer.poll() is None  # handed out once
    assert first.labels == 300 and first.version == policy.version + 1
    assert not trainer.maybe_start(obs, labels)  # nothing new since
    more_obs, more_labels = data(450, rng)
    assert trainer.maybe_start(more_obs, more_labels)
    second = wait_for(trainer)
    assert second.version == first.version + 1
    received, _ = policy_from_bytes(second.weights, second.meta, expected_spec=SPEC)
    np.testing.assert_allclose(received.act(more_obs[:5]), trainer.policy.act(more_obs[:5]))
    assert (tmp_path / f'policy-v{second.version:06d}.safetensors').exists()
    trainer.shutdown()


def test_live_policy_is_not_modified_while_training(rng):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(32, 32)))
    obs, labels = data(300, rng)
    before = policy.act(obs[:5]).copy()
    trainer = BackgroundTrainer(policy, TrainConfig(epochs=20, seed=0), min_new_labels=10,
                                device='cpu')
    trainer.maybe_start(obs, labels)
    wait_for(trainer)
    np.testing.assert_array_equal(policy.act(obs[:5]), before)
    trainer.shutdown()


def test_a_failed_retraining_is_logged_and_the_next_one_runs(rng, caplog):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(32, 32)))
    trainer = BackgroundTrainer(policy, TrainConfig(epochs=5, seed=0), min_new_labels=1,
                                device='cpu')
    obs, labels = data(50, rng)
    bad = labels.copy()
    bad[0] = np.nan
    trainer.maybe_start(obs, bad)
    deadline = time.monotonic() + 30
    while trainer.is_training and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trainer.poll() is None
    assert 'retraining failed' in caplog.text
    assert trainer.maybe_start(obs, labels)
    assert wait_for(trainer).version == policy.version + 1
    trainer.shutdown()
