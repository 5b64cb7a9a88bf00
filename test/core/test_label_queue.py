"""The persistent label queue for asynchronous labeling."""

import math
import os

import numpy as np
import pytest

from dagger_ros.core.errors import DatasetError, InputError, SpecMismatchError
from dagger_ros.core.label_queue import LabelQueue
from dagger_ros.core.spec import EnvSpec

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))


def test_put_pending_answer_and_cursor(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    ids = [queue.put(np.ones(3) * i, {'round': i, 'policy_version': 10 + i}) for i in range(4)]
    assert ids == [0, 1, 2, 3] and len(queue) == 4
    queue.answer(2, np.array([0.5]))
    assert [q[0] for q in queue.pending()] == [0, 1, 3]
    assert [q[0] for q in queue.pending(limit=2)] == [0, 1]
    assert queue.pending_count() == 3
    answered, cursor = queue.answered_since(0)
    assert cursor == 1 and [a[0] for a in answered] == [2]
    query_id, obs, label, meta = answered[0]
    np.testing.assert_array_equal(obs, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(label, [0.5])
    assert meta['round'] == 2 and meta['policy_version'] == 12
    queue.answer(0, np.array([0.1]))
    later, cursor = queue.answered_since(cursor)
    assert [a[0] for a in later] == [0] and cursor == 2
    assert queue.answered_since(cursor) == ([], 2)


def test_meta_defaults_and_the_version_alias(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    queue.put(np.zeros(3))
    queue.put(np.zeros(3), {'version': 7, 'doubt': 0.25, 'episode': 3, 'step': 9})
    (_, _, first), (_, _, second) = queue.pending()
    assert first['round'] == -1 and first['policy_version'] == -1 and math.isnan(first['doubt'])
    assert second['policy_version'] == 7 and second['version'] == 7
    assert second['doubt'] == 0.25 and (second['episode'], second['step']) == (3, 9)


def test_answers_are_idempotent_and_unknown_ids_refused(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    queue.put(np.zeros(3))
    queue.answer(0, np.array([1.0]))
    queue.answer(0, np.array([-1.0]))
    answered, cursor = queue.answered_since(0)
    assert cursor == 1 and answered[0][2].tolist() == [1.0]  # the first label stands
    with pytest.raises(KeyError, match='no query with id 5; the ids so far are 0..0'):
        queue.answer(5, np.array([0.0]))
    with pytest.raises(KeyError, match='no query with id -1'):
        queue.answer(-1, np.array([0.0]))


@pytest.mark.parametrize('call, error, match', [
    (lambda q: q.put(np.zeros(4)), InputError, r'queued observation has shape \(4,\)'),
    (lambda q: q.put(np.zeros((2, 3))), InputError, r'\(2, 3\); expected a single vector'),
    (lambda q: q.put(np.zeros(3), {'colour': 1}), InputError, "unknown query meta 'colour'"),
    (lambda q: q.put(np.zeros(3), {'round': 1.5}), InputError, 'round must be an integer'),
    (lambda q: q.answer(0, np.array([np.nan])), InputError, 'label has non-finite'),
    (lambda q: q.answered_since(2), InputError, r'cursor 2 is outside 0..0'),
])
def test_bad_input_is_refused(tmp_path, call, error, match):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    queue.put(np.zeros(3))
    with pytest.raises(error, match=match):
        call(queue)
    assert len(queue) == 1 and queue.pending_count() == 1


def test_queue_survives_a_restart(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    for i in range(3):
        queue.put(np.ones(3) * i, {'round': 4})
    queue.answer(1, np.array([0.0]))
    del queue  # no close: as after a crash right after the last call
    again = LabelQueue(tmp_path / 'q', SPEC)
    assert [q[0] for q in again.pending()] == [0, 2]
    assert again.pending()[0][2]['round'] == 4
    assert [a[0] for a in again.answered_since(0)[0]] == [1]
    assert again.put(np.zeros(3)) == 3
    again.close()
    with pytest.raises(SpecMismatchError, match='the label queue at'):
        LabelQueue(tmp_path / 'q', EnvSpec('other', 3, 1, (-1.0,), (1.0,)))


def test_torn_query_log_loses_only_the_torn_query(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    for i in range(3):
        queue.put(np.ones(3) * i)
    queue.answer(2, np.array([0.0]))
    queue.close()
    queries = tmp_path / 'q' / 'queries.bin'
    os.truncate(queries, queries.stat().st_size - 5)
    again = LabelQueue(tmp_path / 'q', SPEC)
    assert [q[0] for q in again.pending()] == [0, 1]
    # the id of the lost query is reused; the lost query's answer must not attach to it
    assert again.put(np.zeros(3)) == 2
    assert [q[0] for q in again.pending()] == [0, 1, 2]
    assert again.answered_since(0) == ([], 1)
    again.close()
    assert LabelQueue(tmp_path / 'q', SPEC).pending_count() == 3


def test_a_second_open_of_the_same_queue_is_refused(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    with pytest.raises(DatasetError, match='already open for writing'):
        LabelQueue(tmp_path / 'q', SPEC)
    queue.close()
