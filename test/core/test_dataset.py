"""The aggregated dataset: round trips, provenance, spaces, crash safety, no pickle."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st

from dagger_ros.core.dataset import Dataset, load_demonstrations
from dagger_ros.core.errors import DatasetError, InputError, SpecMismatchError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
OTHER = EnvSpec('InvertedDoublePendulum-v5', 9, 1, (-1.0,), (1.0,))


def fill(ds, n, reason='beta_expert', round_index=0):
    obs = np.arange(n * 3, dtype=float).reshape(n, 3)
    ds.append(obs, np.full((n, 1), 0.5), np.full((n, 1), -0.5), actor=Source.POLICY,
              labeler=Source.EXPERT, reason=reason, round=round_index, episode=np.arange(n),
              step=7, policy_version=3, time=123.0, doubt=0.25, event=Event.INTERVENTION_END)
    return obs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 40), reason=st.sampled_from(['takeover', 'safety', 'demo']))
def test_every_field_round_trips(tmp_path_factory, n, reason):
    path = tmp_path_factory.mktemp('ds')
    with Dataset.create(path, SPEC) as ds:
        obs = fill(ds, n, reason)
    with Dataset.open(path, SPEC) as ds:
        data = ds.arrays()
        assert len(ds) == n
        np.testing.assert_array_equal(data['obs'], obs.astype(np.float32))
        assert np.all(data['label'] == 0.5) and np.all(data['action'] == -0.5)
        assert np.all(data['actor'] == Source.POLICY) and np.all(data['labeler'] == Source.EXPERT)
        assert [ds.reason_names[c] for c in data['reason']] == [reason] * n
        np.testing.assert_array_equal(data['episode'], np.arange(n))
        assert np.all(data['step'] == 7) and np.all(data['policy_version'] == 3)
        assert np.all(data['time'] == 123.0) and np.all(data['doubt'] == 0.25)
        assert np.all(data['event'] == Event.INTERVENTION_END)


def test_single_samples_and_reason_table_survive_reopen(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        for i, reason in enumerate(['takeover', 'handback', 'takeover']):
            ds.append(np.ones(3) * i, np.zeros(1), actor=Source.HUMAN, labeler=Source.HUMAN,
                      reason=reason, round=1, episode=0, step=i)
    with Dataset.open(tmp_path / 'ds') as ds:
        assert ds.reason_names == ['takeover', 'handback']
        assert ds.arrays()['reason'].tolist() == [0, 1, 0]
        assert ds.stats()['by_reason'] == {'takeover': 2, 'handback': 1}


def test_other_env_is_refused_and_missing_or_garbage_is_clear(tmp_path):
    Dataset.create(tmp_path / 'ds', SPEC).close()
    with pytest.raises(SpecMismatchError, match='made for Pendulum-v1'):
        Dataset.open(tmp_path / 'ds', OTHER)
    with pytest.raises(DatasetError, match='not a dagger_ros dataset'):
        Dataset.open(tmp_path / 'nothing')
    (tmp_path / 'ds' / 'meta.json').write_text('[1, 2')
    with pytest.raises(DatasetError, match='not valid JSON'):
        Dataset.open(tmp_path / 'ds')


def test_bad_samples_are_refused(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        with pytest.raises(InputError, match=r'shape \(4,\), expected \(3,\)'):
            ds.append(np.zeros(4), np.zeros(1), actor=1, labeler=2, reason='x', round=0,
                      episode=0, step=0)
        with pytest.raises(InputError, match='label has non-finite'):
            ds.append(np.zeros(3), np.array([np.nan]), actor=1, labeler=2, reason='x', round=0,
                      episode=0, step=0)
        assert len(ds) == 0


def test_torn_tail_is_dropped_and_the_rest_kept(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
    records = tmp_path / 'ds' / 'records.bin'
    size = records.stat().st_size
    os.truncate(records, size - 17)  # half of the last record is gone
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 9
        fill(ds, 2)
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 11
        ds.verify()


def test_garbage_last_record_is_dropped_but_middle_corruption_is_an_error(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
        itemsize = ds._log.dtype.itemsize
    records = tmp_path / 'ds' / 'records.bin'
    data = bytearray(records.read_bytes())
    data[-itemsize + 5] ^= 0xFF
    records.write_bytes(bytes(data))
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 9
    data = bytearray(records.read_bytes())
    data[3 * itemsize + 5] ^= 0xFF
    records.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match='record 3 of 9 fails its checksum'):
        Dataset.open(tmp_path / 'ds', SPEC)


CHILD = '''
import sys
import numpy as np
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.spec import EnvSpec
ds = Dataset.create(sys.argv[1], EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,)))
count = 0
while True:
    ds.append(np.ones((50, 3)), np.zeros((50, 1)), actor=1, labeler=2, reason='beta',
              round=0, episode=0, step=np.arange(50))
    ds.flush(fsync=False)
    count += 50
    print(count, flush=True)
'''


def test_sigkill_mid_append_loses_nothing_flushed(tmp_path):
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(tmp_path / 'ds')],
                             stdout=subprocess.PIPE, text=True)
    flushed = 0
    deadline = time.monotonic() + 60
    while flushed < 5000 and time.monotonic() < deadline:
        flushed = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) >= flushed
        ds.verify()
        assert np.all(ds.arrays()['obs'] == 1.0)


def test_reader_sees_only_committed_samples(tmp_path):
    writer = Dataset.create(tmp_path / 'ds', SPEC)
    fill(writer, 5)
    writer.flush()
    reader = Dataset.open(tmp_path / 'ds', SPEC, writable=False)
    assert len(reader.arrays()['obs']) == 5
    fill(writer, 3)
    writer.flush()
    assert len(reader.arrays()['obs']) == 8
    writer.close()


def test_reading_back_never_unpickles(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError('unpickling attempted')
    monkeypatch.setattr(pickle, 'load', refuse)
    monkeypatch.setattr(pickle, 'loads', refuse)
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 3)
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds.arrays()['obs']) == 3
    np.savez(tmp_path / 'demos.npz', obs=np.zeros((2, 3)), actions=np.zeros((2, 1)))
    assert load_demonstrations(tmp_path / 'demos.npz', SPEC)[0].shape == (2, 3)


def test_load_demonstrations_from_npz_and_dataset(tmp_path):
    obs = np.random.default_rng(0).normal(size=(20, 3))
    np.savez(tmp_path / 'demos.npz', obs=obs, actions=np.zeros((20, 1)))
    got_obs, got_actions = load_demonstrations(tmp_path / 'demos.npz', SPEC)
    np.testing.assert_allclose(got_obs, obs)
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 4)
    assert load_demonstrations(tmp_path / 'ds', SPEC)[0].shape == (4, 3)
    np.savez(tmp_path / 'bad.npz', observations=obs)
    with pytest.raises(DatasetError, match='expected an .npz with arrays obs and actions'):
        load_demonstrations(tmp_path / 'bad.npz', SPEC)
    with pytest.raises(SpecMismatchError):
        load_demonstrations(tmp_path / 'ds', OTHER)
