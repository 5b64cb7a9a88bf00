"""States waiting for a slow expert's labels, kept on disk so a restart loses none.

Two append logs in one directory: ``queries.bin`` (id, state, round, policy version, doubt)
and ``answers.bin`` (id, label). A query is pending until an answer with its id exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dagger_ros.core.dataset import padded_dtype, write_json_atomic, AppendLog
from dagger_ros.core.spec import EnvSpec

FORMAT = 'dagger_ros.label_queue/1'
META_FIELDS = (('round', '<i4'), ('version', '<i4'), ('episode', '<i4'), ('step', '<i4'),
               ('doubt', '<f4'))


class LabelQueue:
    """A persistent FIFO of states to label; answers are picked up with a cursor."""

    def __init__(self, path: str | Path, spec: EnvSpec) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        meta_path = self.path / 'meta.json'
        if meta_path.exists():
            spec.require_same(EnvSpec.from_dict(json.loads(meta_path.read_text())['spec']),
                              f'the label queue at {self.path}')
        else:
            write_json_atomic(meta_path, {'format': FORMAT, 'spec': spec.to_dict()})
        self.spec = spec
        self._queries = AppendLog(self.path / 'queries.bin', padded_dtype(
            [('id', '<i8'), ('obs', '<f4', (spec.obs_dim,)), *META_FIELDS]))
        self._answers = AppendLog(self.path / 'answers.bin', padded_dtype(
            [('id', '<i8'), ('label', '<f4', (spec.act_dim,))]))
        self._answered = set(self._answers.read()['id'].tolist())

    def put(self, obs: np.ndarray, meta: dict[str, Any] | None = None) -> int:
        """Queue a state; return its query id."""
        record = np.zeros(1, self._queries.dtype)
        record['id'] = query_id = len(self._queries)
        record['obs'] = self.spec.check_obs(obs, 'queued observation')
        record['doubt'] = np.nan
        for name, _ in META_FIELDS:
            if meta and name in meta:
                record[name] = meta[name]
        self._queries.append(record)
        self._queries.flush(fsync=False)
        return query_id

    def pending(self, limit: int | None = None) -> list[tuple[int, np.ndarray, dict]]:
        """Unanswered queries, oldest first."""
        out = []
        for record in self._queries.read():
            if int(record['id']) not in self._answered:
                out.append(_query(record))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def answer(self, query_id: int, label: np.ndarray) -> None:
        """Record the label of a query (a second answer to the same query is ignored)."""
        if not 0 <= query_id < len(self._queries):
            raise KeyError(f'no query with id {query_id} (ids 0..{len(self._queries) - 1})')
        if query_id in self._answered:
            return
        record = np.zeros(1, self._answers.dtype)
        record['id'] = query_id
        record['label'] = self.spec.check_action(label, 'label')
        self._answers.append(record)
        self._answers.flush(fsync=False)
        self._answered.add(query_id)

    def answered_since(self, cursor: int) -> tuple[list[tuple[int, np.ndarray, np.ndarray,
                                                               dict]], int]:
        """(id, obs, label, meta) answered after ``cursor`` (an answer count), and the new one."""
        answers = self._answers.read(cursor)
        queries = self._queries.read()
        out = []
        for answer in answers:
            query_id, obs, meta = _query(queries[int(answer['id'])])
            out.append((query_id, obs, np.asarray(answer['label'], np.float64), meta))
        return out, cursor + len(answers)

    def close(self) -> None:
        """Flush and close both logs."""
        self._queries.close()
        self._answers.close()


def _query(record: np.ndarray) -> tuple[int, np.ndarray, dict[str, Any]]:
    meta = {name: record[name].item() for name, _ in META_FIELDS}
    return int(record['id']), np.asarray(record['obs'], np.float64), meta
