"""What every node of the live loop shares: the task's spaces as parameters, and main()."""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import signal
import sys
import threading
from typing import Any, Callable, Sequence

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dagger_ros.core.errors import ConfigError, DaggerError, InputError
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.core.spec import EnvSpec
from dagger_ros.ros.conversions import msg_tags, msg_to_array

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpaceConfig:
    """A real robot's spaces; left at obs_dim 0, they come from the gymnasium env id."""

    obs_dim: int = field(default=0, metadata=_meta(
        'robot observation length; 0 takes the spaces from the gymnasium env_id', '', 0))
    action_low: tuple[float, ...] = field(default=(), metadata=_meta(
        'robot action lower bounds, one per dimension (with obs_dim)', 'action units'))
    action_high: tuple[float, ...] = field(default=(), metadata=_meta(
        'robot action upper bounds, one per dimension (with obs_dim)', 'action units'))


def spec_from_config(env_id: str, cfg: SpaceConfig) -> EnvSpec:
    """Return the EnvSpec of a gymnasium id, or of the robot spaces the parameters give.

    Raises:
        ConfigError: unknown env id, or robot bounds that do not form valid spaces.
    """
    if cfg.obs_dim == 0:
        from dagger_ros.core.evaluation import make_env
        env = make_env(env_id)
        try:
            return EnvSpec.from_env(env, env_id)
        finally:
            env.close()
    try:
        return EnvSpec(env_id, cfg.obs_dim, len(cfg.action_low), cfg.action_low,
                       cfg.action_high)
    except DaggerError as err:
        raise ConfigError(f'robot spaces from obs_dim/action_low/action_high: {err}') from err


@dataclass(frozen=True)
class Stamped:
    """A vector received on a topic, with its tags and when it arrived (node clock, s)."""

    values: np.ndarray
    tags: dict[str, float]
    received_s: float

    def tag(self, name: str, default: float = -1.0) -> float:
        """One tag's value, or default when the message did not carry it."""
        return self.tags.get(name, default)


def read_vector(msg: Any, dim: int, what: str, now_s: float) -> Stamped:
    """Return a checked Float64MultiArray as a Stamped; raises InputError."""
    return Stamped(msg_to_array(msg, dim, what), msg_tags(msg), now_s)


def now_s(node: Node) -> float:
    """The node's clock (sim time when use_sim_time is set) in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


class Throttle:
    """Lets a repeated warning through at most once per period (per key)."""

    def __init__(self, period_s: float = 2.0) -> None:
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, key: str, t: float) -> bool:
        self.counts[key] = self.counts.get(key, 0) + 1
        if t - self._last.get(key, -float('inf')) < self.period_s:
            return False
        self._last[key] = t
        return True


def warn_bad_input(node: Node, throttle: Throttle, key: str, err: InputError) -> None:
    """Log a rejected message at most every few seconds, with how many were rejected."""
    if throttle(key, now_s(node)):
        node.get_logger().warning(f'rejected {key} ({throttle.counts[key]} so far): {err}')


def single_threaded_torch() -> None:
    """One torch thread per node: two threads give 12 ms p99 at batch 1 on two cores."""
    try:
        import torch
        torch.set_num_threads(1)
    except (ImportError, RuntimeError):  # torch absent, or threads already in use
        pass


def main_for(make_node: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Run one node until Ctrl-C/SIGTERM; return the exit code (2 for a bad configuration)."""
    return spin_nodes([make_node], args)


GIL_SWITCH_S = 0.0005
"""How long a busy thread (decoding weights, training) keeps the GIL from a callback that wants
it; Python's default of 5 ms would delay a control step by up to that much."""
EXECUTORS = ('single', 'events')
"""single: rclpy's SingleThreadedExecutor; events: rclpy.experimental.EventsExecutor, which
skips rebuilding the wait set on every spin and so answers sooner (driven by spin_once only)."""


def make_executor(kind: str) -> Any:
    """The executor of that kind; the single-threaded one where rclpy has no EventsExecutor."""
    if kind not in EXECUTORS:
        raise ConfigError(f'executor must be one of {EXECUTORS}, got {kind!r}')
    if kind == 'events':
        try:
            from rclpy.experimental import EventsExecutor
            return EventsExecutor()
        except ImportError:
            log.warning('this rclpy has no EventsExecutor; using the single-threaded one')
    return SingleThreadedExecutor()


def spin_nodes(factories: Sequence[Callable[[], Node]],
               args: Sequence[str] | None = None,
               link: Callable[[list[Node]], None] | None = None,
               executor_kind: str = 'single') -> int:
    """Run nodes on one executor until Ctrl-C/SIGTERM; return the exit code (2: bad config).

    rclpy's own signal handlers are off: they would shut the context down before the nodes
    could act. Here a signal only stops the spin loop, then each node's ``shutdown()`` (when it
    has one) runs while the context is still up, so a gate sends its last safe command and a
    trainer flushes its dataset. ``link``, when given, is called with the nodes once all exist;
    ``executor_kind`` is one of EXECUTORS.
    """
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    sys.setswitchinterval(GIL_SWITCH_S)
    rclpy.init(args=list(sys.argv if args is None else args),
               signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    nodes: list[Node] = []
    code = 0
    try:
        executor = make_executor(executor_kind)
        for make_node in factories:
            nodes.append(make_node())
        if link is not None:
            link(nodes)  # before the executor sees them: it may drop their subscriptions
        for node in nodes:
            executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.05)
    except ConfigError as err:
        log.error('bad configuration: %s', err)
        code = 2
    except ExternalShutdownException:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for node in reversed(nodes):
            if hasattr(node, 'shutdown'):
                node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
