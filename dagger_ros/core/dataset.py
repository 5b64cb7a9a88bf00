"""The aggregated dataset: labeled samples with provenance, appended crash-safely to disk.

A dataset directory holds ``meta.json`` (spaces, record layout, reason words; replaced
atomically) and ``records.bin``: fixed-size records, each ending in a checksum of its bytes.
A process killed mid-append leaves at most a torn last record, which the next writer drops
(with a warning); a bad checksum anywhere else is corruption and raises DatasetError. Nothing
is pickled: records are plain numpy structured arrays, read with ``np.memmap``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from dagger_ros.core.errors import DatasetError, InputError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

log = logging.getLogger(__name__)
FORMAT = 'dagger_ros.dataset/1'
_SALT = np.uint64(0x9E3779B9)  # so an all-zero (never written) record fails its check
TAIL_CHECK = 1024


def padded_dtype(fields: list[tuple]) -> np.dtype:
    """Structured dtype with a trailing uint32 checksum, padded to whole 4-byte words."""
    size = np.dtype(fields).itemsize
    pad = (-size) % 4
    extra = [('_pad', 'u1', (pad,))] if pad else []
    return np.dtype(fields + extra + [('_check', '<u4')])


def _checksums(records: np.ndarray) -> np.ndarray:
    words = records.view(np.uint8).reshape(len(records), -1)[:, :-4].view('<u4')
    weights = np.arange(1, words.shape[1] + 1, dtype=np.uint64)
    total = (words.astype(np.uint64) * weights).sum(axis=1) + _SALT
    return (total & np.uint64(0xFFFFFFFF)).astype('<u4')


class AppendLog:
    """Fixed-size checksummed records appended to one file; the base of dataset and queue."""

    def __init__(self, path: Path, dtype: np.dtype, writable: bool = True) -> None:
        self.path, self.dtype, self.writable = Path(path), dtype, writable
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        if writable:
            self.path.touch(exist_ok=True)
        if not self.path.exists():
            raise DatasetError(f'record file {self.path} does not exist')
        self._committed = self._check_tail()
        self._file = open(self.path, 'ab') if writable else None

    def _check_tail(self) -> int:
        """Count good records; drop a torn tail when writable, refuse corruption elsewhere."""
        size = self.path.stat().st_size
        count = size // self.dtype.itemsize
        good = count
        if count:
            start = max(0, count - TAIL_CHECK)
            tail = np.fromfile(self.path, self.dtype, count - start, offset=start *
                               self.dtype.itemsize)
            bad = np.flatnonzero(_checksums(tail) != tail['_check'])
            if bad.size:
                good = start + int(bad[0])
                if good < count - 1:
                    raise DatasetError(f'{self.path}: record {good} of {count} fails its '
                                       'checksum and is not the last one: the file is corrupt')
        if good * self.dtype.itemsize != size:
            log.warning('%s: dropping a torn tail of %d bytes (%d whole records kept)',
                        self.path, size - good * self.dtype.itemsize, good)
            if self.writable:
                os.truncate(self.path, good * self.dtype.itemsize)
        return good

    def __len__(self) -> int:
        return self._committed + self._buffered

    def append(self, records: np.ndarray) -> None:
        """Buffer records (their checksums are filled in here)."""
        if not self.writable:
            raise DatasetError(f'{self.path} was opened read-only')
        records = np.array(records, dtype=self.dtype, copy=True)
        records['_check'] = _checksums(records)
        self._buffer.append(records)
        self._buffered += len(records)

    def flush(self, fsync: bool = True) -> None:
        """Write buffered records with one write call; fsync makes them survive power loss."""
        if not self._buffer or self._file is None:
            return
        self._file.write(np.concatenate(self._buffer).tobytes())
        self._file.flush()
        if fsync:
            os.fsync(self._file.fileno())
        self._committed += self._buffered
        self._buffer, self._buffered = [], 0

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Committed records [start, stop) as a read-only memory map (a copy when empty)."""
        self.flush(fsync=False)
        # a reader re-checks the tail: a writer may be appending right now
        count = self._committed if self.writable else self._check_tail()
        stop = count if stop is None else min(stop, count)
        if stop <= start:
            return np.zeros(0, self.dtype)
        return np.memmap(self.path, self.dtype, 'r', offset=start * self.dtype.itemsize,
                         shape=(stop - start,))

    def verify(self, chunk: int = 1_000_000) -> None:
        """Check every record's checksum; raise DatasetError naming the first bad one."""
        records = self.read()
        for start in range(0, len(records), chunk):
            part = records[start:start + chunk]
            bad = np.flatnonzero(_checksums(part) != part['_check'])
            if bad.size:
                raise DatasetError(f'{self.path}: record {start + int(bad[0])} fails its checksum')

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def sample_dtype(spec: EnvSpec) -> np.dtype:
    """The record layout of one labeled sample for these spaces."""
    return padded_dtype([('obs', '<f4', (spec.obs_dim,)), ('label', '<f4', (spec.act_dim,)),
                    ('action', '<f4', (spec.act_dim,)), ('time', '<f8'), ('round', '<i4'),
                    ('episode', '<i4'), ('step', '<i4'), ('policy_version', '<i4'),
                    ('doubt', '<f4'), ('reason', '<u2'), ('actor', 'u1'), ('labeler', 'u1'),
                    ('event', 'u1')])


FIELDS = ('obs', 'label', 'action', 'actor', 'labeler', 'reason', 'round', 'episode', 'step',
          'policy_version', 'time', 'doubt', 'event')


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / 'meta.json'
    if not meta_path.is_file():
        raise DatasetError(f'{path} is not a dagger_ros dataset (no meta.json)')
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f'{meta_path} is not valid JSON: {err}') from err
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise DatasetError(f'{meta_path} is not a {FORMAT} file')
    return meta


class Dataset:
    """Every label so far, with who acted, who labeled, why, when and under which policy."""

    def __init__(self, path: Path, spec: EnvSpec, meta: dict[str, Any], writable: bool,
                 flush_every: int = 256) -> None:
        self.path, self.spec, self._meta = Path(path), spec, meta
        self.flush_every = flush_every
        self._reasons = {name: code for code, name in enumerate(meta['reasons'])}
        self._log = AppendLog(self.path / 'records.bin', sample_dtype(spec), writable)

    @classmethod
    def create(cls, path: str | Path, spec: EnvSpec) -> Dataset:
        """Make a new, empty dataset directory."""
        path = Path(path)
        if (path / 'meta.json').exists():
            raise DatasetError(f'a dataset already exists at {path}; open it instead')
        path.mkdir(parents=True, exist_ok=True)
        meta = {'format': FORMAT, 'spec': spec.to_dict(), 'reasons': [],
                'layout': str(sample_dtype(spec).descr), 'created': time.time()}
        write_json_atomic(path / 'meta.json', meta)
        return cls(path, spec, meta, writable=True)

    @classmethod
    def open(cls, path: str | Path, spec: EnvSpec | None = None,
             writable: bool = True) -> Dataset:
        """Open a dataset; with ``spec``, refuse one written for other spaces."""
        path = Path(path)
        meta = _read_meta(path)
        try:
            stored = EnvSpec.from_dict(meta['spec'])
        except (KeyError, ValueError) as err:
            raise DatasetError(f'{path}/meta.json has no valid spaces: {err}') from err
        if spec is not None:
            spec.require_same(stored, f'the dataset at {path}')
        return cls(path, stored, meta, writable)

    @classmethod
    def open_or_create(cls, path: str | Path, spec: EnvSpec) -> Dataset:
        """Open the dataset at path (checking its spaces) or create it."""
        if (Path(path) / 'meta.json').exists():
            return cls.open(path, spec)
        return cls.create(path, spec)

    def __len__(self) -> int:
        return len(self._log)

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def reason_names(self) -> list[str]:
        """Reason words, indexed by the codes in ``arrays()['reason']``."""
        return list(self._meta['reasons'])

    def _reason_code(self, reason: str) -> int:
        if reason not in self._reasons:
            self.flush(fsync=False)
            self._meta['reasons'].append(reason)
            self._reasons[reason] = len(self._meta['reasons']) - 1
            write_json_atomic(self.path / 'meta.json', self._meta)  # before any record uses it
        return self._reasons[reason]

    def append(self, obs: Any, label: Any, action: Any = None, *, actor: int, labeler: int,
               reason: str, round: int, episode: int, step: int,  # noqa: A002 - field name
               policy_version: int = 0, time: float | None = None,  # noqa: A002
               doubt: float = float('nan'), event: int = Event.NONE) -> None:
        """Append one sample (1-D obs) or a batch (2-D obs); ints may be scalars or arrays.

        Raises:
            InputError: wrong sizes or non-finite observations, labels or actions.
        """
        obs2 = np.atleast_2d(self.spec.check_obs(obs))
        label2 = np.atleast_2d(self.spec.check_action(label, 'label'))
        action2 = label2 if action is None else np.atleast_2d(
            self.spec.check_action(action, 'executed action'))
        count = len(obs2)
        if len(label2) != count or len(action2) != count:
            raise InputError(f'got {count} observations, {len(label2)} labels and '
                             f'{len(action2)} actions; expected equal counts')
        records = np.zeros(count, self._log.dtype)
        records['obs'], records['label'], records['action'] = obs2, label2, action2
        stamp = _now() if time is None else time
        values = {'actor': actor, 'labeler': labeler, 'round': round, 'episode': episode,
                  'step': step, 'policy_version': policy_version, 'time': stamp,
                  'doubt': doubt, 'event': event, 'reason': self._reason_code(reason)}
        for name, value in values.items():
            records[name] = value
        self._log.append(records)
        if self._log._buffered >= self.flush_every:
            self.flush(fsync=False)

    def flush(self, fsync: bool = True) -> None:
        """Write buffered samples; with fsync they survive a power loss too."""
        self._log.flush(fsync)

    def close(self) -> None:
        """Flush and close."""
        self._log.close()

    def arrays(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Columns of the committed samples (obs, label, action, actor, …, event)."""
        records = self._log.read(start, stop)
        return {name: np.asarray(records[name]) for name in FIELDS}

    def tensors(self, device: Any = 'cpu') -> tuple[Any, Any]:
        """(obs, label) as float32 torch tensors on device."""
        import torch
        data = self.arrays()
        return (torch.as_tensor(np.ascontiguousarray(data['obs']), device=device),
                torch.as_tensor(np.ascontiguousarray(data['label']), device=device))

    def verify(self) -> None:
        """Check every record's checksum (the tail is checked on every open)."""
        self._log.verify()

    def stats(self) -> dict[str, Any]:
        """Counts by actor, labeler and reason, and the rounds present."""
        data = self.arrays()
        names = self.reason_names

        def count(column: np.ndarray, label: Any) -> dict[str, int]:
            values, counts = np.unique(column, return_counts=True)
            return {label(v): int(c) for v, c in zip(values, counts)}
        return {'samples': len(self), 'by_actor': count(data['actor'], lambda v: Source(v).name),
                'by_labeler': count(data['labeler'], lambda v: Source(v).name),
                'by_reason': count(data['reason'], lambda v: names[v]),
                'rounds': sorted({int(r) for r in np.unique(data['round'])})}


def _now() -> float:
    return time.time()


def load_demonstrations(path: str | Path, spec: EnvSpec) -> tuple[np.ndarray, np.ndarray]:
    """(obs, actions) from a dagger_ros dataset directory or an .npz with obs and actions."""
    path = Path(path)
    if path.is_dir():
        with Dataset.open(path, spec, writable=False) as ds:
            data = ds.arrays()
        return data['obs'].astype(np.float64), data['label'].astype(np.float64)
    if not path.is_file():
        raise DatasetError(f'demonstrations {path} do not exist')
    try:
        with np.load(path, allow_pickle=False) as npz:
            obs, actions = npz['obs'], npz['actions']
    except (KeyError, ValueError, OSError) as err:
        raise DatasetError(f'{path}: expected an .npz with arrays obs and actions: {err}') from err
    obs = np.atleast_2d(spec.check_obs(obs, 'demonstration observations'))
    actions = np.atleast_2d(spec.check_action(actions, 'demonstration actions'))
    if len(obs) != len(actions):
        raise DatasetError(f'{path}: {len(obs)} observations but {len(actions)} actions')
    return obs, actions
