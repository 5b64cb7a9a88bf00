"""The aggregated dataset: labeled samples with provenance, appended crash-safely to disk.

A dataset directory holds ``meta.json`` (format version, spaces, record layout, reason words;
replaced atomically) and ``records.bin``: fixed-size numpy records, each ending in the CRC32 of
its other bytes. Appends are buffered and written with one write call per flush, so a process
killed mid-append leaves at most a torn tail, which the next writer drops with a warning. A bad
record followed by good ones is corruption and raises DatasetError naming it. Nothing is
pickled. ``_AppendLog`` is shared with the label queue.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
import time
from typing import Any
import zipfile
import zlib

import numpy as np

from dagger_ros.core.errors import DatasetError, InputError, SpecMismatchError
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a second writer is then not refused
    fcntl = None

log = logging.getLogger(__name__)
FORMAT = 'dagger_ros.dataset'
VERSION = 2
TAIL_CHECK = 4096  # records whose CRC an open checks: far more than one torn write can leave
FLUSH_EVERY = 256
_CHUNK = 1 << 16  # records per step when copying columns: stays in cache, no double memory
FIELDS = ('obs', 'label', 'action', 'actor', 'labeler', 'reason', 'round', 'episode', 'step',
          'policy_version', 'time', 'doubt', 'event')
_INTS = ('round', 'episode', 'step', 'policy_version')
_ENUMS = {'actor': Source, 'labeler': Source, 'event': Event}
_ALLOWED = {name: frozenset(m.value for m in enum) for name, enum in _ENUMS.items()}
_INT32 = (int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max))
_MAX_REASON = 64


def record_dtype(fields: list[tuple]) -> np.dtype:
    """A packed structured dtype of ``fields`` plus a trailing ``crc`` (uint32), 4-byte sized."""
    pad = -np.dtype(fields).itemsize % 4
    extra = [('_pad', 'u1', (pad,))] if pad else []
    return np.dtype(fields + extra + [('crc', '<u4')])


def sample_dtype(spec: EnvSpec) -> np.dtype:
    """The record of one labeled sample; float64 time first so most fields stay aligned."""
    act = (spec.act_dim,)
    return record_dtype([
        ('time', '<f8'), ('obs', '<f4', (spec.obs_dim,)), ('label', '<f4', act),
        ('action', '<f4', act), ('round', '<i4'), ('episode', '<i4'), ('step', '<i4'),
        ('policy_version', '<i4'), ('doubt', '<f4'), ('reason', '<u2'), ('actor', 'u1'),
        ('labeler', 'u1'), ('event', 'u1')])


def layout(dtype: np.dtype) -> dict[str, Any]:
    """JSON description of a record dtype, stored in meta.json and compared on open."""
    fields = [[name, dtype[name].base.str, list(dtype[name].shape)] for name in dtype.names]
    return {'itemsize': dtype.itemsize, 'fields': fields,
            'checksum': 'zlib.crc32 of bytes [0, itemsize - 4), little-endian in the last 4'}


def crc32(records: np.ndarray) -> np.ndarray:
    """CRC32 of each record's bytes before its trailing checksum (zlib's, ~0.3 us a record)."""
    size = records.dtype.itemsize
    raw = memoryview(np.ascontiguousarray(records).view(np.uint8))
    return np.fromiter((zlib.crc32(raw[i:i + size - 4]) for i in range(0, len(raw), size)),
                       dtype=np.uint32, count=len(records))


def _intact_end(records: np.ndarray, start: int, first: int, path: Path) -> int:
    """End of the intact records in [start, start + len): a trailing run of bad ones is torn."""
    ok = crc32(records) == records['crc']
    good = np.flatnonzero(ok)
    end = start + (int(good[-1]) + 1 if good.size else 0)
    bad = np.flatnonzero(~ok[:end - start])
    if bad.size:
        index = start + int(bad[0])
        raise DatasetError(
            f'{path}: record {index} of {start + len(records)} fails its CRC32 check but later '
            'records are intact, so this is corruption, not a torn write; truncating the file '
            f'to {index * records.dtype.itemsize} bytes keeps the {index} records before it')
    if not good.size and start > first:
        raise DatasetError(f'{path}: the last {len(records)} records all fail their CRC32 '
                           'check; a torn write leaves far fewer, so the file is corrupt')
    return end


class _AppendLog:
    """Fixed-size CRC-checked records appended to one file by one writer, read by many.

    The writer holds an exclusive lock on the file. A reader counts only whole records whose
    CRC holds, so it never sees a write in progress, and re-counts on every read.
    """

    def __init__(self, path: Path, dtype: np.dtype, writable: bool = True) -> None:
        self.path, self.dtype, self.writable = Path(path), dtype, writable
        self._pending: list[np.ndarray] = []
        self.buffered = 0
        self._committed = 0
        self._file = _open_locked(self.path) if writable else None
        if not writable and not self.path.is_file():
            raise DatasetError(f'record file {self.path} does not exist')
        try:
            self._committed = self._scan(0)
        except BaseException:
            self.close(flush=False)
            raise

    def _scan(self, first: int) -> int:
        """Count the intact records, knowing the first ``first`` are; a writer drops the rest."""
        size, item = self.path.stat().st_size, self.dtype.itemsize
        count = size // item
        if count < first:
            raise DatasetError(f'{self.path} shrank from {first} to {count} records')
        start = max(first, count - TAIL_CHECK)
        tail = np.fromfile(self.path, self.dtype, count - start, offset=start * item)
        good = _intact_end(tail, start, first, self.path)
        dropped = size - good * item
        if dropped and self._file is not None:
            log.warning('%s: dropped a torn tail of %d bytes (%d whole records failing their '
                        'CRC, %d records kept)', self.path, dropped, count - good, good)
            os.ftruncate(self._file.fileno(), good * item)
        elif dropped and first == 0:
            log.info('%s: ignoring %d trailing bytes of an unfinished write', self.path, dropped)
        return good

    def __len__(self) -> int:
        return self.refresh() + self.buffered

    def refresh(self) -> int:
        """Committed record count; a reader re-counts, since a writer may have appended."""
        if not self.writable:
            self._committed = self._scan(self._committed)
        return self._committed

    def append(self, records: np.ndarray) -> None:
        """Fill in the CRCs of ``records`` (a fresh array of this dtype, kept) and buffer them."""
        if self._file is None:
            raise DatasetError(f'{self.path} is not open for writing')
        records['crc'] = crc32(records)
        self._pending.append(records)
        self.buffered += len(records)

    def flush(self, fsync: bool = True) -> None:
        """Write the buffer with one write call; with fsync it survives a power loss too."""
        if self._file is None:
            return
        if self._pending:
            # as bytes: concatenating structured arrays re-derives their dtype, 30x slower
            self._write_all(memoryview(np.concatenate([r.view(np.uint8) for r in self._pending])))
            self._committed += self.buffered
            self._pending, self.buffered = [], 0
        if fsync:
            os.fsync(self._file.fileno())

    def _write_all(self, data: memoryview) -> None:
        done = 0
        try:
            while done < len(data):  # a raw write may be short (signals, full disk)
                done += self._file.write(data[done:])
        except OSError as err:
            # cut the half-written batch, or the next flush would leave it mid-file as corruption
            self._file.truncate(self._committed * self.dtype.itemsize)
            raise DatasetError(f'writing {self.path} failed after {done} of {len(data)} bytes: '
                               f'{err}; the samples stay buffered, flush again to retry') from err

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Committed records [start, stop) (slice rules) as a read-only memory map."""
        self.flush(fsync=False)
        start, stop, _ = slice(start, stop).indices(self.refresh())
        if stop <= start:
            return np.zeros(0, self.dtype)
        return np.memmap(self.path, self.dtype, 'r', offset=start * self.dtype.itemsize,
                         shape=(stop - start,))

    def verify(self, chunk: int = 1 << 20) -> None:
        """Check every committed record's CRC; raise DatasetError naming the first bad one."""
        records = self.read()
        for start in range(0, len(records), chunk):
            part = np.array(records[start:start + chunk])
            bad = np.flatnonzero(crc32(part) != part['crc'])
            if bad.size:
                raise DatasetError(f'{self.path}: record {start + int(bad[0])} of '
                                   f'{len(records)} fails its CRC32 check')

    def close(self, flush: bool = True) -> None:
        """Flush (with fsync) and release the file; reads still work afterwards."""
        if flush:
            self.flush(fsync=True)
        if self._file is not None:
            self._file.close()
            self._file = None


def _open_locked(path: Path) -> Any:
    """Open for appending, refusing a file another writer holds (records would interleave)."""
    try:
        file = open(path, 'ab', buffering=0)
    except OSError as err:
        raise DatasetError(f'cannot open {path} for writing: {err}; open it with '
                           'writable=False to read it') from err
    if fcntl is not None:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            file.close()
            raise DatasetError(f'{path} is already open for writing (by another process or '
                               'object); close that one, or open with writable=False') from err
    return file


def columns(records: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Contiguous copies of some fields, copied a chunk of records at a time."""
    out = {name: np.empty((len(records),) + records.dtype[name].shape,
                          records.dtype[name].base.newbyteorder('=')) for name in names}
    for start in range(0, len(records), _CHUNK):
        part = np.asarray(records[start:start + _CHUNK])
        for name in names:
            out[name][start:start + _CHUNK] = part[name]
    return out


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temp file, fsync it, then rename it over ``path``."""
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w', encoding='utf-8') as file:
        json.dump(data, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def read_meta(path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """The meta.json of a ``fmt`` directory; DatasetError when missing, garbage or foreign."""
    meta_path = path / 'meta.json'
    if not meta_path.is_file():
        raise DatasetError(f'{path} is not a dagger_ros {what} (no meta.json); create one first')
    try:
        meta = json.loads(meta_path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f'{meta_path} is not valid JSON: {err}') from err
    if not isinstance(meta, dict) or meta.get('format') != fmt:
        raise DatasetError(f'{meta_path} is not a {fmt} file')
    if meta.get('version') != version:
        raise DatasetError(f'{meta_path} has format version {meta.get("version")!r}; this '
                           f'dagger_ros reads version {version}')
    return meta


def stored_spec(meta: dict[str, Any], path: Path, spec: EnvSpec | None, what: str) -> EnvSpec:
    """The spaces in meta.json, checked against ``spec`` when given."""
    try:
        stored = EnvSpec.from_dict(meta['spec'])
    except (KeyError, TypeError, SpecMismatchError) as err:
        raise DatasetError(f'{path}/meta.json has no valid spaces: {err}') from err
    if spec is not None:
        spec.require_same(stored, f'the {what} at {path}')
    return stored


class Dataset:
    """Every label so far, with who acted, who labeled, why, when and under which policy.

    Use :meth:`create`, :meth:`open` or :meth:`open_or_create`. Appends are buffered and
    written every ``flush_every`` samples (without fsync) and on :meth:`flush` / :meth:`close`.
    """

    def __init__(self, path: Path, spec: EnvSpec, meta: dict[str, Any], writable: bool,
                 flush_every: int = FLUSH_EVERY) -> None:
        self.path, self.spec, self._meta = Path(path), spec, meta
        self.flush_every = flush_every
        self._codes = {name: code for code, name in enumerate(meta['reasons'])}
        self._log = _AppendLog(self.path / 'records.bin', sample_dtype(spec), writable)

    @classmethod
    def create(cls, path: str | Path, spec: EnvSpec) -> Dataset:
        """Make a new, empty dataset directory.

        Raises:
            DatasetError: a dataset, or other files, already exist at ``path``.
        """
        path = Path(path)
        if (path / 'meta.json').exists():
            raise DatasetError(f'a dataset already exists at {path}; use Dataset.open or '
                               'Dataset.open_or_create')
        if path.exists() and not path.is_dir():
            raise DatasetError(f'{path} is a file, not a dataset directory')
        if path.is_dir() and any(p.name != 'meta.json.tmp' for p in path.iterdir()):
            raise DatasetError(f'{path} is not empty and holds no dataset; pick another path')
        path.mkdir(parents=True, exist_ok=True)
        (path / 'records.bin').touch()  # before meta.json: a dataset always has its records
        meta = {'format': FORMAT, 'version': VERSION, 'spec': spec.to_dict(),
                'layout': layout(sample_dtype(spec)), 'reasons': [], 'created': time.time()}
        write_json_atomic(path / 'meta.json', meta)
        return cls(path, spec, meta, writable=True)

    @classmethod
    def open(cls, path: str | Path, spec: EnvSpec | None = None,
             writable: bool = True) -> Dataset:
        """Open a dataset; with ``spec``, refuse one written for other spaces.

        Raises:
            DatasetError: missing or corrupt directory, or already open for writing.
            SpecMismatchError: the dataset was written for other spaces than ``spec``.
        """
        path = Path(path)
        meta = read_meta(path, FORMAT, VERSION, 'dataset')
        stored = stored_spec(meta, path, spec, 'dataset')
        if meta.get('layout') != layout(sample_dtype(stored)):
            raise DatasetError(f'{path}/meta.json describes another record layout than '
                               f'{FORMAT} version {VERSION} uses')
        reasons = meta.get('reasons')
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise DatasetError(f'{path}/meta.json has no valid reason table: {reasons!r}')
        if not (path / 'records.bin').is_file():
            raise DatasetError(f'{path} has a meta.json but no records.bin: the dataset is '
                               'incomplete; restore records.bin or start a new dataset')
        return cls(path, stored, meta, writable)

    @classmethod
    def open_or_create(cls, path: str | Path, spec: EnvSpec) -> Dataset:
        """Open the dataset at ``path`` (checking its spaces) or create it."""
        if (Path(path) / 'meta.json').exists():
            return cls.open(path, spec)
        return cls.create(path, spec)

    def __len__(self) -> int:
        return len(self._log)

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'Dataset({str(self.path)!r}, {self.spec.env_id}, {len(self)} samples)'

    @property
    def reason_names(self) -> list[str]:
        """Reason words, indexed by the codes in ``arrays()['reason']``."""
        if not self._log.writable:  # the writer may have added words since we opened
            self._meta['reasons'] = read_meta(self.path, FORMAT, VERSION, 'dataset')['reasons']
        return list(self._meta['reasons'])

    def _reason_code(self, reason: str) -> int:
        if not isinstance(reason, str) or not 0 < len(reason) <= _MAX_REASON:
            raise InputError(f'reason must be a word of 1..{_MAX_REASON} characters, got '
                             f'{reason!r}')
        if reason in self._codes:
            return self._codes[reason]
        if len(self._codes) >= np.iinfo(np.uint16).max:
            raise DatasetError(f'{self.path} already has {len(self._codes)} reason words')
        self._meta['reasons'].append(reason)
        write_json_atomic(self.path / 'meta.json', self._meta)  # before a record uses the code
        self._codes[reason] = len(self._codes)
        return self._codes[reason]

    def append(self, obs: Any, label: Any, action: Any = None, *, actor: Any, labeler: Any,
               reason: str, round: Any, episode: Any, step: Any,  # noqa: A002 - field name
               policy_version: Any = 0, time: Any = None, doubt: Any = float('nan'),
               event: Any = Event.NONE) -> None:
        """Append one sample (1-D obs) or a batch (2-D obs, other fields scalar or per-sample).

        Args:
            obs: observation(s), shape (obs_dim,) or (N, obs_dim).
            label: the expert's or human's action for each state.
            action: the action actually executed (defaults to ``label``).
            actor: who drove (Source). labeler: who labeled (Source).
            reason: why this sample was labeled ('beta', 'takeover', ...).
            round: DAgger round. episode, step: where in the run the state was met.
            policy_version: version of the policy that was running.
            time: wall-clock seconds (defaults to now). doubt: ensemble disagreement or NaN.
            event: intervention start/end marks (Event).

        Raises:
            InputError: wrong sizes, non-finite values, or fields of the wrong kind.
        """
        obs2, label2, action2 = self._check_vectors(obs, label, action)
        records = np.zeros(len(obs2), self._log.dtype)
        records['obs'], records['label'], records['action'] = obs2, label2, action2
        values = {'actor': actor, 'labeler': labeler, 'round': round, 'episode': episode,
                  'step': step, 'policy_version': policy_version, 'event': event,
                  'time': _now() if time is None else time, 'doubt': doubt}
        for name, value in values.items():
            records[name] = _column(value, len(records), name)
        records['reason'] = self._reason_code(reason)
        self._log.append(records)
        if self._log.buffered >= self.flush_every:
            self._log.flush(fsync=False)

    def _check_vectors(self, obs: Any, label: Any,
                       action: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        obs2 = np.atleast_2d(self.spec.check_obs(obs))
        label2 = np.atleast_2d(self.spec.check_action(label, 'label'))
        action2 = label2 if action is None else np.atleast_2d(
            self.spec.check_action(action, 'executed action'))
        if not len(obs2) == len(label2) == len(action2):
            raise InputError(f'got {len(obs2)} observations, {len(label2)} labels and '
                             f'{len(action2)} executed actions; expected equal counts')
        return obs2, label2, action2

    def flush(self, fsync: bool = True) -> None:
        """Write buffered samples; with fsync they survive a power loss too."""
        self._log.flush(fsync)

    def close(self) -> None:
        """Flush with fsync and release the file (reads still work)."""
        self._log.close()

    def arrays(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Contiguous copies of the samples [start, stop), one array per field in FIELDS.

        ``start`` and ``stop`` follow slice rules. A writer flushes its buffer first (no fsync);
        a reader sees what writers have flushed.
        obs, label and action are float32; time float64; doubt float32; round, episode, step
        and policy_version int32; reason uint16 codes into :attr:`reason_names`; actor,
        labeler and event uint8 values of Source and Event.
        """
        return columns(self._log.read(start, stop), FIELDS)

    def tensors(self, device: Any = 'cpu') -> tuple[Any, Any]:
        """(obs, label) of every sample as float32 torch tensors on ``device``."""
        import torch
        data = columns(self._log.read(), ('obs', 'label'))
        return (torch.from_numpy(data['obs']).to(device),
                torch.from_numpy(data['label']).to(device))

    def verify(self) -> None:
        """Check every record's CRC (an open checks only the last TAIL_CHECK ones)."""
        self._log.verify()

    def stats(self) -> dict[str, Any]:
        """Sample counts by actor, labeler, reason and round."""
        data = columns(self._log.read(), ('actor', 'labeler', 'reason', 'round'))
        names = self.reason_names
        by_round = _counts(data['round'], int)
        return {'samples': len(data['round']),
                'by_actor': _counts(data['actor'], lambda v: Source(v).name),
                'by_labeler': _counts(data['labeler'], lambda v: Source(v).name),
                'by_reason': _counts(data['reason'], lambda v: names[v]),
                'by_round': by_round, 'rounds': sorted(by_round)}


def _now() -> float:
    return time.time()  # a function, since Dataset.append's `time` argument hides the module


def _counts(column: np.ndarray, key: Any) -> dict[Any, int]:
    values, counts = np.unique(column, return_counts=True)
    return {key(int(v)): int(c) for v, c in zip(values, counts)}


def _column(value: Any, count: int, name: str) -> Any:
    """A scalar or per-sample field, checked: a plain number, or an array of ``count``."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return _check_scalar(value, name)  # the live loop's case, kept fast
    arr = np.asarray(value)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != count):
        raise InputError(f'{name} has shape {arr.shape}, expected a scalar or ({count},)')
    if name in ('time', 'doubt'):
        _check_floats(arr, name)
    else:
        _check_ints(arr, name)
    return arr


def _check_scalar(value: Any, name: str) -> Any:
    if name in ('time', 'doubt'):
        if math.isinf(value) or (name == 'time' and math.isnan(value)):
            _check_floats(np.asarray(value), name)  # raises, with the message
        return value
    in_range = isinstance(value, (int, np.integer)) and _INT32[0] <= value <= _INT32[1]
    if not in_range or (name in _ALLOWED and value not in _ALLOWED[name]):
        _check_ints(np.asarray(value), name)  # raises, with the message
    return value


def _check_ints(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind not in 'iu':
        raise InputError(f'{name} must be an integer, got {arr.dtype} {arr.tolist()!r}')
    if arr.size and (arr.min() < _INT32[0] or arr.max() > _INT32[1]):
        raise InputError(f'{name} is out of the int32 range: {arr.tolist()!r}')
    if name in _ENUMS and not np.all(np.isin(arr, list(_ALLOWED[name]))):
        raise InputError(f'{name} must be one of {[m.name for m in _ENUMS[name]]}, got '
                         f'{arr.tolist()!r}')


def _check_floats(arr: np.ndarray, name: str) -> None:
    allow_nan = name == 'doubt'
    if arr.dtype.kind not in 'iuf':
        raise InputError(f'{name} must be a number, got {arr.dtype} {arr.tolist()!r}')
    if np.any(np.isinf(arr) | (np.isnan(arr) & (not allow_nan))):
        raise InputError(f'{name} must be finite{" or NaN" * allow_nan}, got {arr.tolist()!r}')


def load_demonstrations(path: str | Path, spec: EnvSpec) -> tuple[np.ndarray, np.ndarray]:
    """Recorded demonstrations to seed a run with.

    Args:
        path: a dagger_ros dataset directory (its labels are used), or an ``.npz`` file with
            arrays ``obs`` (N, obs_dim) and ``actions`` (N, act_dim).
        spec: the run's spaces; demonstrations for other spaces are refused.

    Returns:
        (obs, actions) as float64 arrays of equal length.

    Raises:
        DatasetError: missing file, not an .npz with obs and actions, or unequal lengths.
        SpecMismatchError: a dataset directory written for other spaces.
        InputError: arrays of the wrong width or with non-finite values.
    """
    path = Path(path)
    if path.is_dir():
        with Dataset.open(path, spec, writable=False) as ds:
            data = columns(ds._log.read(), ('obs', 'label'))
        return data['obs'].astype(np.float64), data['label'].astype(np.float64)
    if not path.is_file():
        raise DatasetError(f'demonstrations {path} do not exist')
    try:
        with np.load(path, allow_pickle=False) as npz:
            obs, actions = npz['obs'], npz['actions']
    except (KeyError, ValueError, OSError, EOFError, TypeError, zipfile.BadZipFile) as err:
        raise DatasetError(f'{path}: expected an .npz with arrays obs and actions: {err}') from err
    obs = np.atleast_2d(spec.check_obs(obs, 'demonstration observations'))
    actions = np.atleast_2d(spec.check_action(actions, 'demonstration actions'))
    if len(obs) != len(actions):
        raise DatasetError(f'{path}: {len(obs)} observations but {len(actions)} actions')
    return obs, actions
