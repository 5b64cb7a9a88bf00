"""Checkpoints: round trips, and clear refusals of corrupt, foreign or pickled files."""

import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import save_file
import torch

from dagger_ros.core.checkpoint import (
    load_checkpoint, policy_from_bytes, policy_to_bytes, save_checkpoint)
from dagger_ros.core.errors import CheckpointError, SpecMismatchError
from dagger_ros.core.policies import make_policy, MLPPolicy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))


@pytest.fixture
def saved(tmp_path, rng):
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(16, 16), ensemble_size=2))
    for member in policy.members:  # non-default statistics must survive the trip too
        member.fit_normalization(rng.normal(2.0, 3.0, (50, 3)), rng.uniform(-1, 2, (50, 1)))
    policy.version = 7
    path = save_checkpoint(tmp_path / 'policy-v000007', policy, {'round': 3})
    return policy, path


def rewrite_with_matching_hash(path, data):
    """Replace the tensor file and fix its hash in the JSON, as a careful forger would."""
    path.write_bytes(data)
    meta_path = path.with_suffix('.json')
    meta = json.loads(meta_path.read_text())
    meta['sha256'] = hashlib.sha256(data).hexdigest()
    meta_path.write_text(json.dumps(meta))


def test_round_trip_gives_identical_actions(saved, rng):
    policy, path = saved
    loaded, meta = load_checkpoint(path, expected_spec=SPEC)
    obs = rng.normal(size=(20, 3))
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))
    np.testing.assert_array_equal(loaded.act_with_doubt(obs)[1], policy.act_with_doubt(obs)[1])
    assert loaded.version == 7 and meta['extra'] == {'round': 3} and meta['kind'] == 'ensemble'
    assert meta['spec'] == SPEC.to_dict() and meta['shape']['hidden_sizes'] == [16, 16]
    assert sorted(path.parent.iterdir()) == [path.with_suffix('.json'), path]  # no temp files


@pytest.mark.parametrize('name', ['policy-v000007', 'policy-v000007.json',
                                  'policy-v000007.safetensors'])
def test_the_stem_or_either_file_names_the_checkpoint(saved, name):
    _, path = saved
    assert load_checkpoint(path.parent / name)[0].version == 7


def test_mlp_and_classifier_round_trips(tmp_path, rng):
    obs = rng.normal(size=(5, 3))
    mlp = MLPPolicy(SPEC, PolicyConfig(hidden_sizes=(8,), activation='tanh'))
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / 'mlp', mlp), kind='policy')
    assert meta['kind'] == 'policy' and isinstance(loaded, MLPPolicy)
    np.testing.assert_array_equal(loaded.act(obs), mlp.act(obs))
    clf = SafetyClassifier(SPEC, (8,))
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / 'safety', clf), kind='classifier')
    assert meta['kind'] == 'classifier'
    np.testing.assert_array_equal(loaded.prob_unsafe(obs), clf.prob_unsafe(obs))


def test_wrong_kind_is_refused(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="holds 'ensemble', expected 'classifier'"):
        load_checkpoint(path, kind='classifier')


def test_corrupt_byte_is_a_hash_mismatch(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match='SHA-256 hash mismatch'):
        load_checkpoint(path)


def test_truncated_file_is_refused(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='hash mismatch.*truncated'):
        load_checkpoint(path)
    rewrite_with_matching_hash(path, data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='unreadable tensor data'):
        load_checkpoint(path)


def test_missing_and_garbled_files(saved, tmp_path):
    _, path = saved
    with pytest.raises(CheckpointError, match='nothing.safetensors does not exist'):
        load_checkpoint(tmp_path / 'nothing')
    path.with_suffix('.json').write_text('[1, 2]')
    with pytest.raises(CheckpointError, match="not a dagger_ros checkpoint .*'list'"):
        load_checkpoint(path)
    path.with_suffix('.json').write_text('{not json')
    with pytest.raises(CheckpointError, match='not valid JSON'):
        load_checkpoint(path)
    path.with_suffix('.json').unlink()
    with pytest.raises(CheckpointError, match=r'policy-v000007.json does not exist'):
        load_checkpoint(path)


def test_foreign_tensors_are_refused(saved):
    _, path = saved
    save_file({'encoder.weight': torch.zeros(4, 4)}, str(path))
    rewrite_with_matching_hash(path, path.read_bytes())
    with pytest.raises(CheckpointError, match=r"missing \['members.*unexpected \['encoder"):
        load_checkpoint(path)


def test_metadata_claiming_a_huge_network_costs_no_memory(saved):
    """Shapes are compared on the meta device: a 10^10-wide claim is refused, not allocated."""
    _, path = saved
    meta_path = path.with_suffix('.json')
    meta = json.loads(meta_path.read_text())
    meta['shape']['hidden_sizes'] = [10 ** 10]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='a foreign file'):
        load_checkpoint(path)


def test_checkpoint_for_another_env_is_a_spec_mismatch(saved):
    _, path = saved
    other = EnvSpec('InvertedDoublePendulum-v5', 9, 1, (-1.0,), (1.0,))
    with pytest.raises(SpecMismatchError, match='made for Pendulum-v1 .* uses Inverted'):
        load_checkpoint(path, expected_spec=other)


class _Boom:
    """Unpickling this creates the marker file: proof that the bytes were executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_a_pickle_is_never_executed(saved, tmp_path):
    # GIVEN a pickle posing as the tensor file, with its hash fixed up in the JSON so the
    # loader gets past the integrity check and hands the bytes to the parser
    _, path = saved
    marker = tmp_path / 'pwned'
    rewrite_with_matching_hash(path, pickle.dumps(_Boom(marker)))
    # WHEN loaded THEN it is refused as unreadable and nothing ran
    with pytest.raises(CheckpointError, match='unreadable tensor data'):
        load_checkpoint(path)
    assert not marker.exists()


def test_bytes_round_trip_and_tampering():
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(8,)))
    policy.version = 4
    data, meta = policy_to_bytes(policy, {'labels': 10})
    meta = json.loads(json.dumps(meta))  # as it arrives over the wire
    loaded, _ = policy_from_bytes(data, meta, expected_spec=SPEC)
    np.testing.assert_array_equal(loaded.act(np.ones(3)), policy.act(np.ones(3)))
    assert loaded.version == 4 and meta['extra'] == {'labels': 10}
    with pytest.raises(CheckpointError, match='hash mismatch'):
        policy_from_bytes(data[:-1] + b'\x00', meta)
    with pytest.raises(CheckpointError, match='not a dagger_ros checkpoint'):
        policy_from_bytes(data, {'format': 'other'})
    with pytest.raises(CheckpointError, match="unknown kind 'robot'"):
        policy_from_bytes(data, {**meta, 'kind': 'robot'})
    with pytest.raises(SpecMismatchError, match='received weights was made for Pendulum-v1'):
        policy_from_bytes(data, meta, expected_spec=EnvSpec('other', 3, 1, (-1.0,), (1.0,)))


def test_saving_something_else_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match='cannot save a Linear'):
        save_checkpoint(tmp_path / 'x', torch.nn.Linear(2, 2))


def test_after_warm_up_the_first_weights_import_nothing():
    # A fresh interpreter: what the first bundle costs a control process that warmed up.
    script = """
import sys
from dagger_ros.core.bundle import pack_bundle, unpack_bundle
from dagger_ros.core.checkpoint import warm_up
from dagger_ros.core.policies import make_policy, PolicyConfig
from dagger_ros.core.spec import EnvSpec
spec = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
data, fields = pack_bundle({'policy': make_policy(spec, PolicyConfig(hidden_sizes=(8,)))})
warm_up()
before = set(sys.modules)
unpack_bundle(data, fields, spec)
print(sorted(set(sys.modules) - before))
"""
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'
