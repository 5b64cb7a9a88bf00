"""Helpers for tests with real rclpy nodes: private contexts and domains, bounded waits, a probe.

Every test gets its own rclpy Context on its own ROS_DOMAIN_ID, so tests running at the same
time (pytest-xdist, other checkouts on the machine) never see each other's topics. Waiting is
always ``spin_until(executor, predicate, timeout_s)``: spin the executor in short bounded steps
until the predicate holds or the deadline passes, never a bare sleep.

Domain ids are claimed with an exclusive ``flock`` on ``<tmp>/dagger_ros_domains/<id>.lock``
(directory overridable with ``DAGGER_ROS_DOMAIN_LOCK_DIR``), so processes on one machine never
hand out the same id at the same time. Ids come from 1..101: Fast DDS maps domain d to UDP ports
7400 + 250 d + ..., and above 101 those ports run into Linux's ephemeral range. The id in the
environment's ROS_DOMAIN_ID (the developer's own graph) is never used.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import os
from pathlib import Path
import random
import tempfile
import time
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.qos import QoSProfile

from dagger_ros.ros import qos

DOMAIN_IDS = range(1, 102)
LOCK_DIR_ENV = 'DAGGER_ROS_DOMAIN_LOCK_DIR'


def spin_until(executor: Executor, predicate: Callable[[], bool], timeout_s: float,
               step_s: float = 0.05) -> bool:
    """Spin executor until predicate() is true or timeout_s passed; return the predicate's value.

    Each spin_once waits at most step_s, so the deadline holds even when nothing arrives.
    """
    deadline = time.monotonic() + timeout_s
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bool(predicate())
        executor.spin_once(timeout_sec=min(step_s, remaining))
    return True


def spin_for(executor: Executor, duration_s: float, step_s: float = 0.05) -> None:
    """Spin executor for duration_s, to check that something does *not* happen meanwhile."""
    spin_until(executor, lambda: False, duration_s, step_s)


def _lock_dir() -> Path:
    path = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / 'dagger_ros_domains')
    path.mkdir(parents=True, exist_ok=True)
    return path


def _candidates(rng: random.Random | None = None) -> list[int]:
    taken = os.environ.get('ROS_DOMAIN_ID', '0').strip() or '0'
    ids = [i for i in DOMAIN_IDS if str(i) != taken]
    (rng or random.Random()).shuffle(ids)
    return ids


@contextlib.contextmanager
def claim_domain_id(rng: random.Random | None = None) -> Iterator[int]:
    """Hold a domain id no other process on this machine holds, for the with-block.

    Raises:
        RuntimeError: when every id in 1..101 is held.
    """
    for domain_id in _candidates(rng):
        handle = open(_lock_dir() / f'{domain_id}.lock', 'w')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield domain_id
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise RuntimeError(f'all ROS domain ids in {DOMAIN_IDS} are held by other processes')


def free_domain_id(rng: random.Random | None = None) -> int:
    """Return a domain id that no process holds right now, without holding it.

    For a subprocess that needs an id on its command line. There is a short race between this
    call and the subprocess starting; :func:`claim_domain_id` around the subprocess' lifetime
    closes it.
    """
    with claim_domain_id(rng) as domain_id:
        return domain_id


@contextlib.contextmanager
def private_context(domain_id: int | None = None) -> Iterator[Context]:
    """Yield an initialised rclpy Context on domain_id (a claimed free one when None).

    The context installs no signal handlers (Ctrl-C still stops pytest) and is shut down on
    exit, which destroys every node created on it.
    """
    with contextlib.ExitStack() as stack:
        if domain_id is None:
            domain_id = stack.enter_context(claim_domain_id())
        context = Context()
        rclpy.init(context=context, domain_id=domain_id)
        try:
            yield context
        finally:
            context.try_shutdown()


class Received(NamedTuple):
    """A message a probe took, with the monotonic time it arrived."""

    time_s: float
    msg: Any


def _topic_qos(topic: str, given: QoSProfile | None, deep: bool) -> QoSProfile:
    """The topic's own profile (or given), with a deep queue for a recording subscription.

    Depth is not part of QoS matching, so a deeper queue connects to the same publishers and
    lets the probe record every message instead of only the newest.
    """
    profile = given or qos.BY_TOPIC.get(topic, qos.BY_TOPIC.get(topic.lstrip('/'), qos.EVENTS))
    if deep:
        profile = copy.copy(profile)
        profile.depth = max(profile.depth, 1000)
    return profile


class Probe(Node):
    """A test node that publishes test inputs and records every message of the topics it collects.

    Topics map to a message type, or to ``(type, QoSProfile)``; otherwise the profile is the
    topic's own (:data:`qos.BY_TOPIC`, EVENTS for others).
    """

    def __init__(self, context: Context, publishes: Mapping[str, Any] | None = None,
                 collects: Mapping[str, Any] | None = None, name: str = 'probe',
                 namespace: str = '') -> None:
        super().__init__(name, namespace=namespace, context=context)
        self._pubs = {topic: self.create_publisher(*self._type_qos(topic, spec, deep=False))
                      for topic, spec in (publishes or {}).items()}
        self.received: dict[str, list[Received]] = {}
        self._subs = []
        for topic, spec in (collects or {}).items():
            self.received[topic] = []
            msg_type, _, profile = self._type_qos(topic, spec, deep=True)
            self._subs.append(self.create_subscription(
                msg_type, topic, self._recorder(topic), profile))

    @staticmethod
    def _type_qos(topic: str, spec: Any, deep: bool) -> tuple[Any, str, QoSProfile]:
        msg_type, given = spec if isinstance(spec, tuple) else (spec, None)
        return msg_type, topic, _topic_qos(topic, given, deep)

    def _recorder(self, topic: str) -> Callable[[Any], None]:
        def record(msg: Any) -> None:
            self.received[topic].append(Received(time.monotonic(), msg))
        return record

    def publish(self, topic: str, msg: Any) -> None:
        """Publish msg on one of the topics given as publishes."""
        self._pubs[topic].publish(msg)

    def messages(self, topic: str) -> list[Any]:
        """The messages recorded on topic, oldest first."""
        return [item.msg for item in self.received[topic]]

    def count(self, topic: str) -> int:
        """How many messages were recorded on topic."""
        return len(self.received[topic])

    def last(self, topic: str) -> Any | None:
        """The newest message recorded on topic, or None."""
        return self.received[topic][-1].msg if self.received[topic] else None

    def clear(self) -> None:
        """Forget every recorded message."""
        for items in self.received.values():
            items.clear()

    def is_connected(self) -> bool:
        """True when every publisher has a subscriber and every subscription a publisher."""
        return (all(pub.get_subscription_count() > 0 for pub in self._pubs.values())
                and all(sub.get_publisher_count() > 0 for sub in self._subs))
