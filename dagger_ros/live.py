"""The live loop from one command: the node graph as processes, watched round by round.

:func:`run_live` starts the graph of a profile (:func:`dagger_ros.graph.dagger_graph`) with the
bare-machine runner, one process per node on a private ROS domain, and joins the same domain
with a small monitor node that listens to ``trainer/progress`` and ``episode``. It prints one
line per round (labels, return, policy version, who drove), stops the graph after the last
round, and writes ``summary.json`` and ``learning_curve.png`` next to the trainer's dataset,
checkpoints and ``metrics.jsonl``. The nodes' own output goes to ``nodes.log``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import signal
import sys
import time
from typing import Any, IO

from dagger_ros import graph, run

log = logging.getLogger('dagger_ros.live')


@dataclass
class LiveOptions:
    """What one live run does."""

    out: Path
    env_id: str = 'Pendulum-v1'
    algorithm: str = 'dagger'
    rounds: int = 10
    seed: int = 0
    profile: str = 'sim'
    params_files: list[str] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout_s: float = 600.0
    verbose: bool = False
    composition: str = 'separate'


def live_specs(options: LiveOptions) -> list[graph.NodeSpec]:
    """The graph of a live run: the profile's nodes with the run's settings as overrides."""
    shared = {'env_id': options.env_id, 'rounds': options.rounds, 'seed': options.seed}
    overrides: dict[str, dict[str, Any]] = {'*': dict(shared)}
    overrides['trainer'] = {'run_dir': str(options.out.resolve() / 'run')}
    for node, values in options.overrides.items():
        overrides.setdefault(node, {}).update(values)
    return graph.dagger_graph(options.profile, algorithm=options.algorithm, overrides=overrides,
                              composition=options.composition)


def format_round(row: dict[str, float], rounds: int) -> str:
    """One progress line for a round the trainer finished."""
    parts = [f"round {int(row['round']):>2}/{rounds}", f"labels {int(row['labels']):>5}"]
    if 'return' in row:
        parts.append(f"return {row['return']:8.1f}")
    if 'normalized' in row:
        parts.append(f"({row['normalized']:4.0%} of expert)")
    parts.append(f"policy v{int(row['policy_version'])}")
    if 'expert_share' in row:
        parts.append(f"expert drove {row['expert_share']:4.0%}")
    if 'switches' in row:
        parts.append(f"switches {int(row['switches'])}")
    if 'seconds' in row:
        parts.append(f"train {row['seconds']:.1f} s")
    return '  '.join(parts)


class Monitor:
    """A node on the run's domain that collects progress rows and finished episodes."""

    def __init__(self, context: Any) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from std_msgs.msg import Float64MultiArray

        from dagger_ros.ros import qos, topics
        self.node = Node('live_monitor', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.rows: list[dict[str, float]] = []
        self.episodes: list[dict[str, float]] = []
        self.node.create_subscription(Float64MultiArray, topics.TRAINER_PROGRESS,
                                      self._on_progress, qos.for_topic(topics.TRAINER_PROGRESS))
        self.node.create_subscription(Float64MultiArray, topics.EPISODE, self._on_episode,
                                      qos.for_topic(topics.EPISODE))

    @staticmethod
    def _fields(msg: Any) -> dict[str, float]:
        from dagger_ros.ros.conversions import msg_to_fields
        vector, fields = msg_to_fields(msg, 'progress')
        return {name: float(value) for (name, _), value in zip(fields, vector)}

    def _on_progress(self, msg: Any) -> None:
        row = self._fields(msg)
        if 'round' in row and not any(r['round'] == row['round'] for r in self.rows):
            self.rows.append(row)

    def _on_episode(self, msg: Any) -> None:
        self.episodes.append(self._fields(msg))

    def spin(self, seconds: float) -> None:
        """Handle callbacks for about this long."""
        self.executor.spin_once(timeout_sec=seconds)

    def close(self) -> None:
        """Destroy the node."""
        self.executor.shutdown()
        self.node.destroy_node()


def run_live(options: LiveOptions, out: IO[str] | None = None) -> int:
    """Run the live loop until its last round; return 0, or 1 on a failure or timeout."""
    out = out or sys.stdout
    options.out.mkdir(parents=True, exist_ok=True)
    specs = live_specs(options)
    files = [graph.default_params_file('sim.yaml'), *options.params_files]
    with contextlib.ExitStack() as stack:
        from dagger_ros.ros.testing import claim_domain_id, private_context
        domain_id = stack.enter_context(claim_domain_id())
        context = stack.enter_context(private_context(domain_id))
        sink = out if options.verbose else stack.enter_context(
            open(options.out / 'nodes.log', 'a', encoding='utf-8'))
        monitor = Monitor(context)
        stack.callback(monitor.close)
        out.write(f'live {options.algorithm} on {options.env_id}: {len(specs)} processes on '
                  f'ROS_DOMAIN_ID={domain_id}, {options.rounds} rounds; node output in '
                  f"{'this terminal' if options.verbose else options.out / 'nodes.log'}\n")
        out.flush()
        stop = run.StopRequest()
        restore = stop.install()
        stack.callback(restore)
        processes = run.start_graph(specs, '', files, domain_id,
                                    command=lambda spec, ns, fs: graph.to_command(
                                        spec, ns, fs, params_dir=options.out / 'params'),
                                    sink=sink)
        outcome = _watch(processes, monitor, options, stop, out)
        processes.stop(signal.SIGINT, run.STOP_TIMEOUT_S)
        failed = [name for name in processes.failed() if name != 'trainer' or outcome != 'done']
        _write_summary(options, monitor, outcome, processes.report(), out)
    if failed:
        log.error('nodes that failed: %s', ', '.join(failed))
    return 0 if outcome == 'done' and not failed else 1


def _watch(processes: run.GraphProcesses, monitor: Monitor, options: LiveOptions,
           stop: run.StopRequest, out: IO[str]) -> str:
    """Print rounds as they finish; return 'done', 'timeout', 'interrupted' or 'node_exited'."""
    deadline = time.monotonic() + options.timeout_s
    printed = 0
    while True:
        monitor.spin(0.1)
        for row in monitor.rows[printed:]:
            out.write(format_round(row, options.rounds) + '\n')
            out.flush()
        printed = len(monitor.rows)
        if any(row['round'] >= options.rounds for row in monitor.rows):
            return 'done'
        processes.watch()
        if stop.event.is_set():
            return 'interrupted'
        if len(processes.running()) < len(processes.nodes) and not processes.has_pending_respawn():
            return 'node_exited'
        if time.monotonic() > deadline:
            return 'timeout'


def _write_summary(options: LiveOptions, monitor: Monitor, outcome: str, report: str,
                   out: IO[str]) -> None:
    rows = sorted(monitor.rows, key=lambda row: row['round'])
    run_dir = options.out / 'run'
    baselines = _read_json(run_dir / 'baselines.json')
    summary = {'outcome': outcome, 'env_id': options.env_id, 'algorithm': options.algorithm,
               'rounds': rows, 'episodes': monitor.episodes, **baselines,
               'nodes': report.splitlines()}
    if rows:
        summary['final'] = rows[-1]
    (options.out / 'summary.json').write_text(json.dumps(summary, indent=2, default=float))
    if rows and baselines and all('return' in row for row in rows):
        from dagger_ros.core.plots import plot_learning_curves
        curve = [{'labels': row['labels'], 'return_mean': row['return']} for row in rows]
        plot_learning_curves({f'{options.algorithm} (live)': curve}, baselines['expert_return'],
                             baselines['random_return'], options.out / 'learning_curve.png',
                             f'{options.env_id}: live {options.algorithm} over ROS 2')
    out.write(_closing_text(outcome, rows, baselines, options) + '\n')
    out.flush()


def _closing_text(outcome: str, rows: list[dict[str, float]], baselines: dict[str, float],
                  options: LiveOptions) -> str:
    lines = [f'--- live run {outcome} after {len(rows)} trained rounds ---']
    if rows:
        last = rows[-1]
        lines.append(f"final policy v{int(last['policy_version'])} on {int(last['labels'])} "
                     f'labels')
        if 'normalized' in last:
            lines.append(f"return {last['return']:.1f} = {last['normalized']:.0%} of the expert "
                         f"(expert {baselines.get('expert_return', float('nan')):.1f}, random "
                         f"{baselines.get('random_return', float('nan')):.1f})")
    lines.append(f"written: {options.out / 'summary.json'}, "
                 f"{options.out / 'learning_curve.png'}, {options.out / 'run'}/")
    return '\n'.join(lines)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
