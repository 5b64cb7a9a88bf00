"""The aggregated dataset: round trips, provenance, spaces, crash safety, no pickle."""

import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from dagger_ros.core import dataset as dataset_module
from dagger_ros.core.dataset import Dataset, FIELDS, load_demonstrations
from dagger_ros.core.errors import DatasetError, InputError, SpecMismatchError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
OTHER = EnvSpec('InvertedDoublePendulum-v5', 9, 1, (-1.0,), (1.0,))
REASONS = ['beta', 'takeover', 'safety', 'novelty', 'budget', 'demo']


def fill(ds, n, reason='beta', round_index=0):
    """Append n samples with every field set to something recognizable."""
    obs = np.arange(n * 3, dtype=float).reshape(n, 3)
    ds.append(obs, np.full((n, 1), 0.5), np.full((n, 1), -0.5), actor=Source.POLICY,
              labeler=Source.EXPERT, reason=reason, round=round_index, episode=np.arange(n),
              step=7, policy_version=3, time=123.0, doubt=0.25, event=Event.INTERVENTION_END)
    return obs


def random_batch(rng, n):
    """Per-sample values of every field, as the dataset should give them back."""
    return {
        'obs': rng.normal(size=(n, 3)).astype(np.float32),
        'label': rng.uniform(-2, 2, size=(n, 1)).astype(np.float32),
        'action': rng.uniform(-2, 2, size=(n, 1)).astype(np.float32),
        'actor': rng.choice([int(s) for s in Source], n).astype(np.uint8),
        'labeler': rng.choice([int(s) for s in Source], n).astype(np.uint8),
        'round': rng.integers(0, 50, n, dtype=np.int32),
        'episode': rng.integers(-1, 10**6, n, dtype=np.int32),
        'step': rng.integers(-1, 10**6, n, dtype=np.int32),
        'policy_version': rng.integers(0, 10**4, n, dtype=np.int32),
        'time': rng.uniform(0, 2e9, n),
        'doubt': np.where(rng.random(n) < 0.3, np.nan, rng.random(n)).astype(np.float32),
        'event': rng.choice([int(e) for e in Event], n).astype(np.uint8),
    }


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
       reasons=st.lists(st.sampled_from(REASONS), min_size=4, max_size=4))
def test_every_field_round_trips_through_disk(tmp_path_factory, seed, sizes, reasons):
    # GIVEN random batches (and single samples) with per-sample provenance
    rng = np.random.default_rng(seed)
    path = tmp_path_factory.mktemp('ds')
    batches = [random_batch(rng, n) for n in sizes]
    with Dataset.create(path, SPEC) as ds:
        for batch, reason in zip(batches, reasons):
            obs = batch['obs'][0] if len(batch['obs']) == 1 else batch['obs']
            ds.append(obs, **{k: v for k, v in batch.items() if k != 'obs'}, reason=reason)
    # WHEN the dataset is reopened
    with Dataset.open(path, SPEC, writable=False) as ds:
        data = ds.arrays()
        names = ds.reason_names
    # THEN every field of every sample comes back exactly
    assert set(data) == set(FIELDS)
    for key in random_batch(rng, 1):
        np.testing.assert_array_equal(data[key], np.concatenate([b[key] for b in batches]),
                                      err_msg=key)
    expected = [r for b, r in zip(batches, reasons) for _ in range(len(b['obs']))]
    assert [names[code] for code in data['reason']] == expected
    assert data['obs'].dtype == np.float32 and data['obs'].flags['C_CONTIGUOUS']


def test_defaults_scalars_and_slices(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        before = time.time()
        ds.append(np.ones(3), np.array([0.5]), actor=Source.EXPERT, labeler=Source.EXPERT,
                  reason='demo', round=0, episode=2, step=5)
        fill(ds, 4)
        assert len(ds) == 5
        data = ds.arrays()
        assert data['action'][0] == 0.5  # the executed action defaults to the label
        assert before <= data['time'][0] <= time.time()
        assert np.isnan(data['doubt'][0]) and data['event'][0] == Event.NONE
        assert data['policy_version'][0] == 0
        np.testing.assert_array_equal(ds.arrays(1, 3)['episode'], [0, 1])
        np.testing.assert_array_equal(ds.arrays(-2)['episode'], [2, 3])
        assert len(ds.arrays(4, 2)['obs']) == 0


def test_reopen_appends_after_existing_samples(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 3, round_index=0)
    with Dataset.open_or_create(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 3
        fill(ds, 2, round_index=1)
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert ds.arrays()['round'].tolist() == [0, 0, 0, 1, 1]
        assert ds.stats()['by_round'] == {0: 3, 1: 2}
        ds.verify()


def test_reason_table_grows_and_survives_reopen(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        for i, reason in enumerate(['takeover', 'safety', 'takeover']):
            ds.append(np.ones(3) * i, np.zeros(1), actor=Source.HUMAN, labeler=Source.HUMAN,
                      reason=reason, round=1, episode=0, step=i)
    with Dataset.open(tmp_path / 'ds') as ds:
        assert ds.reason_names == ['takeover', 'safety']
        assert ds.arrays()['reason'].tolist() == [0, 1, 0]
        fill(ds, 1, reason='novelty')
    with Dataset.open(tmp_path / 'ds') as ds:
        assert ds.reason_names == ['takeover', 'safety', 'novelty']
        assert ds.stats()['by_reason'] == {'takeover': 2, 'safety': 1, 'novelty': 1}


def test_stats_count_provenance(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 3)
        ds.append(np.zeros(3), np.zeros(1), actor=Source.HUMAN, labeler=Source.HUMAN,
                  reason='takeover', round=2, episode=0, step=0)
        stats = ds.stats()
    assert stats == {'samples': 4, 'by_actor': {'POLICY': 3, 'HUMAN': 1},
                     'by_labeler': {'EXPERT': 3, 'HUMAN': 1},
                     'by_reason': {'beta': 3, 'takeover': 1}, 'by_round': {0: 3, 2: 1},
                     'rounds': [0, 2]}


def test_tensors_are_float32_obs_and_labels(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        obs = fill(ds, 6)
        obs_t, label_t = ds.tensors('cpu')
    assert str(obs_t.dtype) == 'torch.float32' and tuple(label_t.shape) == (6, 1)
    np.testing.assert_array_equal(obs_t.numpy(), obs.astype(np.float32))


def test_another_env_is_refused(tmp_path):
    Dataset.create(tmp_path / 'ds', SPEC).close()
    with pytest.raises(SpecMismatchError, match='the dataset at .* was made for Pendulum-v1'):
        Dataset.open(tmp_path / 'ds', OTHER)
    with pytest.raises(SpecMismatchError):
        Dataset.open_or_create(tmp_path / 'ds', OTHER)
    with pytest.raises(DatasetError, match='already exists'):
        Dataset.create(tmp_path / 'ds', OTHER)


@pytest.mark.parametrize('meta, match', [
    (None, 'not a dagger_ros dataset'),
    ('[1, 2', 'not valid JSON'),
    ('{"format": "something.else"}', 'not a dagger_ros.dataset file'),
    ('{"format": "dagger_ros.dataset", "version": 99}', 'format version 99'),
    ('{"format": "dagger_ros.dataset", "version": 2, "spec": {"obs_dim": 3}}', 'no valid spaces'),
])
def test_missing_or_garbage_meta_is_a_clear_error(tmp_path, meta, match):
    (tmp_path / 'ds').mkdir()
    if meta is not None:
        (tmp_path / 'ds' / 'meta.json').write_text(meta)
    with pytest.raises(DatasetError, match=match):
        Dataset.open(tmp_path / 'ds')


def test_missing_records_or_foreign_directory_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match='not a dagger_ros dataset'):
        Dataset.open(tmp_path / 'nothing')
    Dataset.create(tmp_path / 'ds', SPEC).close()
    (tmp_path / 'ds' / 'records.bin').unlink()
    with pytest.raises(DatasetError, match='no records.bin'):
        Dataset.open(tmp_path / 'ds')
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'notes.txt').write_text('mine')
    with pytest.raises(DatasetError, match='not empty and holds no dataset'):
        Dataset.create(tmp_path / 'other', SPEC)


@pytest.mark.parametrize('kwargs, match', [
    ({'obs': np.zeros(4)}, r'observation has shape \(4,\), expected \(3,\)'),
    ({'obs': np.array([0.0, np.nan, 0.0])}, 'observation has non-finite entries'),
    ({'label': np.array([np.inf])}, 'label has non-finite'),
    ({'action': np.zeros(2)}, r'executed action has shape \(2,\)'),
    ({'obs': np.zeros((2, 3))}, 'got 2 observations, 1 labels'),
    ({'actor': 7}, 'actor must be one of'),
    ({'round': 1.5}, 'round must be an integer'),
    ({'step': np.arange(2)}, r'step has shape \(2,\), expected a scalar or \(1,\)'),
    ({'time': float('nan')}, 'time must be finite'),
    ({'doubt': float('inf')}, 'doubt must be finite or NaN'),
    ({'reason': ''}, 'reason must be a word'),
    ({'episode': 2**40}, 'int32 range'),
])
def test_bad_samples_are_refused_and_nothing_is_stored(tmp_path, kwargs, match):
    sample = {'obs': np.zeros(3), 'label': np.zeros(1), 'action': None, 'actor': Source.POLICY,
              'labeler': Source.EXPERT, 'reason': 'beta', 'round': 0, 'episode': 0, 'step': 0}
    sample.update(kwargs)
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        with pytest.raises(InputError, match=match):
            ds.append(sample.pop('obs'), sample.pop('label'), sample.pop('action'), **sample)
        assert len(ds) == 0


def test_torn_tail_is_dropped_with_a_warning_and_the_rest_kept(tmp_path, caplog):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
        itemsize = ds._log.dtype.itemsize
    records = tmp_path / 'ds' / 'records.bin'
    os.truncate(records, 9 * itemsize + itemsize // 2)  # a kill in the middle of record 9
    with caplog.at_level(logging.WARNING):
        ds = Dataset.open(tmp_path / 'ds', SPEC)
    assert len(ds) == 9
    assert f'dropped a torn tail of {itemsize // 2} bytes' in caplog.text
    fill(ds, 2)
    ds.close()
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 11
        ds.verify()


def test_failing_trailing_records_are_dropped(tmp_path):
    """A power loss can leave whole unwritten (zeroed) or garbled records at the end."""
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
        itemsize = ds._log.dtype.itemsize
    records = tmp_path / 'ds' / 'records.bin'
    data = bytearray(records.read_bytes())
    data[-itemsize + 5] ^= 0xFF
    records.write_bytes(bytes(data) + bytes(2 * itemsize))
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 9
    assert records.stat().st_size == 9 * itemsize


def test_corruption_before_good_records_names_the_record(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
        itemsize = ds._log.dtype.itemsize
    records = tmp_path / 'ds' / 'records.bin'
    data = bytearray(records.read_bytes())
    data[3 * itemsize + 5] ^= 0xFF
    records.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match='record 3 of 10 fails its CRC32 check'):
        Dataset.open(tmp_path / 'ds', SPEC)
    with pytest.raises(DatasetError, match='record 3 of 10'):
        Dataset.open(tmp_path / 'ds', SPEC, writable=False)
    assert records.stat().st_size == 10 * itemsize  # nothing was cut


def test_verify_finds_corruption_an_open_does_not_look_at(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, 'TAIL_CHECK', 4)
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 10)
        itemsize = ds._log.dtype.itemsize
    records = tmp_path / 'ds' / 'records.bin'
    data = bytearray(records.read_bytes())
    data[1 * itemsize] ^= 0x01
    records.write_bytes(bytes(data))
    with Dataset.open(tmp_path / 'ds', SPEC, writable=False) as ds:
        assert len(ds) == 10
        with pytest.raises(DatasetError, match='record 1 of 10 fails its CRC32 check'):
            ds.verify()


def test_a_failed_write_leaves_no_half_batch_and_can_be_retried(tmp_path):
    class HalfThenFull:
        """Writes half of the first batch, then fails like a full disk."""

        def __init__(self, real):
            self.real, self.failed = real, False

        def write(self, data):
            if not self.failed:
                self.failed = True
                self.real.write(data[:len(data) // 2])
                raise OSError(28, 'No space left on device')
            return self.real.write(data)

        def __getattr__(self, name):
            return getattr(self.real, name)

    ds = Dataset.create(tmp_path / 'ds', SPEC)
    fill(ds, 4)
    ds.flush()
    ds._log._file = HalfThenFull(ds._log._file)
    fill(ds, 6)
    with pytest.raises(DatasetError, match='No space left on device.*flush again to retry'):
        ds.flush()
    assert (tmp_path / 'ds' / 'records.bin').stat().st_size == 4 * ds._log.dtype.itemsize
    ds.close()
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) == 10
        ds.verify()


CHILD = """
import sys
import numpy as np
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.spec import EnvSpec
ds = Dataset.create(sys.argv[1], EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,)))
count = 0
while True:
    for i in range(7):
        ds.append(np.full(3, count + i), np.zeros(1), actor=1, labeler=2, reason='beta',
                  round=0, episode=0, step=count + i)
    ds.append(np.ones((43, 3)), np.zeros((43, 1)), actor=1, labeler=2, reason='beta',
              round=0, episode=1, step=np.arange(43))
    ds.flush(fsync=False)
    count += 50
    print(count, flush=True)
"""


def test_sigkill_mid_append_loses_nothing_flushed(tmp_path):
    # GIVEN a child process appending and flushing in a loop, reporting what it flushed
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(tmp_path / 'ds')],
                             stdout=subprocess.PIPE, text=True)
    flushed, deadline = 0, time.monotonic() + 60
    try:
        while flushed < 3000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, f'the child exited early with {child.poll()}'
            flushed = int(line)
    finally:
        # WHEN it is killed without warning, most likely in the middle of an append
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    # THEN every record it reported flushed is back, and every record is intact
    with Dataset.open(tmp_path / 'ds', SPEC) as ds:
        assert len(ds) >= flushed
        ds.verify()
        steps = ds.arrays(0, flushed)['step']
    np.testing.assert_array_equal(steps[:7], np.arange(7))


def test_reader_sees_only_whole_committed_records(tmp_path):
    writer = Dataset.create(tmp_path / 'ds', SPEC)
    fill(writer, 5)
    writer.flush()
    reader = Dataset.open(tmp_path / 'ds', SPEC, writable=False)
    assert len(reader) == 5
    fill(writer, 3)
    assert len(reader) == 5  # still in the writer's buffer
    writer.flush(fsync=False)
    assert len(reader.arrays()['obs']) == 8
    with open(tmp_path / 'ds' / 'records.bin', 'ab') as f:
        f.write(b'\x01' * (writer._log.dtype.itemsize + 3))  # a write in progress
    assert len(reader) == 8
    writer.close()
    reader.close()


def test_auto_flush_every_n_samples(tmp_path):
    writer = Dataset.create(tmp_path / 'ds', SPEC)
    reader = Dataset.open(tmp_path / 'ds', SPEC, writable=False)
    for i in range(300):
        writer.append(np.zeros(3), np.zeros(1), actor=1, labeler=2, reason='beta', round=0,
                      episode=0, step=i)
    assert len(reader) == 256
    writer.close()
    assert len(reader) == 300


def test_a_second_writer_is_refused(tmp_path):
    with Dataset.create(tmp_path / 'ds', SPEC):
        with pytest.raises(DatasetError, match='already open for writing'):
            Dataset.open(tmp_path / 'ds', SPEC)
        Dataset.open(tmp_path / 'ds', SPEC, writable=False).close()
    Dataset.open(tmp_path / 'ds', SPEC).close()  # released on close


def test_a_million_samples_load_back(tmp_path):
    """Timings are in bench/bench_dataset.py; this checks the large path works."""
    n = 1_000_000
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        for start in range(0, n, 250_000):
            obs = np.arange(start, start + 250_000, dtype=float)[:, None].repeat(3, axis=1)
            ds.append(obs, np.zeros((250_000, 1)), actor=1, labeler=2, reason='beta',
                      round=start // 250_000, episode=0, step=np.arange(250_000), time=1.0)
    with Dataset.open(tmp_path / 'ds', SPEC, writable=False) as ds:
        data = ds.arrays()
    assert len(data['obs']) == n
    np.testing.assert_array_equal(data['obs'][::99_991, 2], np.arange(0, n, 99_991))
    assert np.bincount(data['round']).tolist() == [250_000] * 4


def test_nothing_is_unpickled(tmp_path, monkeypatch):
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
    np.savez(tmp_path / 'objects.npz', obs=np.array([{'a': 1}], dtype=object),
             actions=np.zeros((1, 1)))
    with pytest.raises(DatasetError, match='expected an .npz'):
        load_demonstrations(tmp_path / 'objects.npz', SPEC)
    source = Path(dataset_module.__file__).read_text()
    assert 'import pickle' not in source and 'allow_pickle=True' not in source


def test_load_demonstrations_from_npz_and_dataset(tmp_path):
    obs = np.random.default_rng(0).normal(size=(20, 3))
    np.savez(tmp_path / 'demos.npz', obs=obs, actions=np.zeros((20, 1)))
    got_obs, got_actions = load_demonstrations(tmp_path / 'demos.npz', SPEC)
    np.testing.assert_allclose(got_obs, obs)
    assert got_actions.shape == (20, 1) and got_actions.dtype == np.float64
    with Dataset.create(tmp_path / 'ds', SPEC) as ds:
        fill(ds, 4)
    got_obs, got_actions = load_demonstrations(tmp_path / 'ds', SPEC)
    assert got_obs.shape == (4, 3) and np.all(got_actions == 0.5)  # the labels, not actions


@pytest.mark.parametrize('arrays, error, match', [
    ({'observations': np.zeros((2, 3))}, DatasetError, 'expected an .npz with arrays obs'),
    ({'obs': np.zeros((2, 3)), 'actions': np.zeros((3, 1))}, DatasetError,
     '2 observations but 3 actions'),
    ({'obs': np.zeros((2, 4)), 'actions': np.zeros((2, 1))}, InputError,
     'demonstration observations has shape'),
])
def test_bad_demonstrations_are_refused(tmp_path, arrays, error, match):
    np.savez(tmp_path / 'bad.npz', **arrays)
    with pytest.raises(error, match=match):
        load_demonstrations(tmp_path / 'bad.npz', SPEC)


def test_demonstrations_for_another_env_or_missing_are_refused(tmp_path):
    Dataset.create(tmp_path / 'ds', SPEC).close()
    with pytest.raises(SpecMismatchError):
        load_demonstrations(tmp_path / 'ds', OTHER)
    with pytest.raises(DatasetError, match='do not exist'):
        load_demonstrations(tmp_path / 'none.npz', SPEC)


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04 not really a zip', b'\x93NUMPY garbage'])
def test_unreadable_demonstration_files_are_a_clear_error(tmp_path, content):
    (tmp_path / 'bad.npz').write_bytes(content)
    with pytest.raises(DatasetError, match='expected an .npz with arrays obs and actions'):
        load_demonstrations(tmp_path / 'bad.npz', SPEC)


def test_a_plain_npy_file_is_refused(tmp_path):
    np.save(tmp_path / 'obs.npy', np.zeros((2, 3)))
    with pytest.raises(DatasetError, match='expected an .npz'):
        load_demonstrations(tmp_path / 'obs.npy', SPEC)
