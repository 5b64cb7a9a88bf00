"""States waiting for a slow expert's labels, kept on disk so a restart loses none.

Two append logs (the dataset's crash-safe record files) in one directory: ``queries.bin``
(id, put time, state, round, episode, step, policy_version, doubt) and ``answers.bin`` (id,
the query's put time, answer time, label). A query id is its position in ``queries.bin``; a
query is pending until an answer to it exists. An answer names its query by id and put time,
so an answer to a query lost with a torn tail never attaches to the query that reuses the id.
Each put and answer is written before it returns (without fsync).
"""

from __future__ import annotations

import logging
from pathlib import Path
import time
from typing import Any

import numpy as np

from dagger_ros.core.dataset import (_AppendLog, _column, columns, DatasetError, layout,
                                     read_meta, record_dtype, stored_spec, write_json_atomic)
from dagger_ros.core.errors import InputError
from dagger_ros.core.spec import EnvSpec

log = logging.getLogger(__name__)
FORMAT = 'dagger_ros.label_queue'
VERSION = 1
META_INTS = ('round', 'episode', 'step', 'policy_version')
_ALIASES = {'version': 'policy_version'}

Query = tuple[int, np.ndarray, dict[str, Any]]
Answer = tuple[int, np.ndarray, np.ndarray, dict[str, Any]]


def _dtypes(spec: EnvSpec) -> tuple[np.dtype, np.dtype]:
    query = record_dtype([('id', '<i8'), ('time', '<f8'), ('obs', '<f4', (spec.obs_dim,)),
                          *((name, '<i4') for name in META_INTS), ('doubt', '<f4')])
    answer = record_dtype([('id', '<i8'), ('query_time', '<f8'), ('time', '<f8'),
                           ('label', '<f4', (spec.act_dim,))])
    return query, answer


class LabelQueue:
    """A persistent FIFO of states to label; the trainer picks answers up with a cursor.

    Meta of a query: ``round``, ``episode``, ``step``, ``policy_version`` (ints, -1 when not
    given; ``version`` is accepted for ``policy_version`` and echoed back) and ``doubt``
    (float, NaN when not given).
    """

    def __init__(self, path: str | Path, spec: EnvSpec) -> None:
        self.path, self.spec = Path(path), spec
        query_dtype, answer_dtype = _dtypes(spec)
        self._init_dir(query_dtype, answer_dtype)
        self._queries = _AppendLog(self.path / 'queries.bin', query_dtype)
        self._answers = _AppendLog(self.path / 'answers.bin', answer_dtype)
        self._done = self._load_answers()  # one byte per query: 1 once answered

    def _init_dir(self, query_dtype: np.dtype, answer_dtype: np.dtype) -> None:
        want = {'queries': layout(query_dtype), 'answers': layout(answer_dtype)}
        if not (self.path / 'meta.json').exists():
            self.path.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path / 'meta.json', {
                'format': FORMAT, 'version': VERSION, 'spec': self.spec.to_dict(),
                'layout': want, 'created': time.time()})
            return
        meta = read_meta(self.path, FORMAT, VERSION, 'label queue')
        stored_spec(meta, self.path, self.spec, 'label queue')
        if meta.get('layout') != want:
            raise DatasetError(f'{self.path}/meta.json describes another record layout')

    def _load_answers(self) -> bytearray:
        if np.any(self._queries.read()['id'] != np.arange(len(self._queries))):
            raise DatasetError(f'{self.path}/queries.bin: query ids are not 0, 1, 2, ...')
        answers = columns(self._answers.read(), ('id', 'query_time'))
        valid = self._is_valid(answers['id'], answers['query_time'])
        if not np.all(valid):  # their queries were lost with a torn tail
            log.warning('%s: ignoring %d answers to queries that were lost',
                        self.path, int(np.sum(~valid)))
        done = np.zeros(len(self._queries), dtype=np.uint8)
        done[answers['id'][valid]] = 1
        return bytearray(done.tobytes())

    def _is_valid(self, ids: np.ndarray, query_times: np.ndarray) -> np.ndarray:
        """Which answers belong to a query that exists (same id and put time)."""
        times = np.asarray(self._queries.read()['time'])
        known = (ids >= 0) & (ids < len(times))
        known[known] = times[ids[known]] == query_times[known]
        return known

    def __len__(self) -> int:
        return len(self._queries)

    def put(self, obs: Any, meta: dict[str, Any] | None = None) -> int:
        """Queue one state for labeling.

        Args:
            obs: the state, shape (obs_dim,).
            meta: small figures kept with it (see the class docstring).

        Returns:
            The query id (0, 1, 2, ... in order of arrival).

        Raises:
            InputError: a wrong-sized or non-finite state, or an unknown meta key.
        """
        record = np.zeros(1, self._queries.dtype)
        record['obs'] = _one(self.spec.check_obs(obs, 'queued observation'), 'queued observation')
        record['id'] = query_id = len(self._queries)
        record['time'] = time.time()
        for name in META_INTS:
            record[name] = -1
        record['doubt'] = np.nan
        for key, value in (meta or {}).items():
            name = _ALIASES.get(key, key)
            if name not in META_INTS and name != 'doubt':
                raise InputError(f'unknown query meta {key!r}; expected some of '
                                 f'{[*META_INTS, "doubt"]}')
            record[name] = _column(value, 1, name)
        self._queries.append(record)
        self._queries.flush(fsync=False)
        self._done.append(0)
        return query_id

    def pending(self, limit: int | None = None) -> list[Query]:
        """Unanswered queries ``(query_id, obs, meta)``, oldest first, at most ``limit``."""
        ids = np.flatnonzero(np.frombuffer(self._done, np.uint8) == 0)[:limit]
        records = self._queries.read()
        return [_query(records[i]) for i in ids]

    def pending_count(self) -> int:
        """Number of queries still waiting for a label."""
        return self._done.count(0)

    def answer(self, query_id: int, label: Any) -> None:
        """Record the label of a query; a second answer to the same query is ignored.

        Raises:
            KeyError: no query has this id.
            InputError: a wrong-sized or non-finite label.
        """
        if not 0 <= query_id < len(self._done):
            raise KeyError(f'no query with id {query_id}; the ids so far are '
                           f'0..{len(self._done) - 1}')
        label = _one(self.spec.check_action(label, 'label'), 'label')
        if self._done[query_id]:
            log.debug('%s: query %d is already answered; keeping the first label',
                      self.path, query_id)
            return
        record = np.zeros(1, self._answers.dtype)
        record['id'], record['time'], record['label'] = query_id, time.time(), label
        record['query_time'] = self._queries.read(query_id, query_id + 1)['time']
        self._answers.append(record)
        self._answers.flush(fsync=False)
        self._done[query_id] = 1

    def answered_since(self, cursor: int) -> tuple[list[Answer], int]:
        """Answers after ``cursor`` (a count of answers already taken), and the new cursor.

        Returns:
            ``[(query_id, obs, label, meta), ...]`` in order of answering, and the cursor to
            pass next time (start with 0).
        """
        total = len(self._answers)
        if not 0 <= cursor <= total:
            raise InputError(f'cursor {cursor} is outside 0..{total} (the answers so far)')
        answers = columns(self._answers.read(cursor), ('id', 'query_time', 'label'))
        valid = self._is_valid(answers['id'], answers['query_time'])
        queries = self._queries.read()
        out = []
        for query_id, label in zip(answers['id'][valid], answers['label'][valid]):
            _, obs, meta = _query(queries[query_id])
            out.append((int(query_id), obs, label.astype(np.float64), meta))
        return out, total

    def flush(self, fsync: bool = True) -> None:
        """Make every put and answer survive a power loss (they already survive a crash)."""
        self._queries.flush(fsync)
        self._answers.flush(fsync)

    def close(self) -> None:
        """Flush and close both logs."""
        self._queries.close()
        self._answers.close()

    def __enter__(self) -> LabelQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one(vector: np.ndarray, what: str) -> np.ndarray:
    if vector.ndim != 1:
        raise InputError(f'{what} has shape {vector.shape}; expected a single vector')
    return vector


def _query(record: np.ndarray) -> Query:
    meta: dict[str, Any] = {name: int(record[name]) for name in META_INTS}
    meta['doubt'] = float(record['doubt'])
    meta['version'] = meta['policy_version']  # the name AsyncRule reads
    return int(record['id']), np.asarray(record['obs'], np.float64), meta
