"""Checkpoints: round trip, and clear refusals of corrupt, foreign or pickled files."""

import json
import pickle

import numpy as np
import pytest
from safetensors.torch import save_file
import torch

from dagger_ros.core.checkpoint import (
    load_checkpoint, policy_from_bytes, policy_to_bytes, save_checkpoint)
from dagger_ros.core.errors import CheckpointError, SpecMismatchError
from dagger_ros.core.policies import make_policy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))


@pytest.fixture
def saved(tmp_path):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(16, 16), ensemble_size=2))
    policy.version = 7
    path = save_checkpoint(tmp_path / 'policy-v000007', policy, {'round': 3})
    return policy, path


def test_round_trip_gives_identical_actions(saved, rng):
    policy, path = saved
    loaded, meta = load_checkpoint(path, expected_spec=SPEC)
    obs = rng.normal(size=(20, 3))
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))
    assert loaded.version == 7 and meta['extra'] == {'round': 3}
    assert load_checkpoint(path.with_suffix(''))[0].version == 7  # the stem works too


def test_classifier_round_trip(tmp_path, rng):
    clf = SafetyClassifier(SPEC, (8,))
    path = save_checkpoint(tmp_path / 'safety', clf)
    loaded, meta = load_checkpoint(path)
    assert meta['kind'] == 'classifier'
    obs = rng.normal(size=(5, 3))
    np.testing.assert_array_equal(loaded.prob_unsafe(obs), clf.prob_unsafe(obs))


def test_corrupt_byte_is_a_hash_mismatch(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match='SHA-256 hash mismatch'):
        load_checkpoint(path)


def test_missing_and_garbled_files(saved, tmp_path):
    _, path = saved
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'nothing')
    path.with_suffix('.json').write_text('{not json')
    with pytest.raises(CheckpointError, match='not valid JSON'):
        load_checkpoint(path)


def test_foreign_tensors_are_refused(saved):
    _, path = saved
    meta = json.loads(path.with_suffix('.json').read_text())
    save_file({'encoder.weight': torch.zeros(4, 4)}, str(path))
    import hashlib
    meta['sha256'] = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_suffix('.json').write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='a foreign file'):
        load_checkpoint(path)


def test_checkpoint_for_another_env_is_a_spec_mismatch(saved):
    _, path = saved
    other = EnvSpec('InvertedDoublePendulum-v5', 9, 1, (-1.0,), (1.0,))
    with pytest.raises(SpecMismatchError, match='made for Pendulum-v1 .* uses Inverted'):
        load_checkpoint(path, expected_spec=other)


class _Boom:
    def __reduce__(self):
        return (open, ('/tmp/dagger_ros_pwned', 'w'))


def test_a_pickle_is_never_executed(saved, tmp_path):
    _, path = saved
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not (tmp_path / 'dagger_ros_pwned').exists()
    import os
    assert not os.path.exists('/tmp/dagger_ros_pwned')


def test_bytes_round_trip_and_tampering(rng):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(8,)))
    data, meta = policy_to_bytes(policy)
    loaded, _ = policy_from_bytes(data, meta, expected_spec=SPEC)
    np.testing.assert_array_equal(loaded.act(np.ones(3)), policy.act(np.ones(3)))
    with pytest.raises(CheckpointError, match='hash mismatch'):
        policy_from_bytes(data[:-1] + b'\x00', meta)
    with pytest.raises(CheckpointError, match='not a dagger_ros checkpoint'):
        policy_from_bytes(data, {'format': 'other'})
