"""Bare-machine runner: start the live graph as one process per node, without ros2 launch.

Every node of :func:`dagger_ros.graph.dagger_graph` runs as ``python -m dagger_ros.nodes.<role>``
(:func:`dagger_ros.graph.to_command`) on one ROS_DOMAIN_ID, in its own process group, with its
output streamed line by line behind a ``[node_name]`` prefix. Ctrl-C or SIGTERM to the runner is
forwarded to every node (to the whole process group, so helpers a node started stop too); nodes
still running after the stop timeout get SIGKILL. A node that exits while the graph runs is
reported and the others keep running; a respawning node (graph.NodeSpec.respawn) is restarted
as launch would. The runner exits 0 only if every node exited 0 every time.

Example::

    python -m dagger_ros.run --profile sim --params-file config/sim.yaml --domain-id auto
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from dataclasses import field
import logging
import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, IO, Mapping, Sequence

import yaml

from dagger_ros import graph
from dagger_ros.core.errors import ConfigError
from dagger_ros.graph import NodeSpec

log = logging.getLogger('dagger_ros.run')

CommandBuilder = Callable[[NodeSpec, str, Sequence[str]], list[str]]
STOP_TIMEOUT_S = 10.0


def build_env(domain_id: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the children's environment: env (default os.environ) on domain_id, unbuffered."""
    result = dict(os.environ if env is None else env)
    result['ROS_DOMAIN_ID'] = str(domain_id)
    result['PYTHONUNBUFFERED'] = '1'
    return result


def _pump(stream: IO[bytes], prefix: str, sink: IO[str], lock: threading.Lock) -> None:
    """Copy a child's output to sink line by line, each line behind prefix."""
    for raw in iter(stream.readline, b''):
        line = raw.decode(errors='replace').rstrip('\n')
        with lock:
            sink.write(f'{prefix}{line}\n')
            sink.flush()
    stream.close()


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send sig to the process group proc leads; a group already gone is fine."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class NodeProcess:
    """One node's process and its history (exit codes of earlier runs, when it respawned)."""

    spec: NodeSpec
    argv: list[str]
    proc: subprocess.Popen
    pump: threading.Thread
    exits: list[int] = field(default_factory=list)
    killed: bool = False
    exited_at: float | None = None

    @property
    def returncode(self) -> int | None:
        """The current process' exit code, or None while it runs."""
        return self.proc.poll()


class GraphProcesses:
    """The running graph: start, watch, respawn, stop and report the node processes."""

    def __init__(self, env: Mapping[str, str], sink: IO[str] | None = None,
                 respawn_delay_s: float = graph.RESPAWN_DELAY_S,
                 max_respawns: int = graph.RESPAWN_MAX_RETRIES) -> None:
        self.env = dict(env)
        self.sink = sink if sink is not None else sys.stdout
        self.nodes: dict[str, NodeProcess] = {}
        self.stopping = False
        self._lock = threading.Lock()
        self._respawn_delay_s = respawn_delay_s
        self._max_respawns = max_respawns

    def start(self, spec: NodeSpec, argv: list[str]) -> NodeProcess:
        """Start (or restart) one node in its own process group and stream its output."""
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        pump = threading.Thread(target=_pump, args=(proc.stdout, f'[{spec.name}] ', self.sink,
                                                    self._lock), daemon=True)
        pump.start()
        previous = self.nodes.get(spec.name)
        node = NodeProcess(spec, argv, proc, pump, exits=previous.exits if previous else [])
        self.nodes[spec.name] = node
        log.info('started %s (pid %d): %s', spec.name, proc.pid, shlex.join(argv))
        return node

    def running(self) -> list[str]:
        """Names of the nodes whose process is alive."""
        return [name for name, node in self.nodes.items() if node.returncode is None]

    def watch(self, now: float | None = None) -> None:
        """Record exits since the last call and restart respawning nodes whose delay passed."""
        now = time.monotonic() if now is None else now
        for node in list(self.nodes.values()):
            code = node.returncode
            if code is not None and node.exited_at is None:
                node.pump.join(timeout=1.0)  # its last lines before the exit report
                node.exited_at = now
                node.exits.append(code)
                log.log(logging.INFO if code == 0 else logging.ERROR,
                        '%s exited with %s', node.spec.name, describe_exit(code))
            if self._should_respawn(node, now):
                log.warning('respawning %s (%d of %d)', node.spec.name, len(node.exits),
                            self._max_respawns)
                self.start(node.spec, node.argv)

    def _should_respawn(self, node: NodeProcess, now: float) -> bool:
        return (not self.stopping and node.spec.respawn and node.exited_at is not None
                and node.returncode is not None and len(node.exits) <= self._max_respawns
                and now - node.exited_at >= self._respawn_delay_s)

    def has_pending_respawn(self) -> bool:
        """True when a node that exited will be restarted once its respawn delay passed."""
        return any(self._should_respawn(node, float('inf')) for node in self.nodes.values())

    def send(self, sig: int) -> None:
        """Send sig to every running node's process group."""
        for name in self.running():
            signal_group(self.nodes[name].proc, sig)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = STOP_TIMEOUT_S,
             interrupted: Callable[[], bool] = lambda: False) -> None:
        """Forward sig to every node, wait up to timeout_s, then SIGKILL what still runs.

        interrupted() returning True (a second Ctrl-C) cuts the wait short.
        """
        self.stopping = True
        self.send(sig)
        deadline = time.monotonic() + timeout_s
        while self.running() and time.monotonic() < deadline and not interrupted():
            time.sleep(0.02)
        if self.running():
            self.kill()
        self.wait(5.0)
        for node in self.nodes.values():
            signal_group(node.proc, signal.SIGKILL)  # helpers left behind by exited nodes
        self.watch()

    def kill(self) -> None:
        """SIGKILL every node still running (and its process group)."""
        for name in self.running():
            log.error('%s did not stop in time: SIGKILL', name)
            self.nodes[name].killed = True
            signal_group(self.nodes[name].proc, signal.SIGKILL)

    def wait(self, timeout_s: float) -> bool:
        """Wait until every node exited or timeout_s passed; True when all exited."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes.values():
            try:
                node.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        for node in self.nodes.values():
            node.pump.join(timeout=1.0)
        return True

    def failed(self) -> list[str]:
        """Names of the nodes that ever exited non-zero or had to be killed."""
        return [name for name, node in self.nodes.items()
                if node.killed or any(code != 0 for code in node.exits)]

    def report(self) -> str:
        """One line per node: its exit code(s), and whether it was killed or respawned."""
        lines = []
        for name, node in self.nodes.items():
            codes = ', '.join(describe_exit(code) for code in node.exits) or 'still running'
            notes = ' (SIGKILL after the stop timeout)' if node.killed else ''
            if len(node.exits) > 1:
                notes += f' (respawned {len(node.exits) - 1}x)'
            lines.append(f'{name}: {codes}{notes}')
        return '\n'.join(lines)


def describe_exit(code: int) -> str:
    """Return an exit code as text; a negative code names the signal that ended the process."""
    if code >= 0:
        return f'exit {code}'
    try:
        return f'killed by {signal.Signals(-code).name}'
    except ValueError:
        return f'killed by signal {-code}'


def start_graph(specs: Sequence[NodeSpec], namespace: str, params_file: str | Sequence[str],
                domain_id: int, env: Mapping[str, str] | None = None,
                command: CommandBuilder | None = None, sink: IO[str] | None = None,
                **options: Any) -> GraphProcesses:
    """Start every spec as its own process on domain_id and return the running graph.

    Args:
        specs: the nodes, in start order.
        namespace: namespace of every node.
        params_file: one params YAML or several (later ones win).
        domain_id: ROS_DOMAIN_ID of every node.
        env: base environment (default os.environ).
        command: builds a node's argv; :func:`dagger_graph.to_command` by default (tests pass
            dummy processes).
        sink: where the prefixed output goes (default sys.stdout).
        **options: respawn_delay_s and max_respawns of :class:`GraphProcesses`.
    """
    build = command or (lambda spec, ns, files: graph.to_command(spec, ns, files))
    processes = GraphProcesses(build_env(domain_id, env), sink, **options)
    try:
        for spec in specs:
            processes.start(spec, build(spec, namespace, params_file))
    except BaseException:
        processes.stop(signal.SIGTERM, timeout_s=5.0)
        raise
    return processes


class StopRequest:
    """Set by SIGINT/SIGTERM: which signal to forward; a second signal asks for SIGKILL."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal = signal.SIGINT
        self.count = 0

    def __call__(self, signum: int, frame: Any = None) -> None:
        self.count += 1
        self.signal = signal.Signals(signum)
        self.event.set()

    def install(self) -> Callable[[], None]:
        """Install as the SIGINT and SIGTERM handler; return a function that restores the old."""
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]


def supervise(processes: GraphProcesses, stop: StopRequest, poll_s: float = 0.1,
              stop_timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Watch the graph until every node exited or a stop was requested; return the exit status.

    A stop forwards the received signal to every node; nodes that outlive stop_timeout_s (or
    a second Ctrl-C) get SIGKILL. Returns 0 when every node always exited 0, else 1.
    """
    while not stop.event.is_set():
        processes.watch()
        if not processes.running() and not processes.has_pending_respawn():
            break
        stop.event.wait(poll_s)
    if stop.event.is_set():
        log.info('%s: stopping %d nodes', stop.signal.name, len(processes.running()))
        seen = stop.count
        processes.stop(stop.signal, stop_timeout_s, interrupted=lambda: stop.count > seen)
    processes.watch()
    for line in processes.report().splitlines():
        log.info('%s', line)
    failed = processes.failed()
    if failed:
        log.error('nodes that failed: %s', ', '.join(failed))
    return 1 if failed else 0


def parse_set(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Parse ``node.param=value`` (YAML value) items into graph overrides; node may be *."""
    overrides: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition('=')
        node, dot, param = key.partition('.')
        if not sep or not dot or not node or not param:
            raise ConfigError(f'--set expects node.param=value (node may be *), got {item!r}')
        overrides.setdefault(node, {})[param] = yaml.safe_load(text)
    return overrides


def _parse_remaps(items: Sequence[str]) -> dict[str, str]:
    remaps = {}
    for item in items:
        source, sep, target = item.partition(':=')
        if not sep:
            raise ConfigError(f'--remap expects from:=to, got {item!r}')
        remaps[graph.check_topic_name(source)] = graph.check_topic_name(target)
    return remaps


def _domain_id(text: str | None, stack: contextlib.ExitStack) -> int:
    """The domain id of --domain-id; 'auto' claims a free one for as long as stack is open."""
    if text is None:
        return int(os.environ.get('ROS_DOMAIN_ID', '0') or 0)
    if text == 'auto':
        from dagger_ros.ros.testing import claim_domain_id
        return stack.enter_context(claim_domain_id())
    if not text.isdigit() or not 0 <= int(text) <= 232:
        raise ConfigError(f'--domain-id must be auto or 0..232, got {text!r}')
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The runner's command line."""
    parser = argparse.ArgumentParser(
        prog='dagger-ros-live', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--profile', default='sim', choices=sorted(graph.PROFILES))
    parser.add_argument('--params-file', action='append', default=None,
                        help='params YAML (repeatable; later ones win); default: config/sim.yaml')
    parser.add_argument('--namespace', default='', help='namespace of every node and topic')
    parser.add_argument('--algorithm', default=None, help="default: the profile's")
    parser.add_argument('--domain-id', default=None,
                        help='ROS_DOMAIN_ID of every node: 0..232 or auto (a free one); '
                             'default: $ROS_DOMAIN_ID or 0')
    parser.add_argument('--use-sim-time', action='store_true')
    parser.add_argument('--composition', default='separate', choices=graph.COMPOSITIONS,
                        help='separate: a process per node; composed: executor, expert and gate '
                             'in one process; inline: that, the gate calling them directly')
    parser.add_argument('--set', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='extra parameter for one node (NODE may be *); repeatable')
    parser.add_argument('--remap', action='append', default=[], metavar='FROM:=TO',
                        help='topic remapping for every node; repeatable')
    parser.add_argument('--stop-timeout', type=float, default=STOP_TIMEOUT_S,
                        help='seconds the nodes get to exit after Ctrl-C before SIGKILL')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the command of every node and exit')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the live graph until Ctrl-C or until every node exited; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='[dagger-ros-live] %(message)s')
    with contextlib.ExitStack() as stack:
        try:
            files = args.params_file or [graph.default_params_file('sim.yaml')]
            specs = graph.dagger_graph(args.profile, algorithm=args.algorithm,
                                       overrides=parse_set(args.set),
                                       remap=_parse_remaps(args.remap),
                                       use_sim_time=args.use_sim_time,
                                       composition=args.composition)
            namespace = graph.normalize_namespace(args.namespace)
            if args.dry_run:
                sys.stdout.write(''.join(shlex.join(graph.to_command(spec, namespace, files))
                                         + '\n' for spec in specs))
                return 0
            missing = [path for path in files if not Path(path).is_file()]
            if missing:
                raise ConfigError(f'params file(s) not found: {missing}')
            domain_id = _domain_id(args.domain_id, stack)
        except ConfigError as err:
            log.error('%s', err)
            return 2
        log.info('profile %s on ROS_DOMAIN_ID=%d, namespace %r', args.profile, domain_id,
                 namespace or '/')
        return run_graph(specs, namespace, files, domain_id, args.stop_timeout)


def run_graph(specs: Sequence[NodeSpec], namespace: str, params_file: str | Sequence[str],
              domain_id: int, stop_timeout_s: float = STOP_TIMEOUT_S,
              **start_options: Any) -> int:
    """Start the graph, supervise it with SIGINT/SIGTERM forwarding, return the exit status.

    Must run in the main thread (it installs signal handlers, and restores them on return).
    start_options go to :func:`start_graph` (command, env, sink, respawn options).
    """
    stop = StopRequest()
    restore = stop.install()
    try:
        processes = start_graph(specs, namespace, params_file, domain_id, **start_options)
        return supervise(processes, stop, stop_timeout_s=stop_timeout_s)
    finally:
        restore()


if __name__ == '__main__':
    sys.exit(main())
