"""A slow expert labeling queued states in its own thread, as a person or planner would."""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from dagger_ros.core.algorithms.base import ExpertFn

log = logging.getLogger(__name__)


class ThreadedLabeler:
    """Answers a persistent LabelQueue in a background thread, ``delay_s`` per label.

    The queue is on disk, so states queued before a crash are still labeled after a restart.
    """

    def __init__(self, queue: Any, expert: ExpertFn, delay_s: float = 0.0) -> None:
        self._queue = queue
        self._expert = expert
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='slow-expert', daemon=True)

    def start(self) -> None:
        """Start labeling in the background."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread; unanswered queries stay in the queue."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def submit(self, obs: np.ndarray, meta: dict[str, Any]) -> int:
        """Queue a state for labeling and return its query id."""
        with self._lock:
            return self._queue.put(obs, meta)

    def answered_since(self, cursor: int) -> tuple[list, int]:
        """Labels answered after ``cursor``, and the new cursor."""
        with self._lock:
            return self._queue.answered_since(cursor)

    def pending_count(self) -> int:
        """Number of states still waiting."""
        with self._lock:
            return self._queue.pending_count()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                batch = self._queue.pending(limit=8)
            if not batch:
                self._stop.wait(0.01)
                continue
            for query_id, obs, _ in batch:
                if self._stop.wait(self._delay_s):
                    return
                label = self._expert(obs)
                with self._lock:
                    self._queue.answer(query_id, label)
