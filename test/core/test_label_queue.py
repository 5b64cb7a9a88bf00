"""The persistent label queue for asynchronous labeling."""

import numpy as np
import pytest

from dagger_ros.core.errors import SpecMismatchError
from dagger_ros.core.label_queue import LabelQueue
from dagger_ros.core.spec import EnvSpec

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))


def test_put_pending_answer_and_cursor(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    ids = [queue.put(np.ones(3) * i, {'round': i, 'version': 10 + i}) for i in range(4)]
    assert ids == [0, 1, 2, 3]
    queue.answer(2, np.array([0.5]))
    assert [q[0] for q in queue.pending()] == [0, 1, 3]
    assert [q[0] for q in queue.pending(limit=2)] == [0, 1]
    answered, cursor = queue.answered_since(0)
    assert cursor == 1 and answered[0][0] == 2
    np.testing.assert_array_equal(answered[0][1], [2.0, 2.0, 2.0])
    assert answered[0][3]['version'] == 12
    queue.answer(0, np.array([0.1]))
    later, cursor = queue.answered_since(cursor)
    assert [a[0] for a in later] == [0] and cursor == 2


def test_answers_are_idempotent_and_unknown_ids_refused(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    queue.put(np.zeros(3))
    queue.answer(0, np.array([1.0]))
    queue.answer(0, np.array([-1.0]))
    assert len(queue.answered_since(0)[0]) == 1
    with pytest.raises(KeyError, match='no query with id 5'):
        queue.answer(5, np.array([0.0]))


def test_queue_survives_a_restart(tmp_path):
    queue = LabelQueue(tmp_path / 'q', SPEC)
    for i in range(3):
        queue.put(np.ones(3) * i)
    queue.answer(1, np.array([0.0]))
    del queue  # no close: a crash after the last append
    again = LabelQueue(tmp_path / 'q', SPEC)
    assert [q[0] for q in again.pending()] == [0, 2]
    assert again.put(np.zeros(3)) == 3
    with pytest.raises(SpecMismatchError):
        LabelQueue(tmp_path / 'q', EnvSpec('other', 3, 1, (-1.0,), (1.0,)))
