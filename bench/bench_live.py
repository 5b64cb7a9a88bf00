"""Live loop: observation -> command through the real node graph against a bare rclpy echo.

The benchmark process plays the robot. It publishes observations and waits for the command
that answers each one (matched by its seq tag), through the policy executor, the scripted
expert and the expert gate, each its own process over DDS (DAgger after the demonstration
round: the gate waits for the policy's action and the expert's label of every observation).
The same nodes run as a process each (graph), in one process (composed), and in one process
with ``--inline --executor events`` (inline: the gate calls the executor and the expert
directly). The sim configurations run the whole graph, sim bridge included, and take the round
trips and missed deadlines the sim bridge itself reports on ``loop_timing``. The baseline,
measured in the same run, is a bare rclpy echo process answering the same message on the same
QoS on the SingleThreadedExecutor; it runs first and again last (echo-end), and the ratios use
the run with the lower p99, the stricter baseline. Reported:

* closed-loop round trip p50/p99/max and the highest closed-loop rate (one observation in
  flight, the next sent when the command arrives);
* at fixed rates (100, 500, 1000 Hz, timer-driven like hardware): missed deadlines, i.e. the
  command for an observation not back before the next observation is due;
* the highest of a ladder of rates (50 Hz to 1 kHz) sustained without a missed deadline;
* the same with the trainer retraining in the background (a round every 200 steps).

    .venv/bin/python bench/bench_live.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
from pathlib import Path
import signal
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from common import write_results  # noqa: E402
from plots import plot_live  # noqa: E402

OBS = [0.9, 0.1, -0.3]


class Robot:
    """The benchmark's node: sends observations, times the commands that answer them."""

    def __init__(self, context: Any, send_topic: str, reply_topic: str) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from std_msgs.msg import Float64MultiArray

        from dagger_ros.ros import qos, topics
        self.node = Node('bench_robot', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.pub = self.node.create_publisher(Float64MultiArray, send_topic,
                                              qos.for_topic(topics.OBSERVATION))
        self.node.create_subscription(Float64MultiArray, reply_topic, self.on_reply,
                                      qos.for_topic(topics.COMMAND))
        self.sent: dict[int, float] = {}
        self.back: dict[int, float] = {}
        self.seq = 0

    def on_reply(self, msg: Any) -> None:
        from dagger_ros.ros.conversions import msg_tags
        seq = msg_tags(msg).get('seq')
        if seq is not None and int(seq) in self.sent and int(seq) not in self.back:
            self.back[int(seq)] = time.perf_counter()

    def send(self) -> int:
        from dagger_ros.ros.conversions import tagged_msg
        self.seq += 1
        msg = tagged_msg(OBS, 'observation', {'seq': self.seq, 'episode': 0,
                                              'step': self.seq})
        self.sent[self.seq] = time.perf_counter()
        self.pub.publish(msg)
        return self.seq

    def wait_reply(self, seq: int, timeout_s: float) -> bool:
        deadline = time.perf_counter() + timeout_s
        while seq not in self.back and time.perf_counter() < deadline:
            self.executor.spin_once(timeout_sec=0.005)
        return seq in self.back

    def closed_loop(self, count: int, warmup: int = 50) -> dict[str, float]:
        """Round trips with one observation in flight."""
        for _ in range(warmup):
            self.wait_reply(self.send(), 2.0)
        rtts, start, lost = [], time.perf_counter(), 0
        for _ in range(count):
            seq = self.send()
            if self.wait_reply(seq, 1.0):
                rtts.append(self.back[seq] - self.sent[seq])
            else:
                lost += 1
        elapsed = time.perf_counter() - start
        ms = np.array(rtts) * 1e3
        return {'p50_ms': float(np.percentile(ms, 50)), 'p99_ms': float(np.percentile(ms, 99)),
                'max_ms': float(ms.max()), 'lost': lost, 'closed_loop_hz': count / elapsed,
                'rtt_ms': [round(float(v), 4) for v in np.sort(ms)]}

    def fixed_rate(self, rate_hz: float, seconds: float) -> dict[str, float]:
        """Observations at rate_hz; a miss is a command not back within one period."""
        period = 1.0 / rate_hz
        first = self.seq + 1
        start = time.perf_counter()
        due = start
        while due - start < seconds:
            while time.perf_counter() < due:
                self.executor.spin_once(timeout_sec=max(0.0, due - time.perf_counter()))
            self.send()
            due += period
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:
            self.executor.spin_once(timeout_sec=0.01)
        seqs = range(first, self.seq + 1)
        late = [s for s in seqs if self.back.get(s, np.inf) - self.sent[s] > period]
        sent = len(seqs)
        actual = sent / max(self.sent[self.seq] - self.sent[first], 1e-9)
        return {'rate_hz': rate_hz, 'sent': sent, 'achieved_send_hz': actual,
                'missed': len(late), 'missed_share': len(late) / sent}

    def wait_ready(self, timeout_s: float) -> bool:
        """Until an observation is answered (the far side is up and past its first round)."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.wait_reply(self.send(), 0.5):
                return True
        return False

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def echo_main(events: bool = False) -> int:
    """The bare baseline: answer every 'ping' on 'pong', tags and data unchanged.

    events: spin rclpy's EventsExecutor (with spin_once: its spin() does not dispatch in every
    release) instead of the SingleThreadedExecutor, to show what that executor alone gains.
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from std_msgs.msg import Float64MultiArray

    from dagger_ros.ros import qos, topics
    rclpy.init()
    node = Node('bench_echo')
    pub = node.create_publisher(Float64MultiArray, 'pong', qos.for_topic(topics.COMMAND))
    node.create_subscription(Float64MultiArray, 'ping', pub.publish,
                             qos.for_topic(topics.OBSERVATION))
    if events:
        from rclpy.experimental import EventsExecutor
        executor = EventsExecutor()
    else:
        executor = SingleThreadedExecutor()
    executor.add_node(node)
    with contextlib.suppress(KeyboardInterrupt):
        if events:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.05)
        else:
            executor.spin()
    return 0


def _echo(domain_id: int, events: bool) -> Any:
    import subprocess
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id)}
    flag = '--echo-events' if events else '--echo'
    return subprocess.Popen([sys.executable, __file__, flag], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _graph(domain_id: int, run_dir: Path, with_trainer: bool,
           composed: Sequence[str] | None = None) -> Any:
    """The nodes under test; composed: None (a process each) or the composed process's options."""
    from dagger_ros import graph
    settings = {'demo_steps': 1, 'steps_per_round': 200 if with_trainer else 10 ** 9,
                'rounds': 10 ** 6, 'sync_rounds': False, 'lockstep_timeout_s': 1.0,
                'epochs': 1000, 'max_updates': 100000, 'eval_episodes': 1}
    overrides = {'*': settings, 'trainer': {'run_dir': str(run_dir), 'evaluate': False}}
    specs = graph.dagger_graph('sim', overrides=overrides,
                               composition='separate' if composed is None else 'composed')
    # the robot under test is this process, not the sim bridge
    specs = [dataclasses.replace(spec, options=tuple(composed or ())) if spec.members else spec
             for spec in specs if spec.name != 'sim_bridge'
             and (with_trainer or spec.name != 'trainer')]
    return _start(specs, domain_id, run_dir)


def _start(specs: list[Any], domain_id: int, run_dir: Path) -> Any:
    """Start specs as processes on domain_id, their params files under run_dir, output kept."""
    from dagger_ros import graph, run
    return run.start_graph(
        specs, '', [graph.default_params_file('sim.yaml')], domain_id,
        command=lambda spec, ns, files: graph.to_command(spec, ns, files,
                                                         params_dir=run_dir / 'params'),
        sink=io.StringIO())


def measure(kind: str, rates: list[float], count: int, seconds: float) -> dict[str, Any]:
    """One configuration of KINDS (or inline-single, composed+training)."""
    from dagger_ros.ros.testing import claim_domain_id, private_context
    if kind in SIM_KINDS:
        return measure_sim(kind, rates, count, seconds)
    with contextlib.ExitStack() as stack:
        domain_id = stack.enter_context(claim_domain_id())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if kind in ('echo', 'echo-end', 'echo-events'):
            proc = _echo(domain_id, kind == 'echo-events')
            stack.callback(lambda: (os.killpg(proc.pid, signal.SIGINT), proc.wait(10)))
            send, reply = 'ping', 'pong'
        else:
            base = kind.split('+')[0]
            processes = _graph(domain_id, tmp / 'run', 'training' in kind, COMPOSED.get(base))
            stack.callback(lambda: processes.stop(signal.SIGINT, 10.0))
            send, reply = 'observation', 'command'
            if base.endswith('-pinned'):
                pin_control_and_training(processes)
                stack.callback(unpin_self)
        context = stack.enter_context(private_context(domain_id))
        robot = Robot(context, send, reply)
        stack.callback(robot.close)
        if not robot.wait_ready(90.0):
            raise RuntimeError(f'{kind}: no reply within 90 s')
        if 'training' in kind:
            time.sleep(3.0)  # let the first retraining start
        result = {'kind': kind, 'closed_loop': robot.closed_loop(count)}
        result['rates'] = [robot.fixed_rate(rate, seconds) for rate in rates]
        result['max_rate_without_miss_hz'] = max_clean_rate(robot, seconds)
        return result


SIM_KINDS = {'sim': 'separate', 'sim-inline': 'inline'}
"""The whole sim profile, sim bridge included, as a process per node or with the inline control
process; the round trips are the ones the sim bridge itself reports on loop_timing."""


class TimingListener:
    """Collects the sim bridge's loop_timing reports: (arrival, ticks, missed, round trips s)."""

    def __init__(self, context: Any) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from std_msgs.msg import Float64MultiArray

        from dagger_ros.ros import qos, topics
        self.node = Node('bench_timing', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.reports: list[tuple[float, int, int, np.ndarray]] = []
        self.node.create_subscription(Float64MultiArray, topics.LOOP_TIMING, self.on_report,
                                      qos.for_topic(topics.LOOP_TIMING))

    def on_report(self, msg: Any) -> None:
        from dagger_ros.nodes.sim_bridge import read_timing_msg
        report = read_timing_msg(msg)
        self.reports.append((time.perf_counter(), report.ticks, report.missed,
                             np.array(report.round_trips_s)))

    def collect(self, seconds: float, warm_s: float = 90.0) -> list[tuple]:
        """Reports over about seconds, from the second one with answers on (start-up left out)."""
        deadline = time.perf_counter() + warm_s
        while sum(len(r[3]) > 0 for r in self.reports) < 2:
            if time.perf_counter() > deadline:
                raise RuntimeError(f'no round trips reported within {warm_s:.0f} s')
            self.executor.spin_once(timeout_sec=0.05)
        first = len(self.reports)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(self.reports) == first:
            self.executor.spin_once(timeout_sec=0.05)
        return self.reports[first:]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def _sim_graph(domain_id: int, run_dir: Path, composition: str, mode: str,
               rate_hz: float) -> Any:
    """The sim profile without the trainer: the sim bridge in mode at rate_hz."""
    from dagger_ros import graph
    settings = {'demo_steps': 1, 'steps_per_round': 10 ** 9, 'rounds': 10 ** 6,
                'sync_rounds': False, 'lockstep_timeout_s': 1.0}
    overrides = {'*': settings, 'sim_bridge': {'mode': mode, 'rate_hz': rate_hz,
                                               'timing_period_s': 0.5}}
    specs = [spec for spec in graph.dagger_graph('sim', overrides=overrides,
                                                 composition=composition)
             if spec.name != 'trainer']
    return _start(specs, domain_id, run_dir)


def _sim_run(composition: str, mode: str, rate_hz: float, seconds: float) -> list[tuple]:
    from dagger_ros.ros.testing import claim_domain_id, private_context
    with contextlib.ExitStack() as stack:
        domain_id = stack.enter_context(claim_domain_id())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        processes = _sim_graph(domain_id, tmp, composition, mode, rate_hz)
        stack.callback(lambda: processes.stop(signal.SIGINT, 10.0))
        listener = TimingListener(stack.enter_context(private_context(domain_id)))
        stack.callback(listener.close)
        return listener.collect(seconds)


def measure_sim(kind: str, rates: list[float], count: int, seconds: float) -> dict[str, Any]:
    """A SIM_KINDS configuration: closed loop in lockstep, then each rate in real time.

    Lockstep steps the moment a command answers the observation, so its round trips are the
    closed loop; a real-time bridge ticks at the rate and counts the commands not back by the
    next tick. The highest clean rate is the highest of ``rates`` without a miss (no sweep:
    every rate is a fresh start of the graph).
    """
    composition = SIM_KINDS[kind]
    reports = _sim_run(composition, 'lockstep', 1000.0, max(seconds, 2.0))
    round_trips = np.concatenate([r[3] for r in reports])[-count:] * 1e3
    closed = {'p50_ms': float(np.percentile(round_trips, 50)),
              'p99_ms': float(np.percentile(round_trips, 99)),
              'max_ms': float(round_trips.max()), 'lost': 0,
              'closed_loop_hz': sum(len(r[3]) for r in reports[1:]) / _span(reports),
              'rtt_ms': [round(float(v), 4) for v in np.sort(round_trips)]}
    fixed = []
    for rate in rates:
        reports = _sim_run(composition, 'realtime', rate, seconds)
        ticks, missed = sum(r[1] for r in reports), sum(r[2] for r in reports)
        fixed.append({'rate_hz': rate, 'sent': ticks,
                      'achieved_send_hz': ticks / _span(reports) if len(reports) > 1
                      else float('nan'),
                      'missed': missed, 'missed_share': missed / max(ticks, 1)})
    clean = max([r['rate_hz'] for r in fixed if r['missed'] == 0], default=0.0)
    return {'kind': kind, 'closed_loop': closed, 'rates': fixed,
            'max_rate_without_miss_hz': clean}


def _span(reports: list[tuple]) -> float:
    """Seconds from the first report's arrival to the last's."""
    return max(reports[-1][0] - reports[0][0], 1e-9)


def pin_process(pid: int, cpus: set[int]) -> None:
    """Set the CPU affinity of every thread of a process (Linux), as ``taskset -a`` does."""
    for tid in os.listdir(f'/proc/{pid}/task'):
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(tid), cpus)


def pin_control_and_training(processes: Any) -> None:
    """The trainer on CPU 1; the control path and this process (the robot) on CPU 0."""
    for name, node in processes.nodes.items():
        pin_process(node.proc.pid, {1} if name == 'trainer' else {0})
    pin_process(os.getpid(), {0})


def unpin_self() -> None:
    """This process back on every CPU."""
    pin_process(os.getpid(), set(range(os.cpu_count() or 1)))


KINDS = ('echo', 'graph', 'graph+training', 'composed', 'inline', 'inline+training',
         'inline-pinned', 'inline-pinned+training', 'sim', 'sim-inline')
"""echo: the baseline; graph: each node its own process; composed: executor, expert and gate
in one process; inline: that process with --inline (the gate calls the executor and the
expert directly) on the EventsExecutor. Also known, not run by default: echo-events (the echo
on the EventsExecutor, for comparison only), inline-single (--inline on the
SingleThreadedExecutor) and composed+training. inline-pinned: inline with the control path
and the robot on CPU 0 and the trainer on CPU 1, as ``taskset`` would place them on a robot.
sim, sim-inline: see SIM_KINDS."""
INLINE = ('--inline', '--executor', 'events')
COMPOSED = {'composed': (), 'inline': INLINE, 'inline-single': ('--inline',),
            'inline-pinned': INLINE}
"""composed_node options of each one-process configuration."""
SWEEP_HZ = (50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 750.0, 1000.0)


def max_clean_rate(robot: Robot, seconds: float) -> float:
    """The highest rate of SWEEP_HZ with no missed deadline (0 when even the lowest misses)."""
    best = 0.0
    for rate in SWEEP_HZ:
        if robot.fixed_rate(rate, seconds)['missed']:
            break
        best = rate
    return best


def table(results: list[dict[str, Any]]) -> str:
    """Readable lines of every configuration, then the ratios the targets are about."""
    lines = [f"{'configuration':<24}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'loop Hz':>9}"
             + ''.join(f"{'miss@' + str(int(r['rate_hz'])):>11}" for r in results[0]['rates'])
             + f"{'clean Hz':>10}"]
    for res in results:
        c = res['closed_loop']
        lines.append(f"{res['kind']:<24}{c['p50_ms']:8.2f}{c['p99_ms']:8.2f}{c['max_ms']:8.1f}"
                     f"{c['closed_loop_hz']:9.0f}"
                     + ''.join(f"{r['missed']:>6}/{r['sent']:<4}" for r in res['rates'])
                     + f"{res['max_rate_without_miss_hz']:10.0f}")
    by_kind = {res['kind']: res['closed_loop'] for res in results}
    ratios = targets(by_kind)
    lines += [f'{name}: {value:.2f}' for name, value in ratios.items()]
    return '\n'.join(lines)


def targets(by_kind: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per configuration: p99 over the echo's, and with training over without (goals 1.5, 1.2)."""
    ratios = {}
    echoes = [by_kind[kind] for kind in ('echo', 'echo-end') if kind in by_kind]
    echo = min(echoes, key=lambda run: run['p99_ms']) if echoes else None
    if 'echo-events' in by_kind and echo:
        ratios['echo_events_p99_over_echo_p99_extra'] = (by_kind['echo-events']['p99_ms']
                                                         / echo['p99_ms'])
    for kind in ('graph', *COMPOSED, *SIM_KINDS):
        if kind in by_kind and echo:
            ratios[f'{kind}_p99_over_echo_p99'] = by_kind[kind]['p99_ms'] / echo['p99_ms']
            ratios[f'{kind}_p50_over_echo_p50'] = by_kind[kind]['p50_ms'] / echo['p50_ms']
        if f'{kind}+training' in by_kind and kind in by_kind:
            ratios[f'{kind}_training_p99_over_idle_p99'] = (
                by_kind[f'{kind}+training']['p99_ms'] / by_kind[kind]['p99_ms'])
    return ratios


def main(argv: list[str] | None = None) -> int:
    """Measure echo, graph and graph+training; write bench/results/<name>.{json,txt}."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer round trips, 2 s per rate')
    parser.add_argument('--echo', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--echo-events', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--name', default='live')
    parser.add_argument('--kinds', default=','.join(KINDS), help='configurations to measure')
    args = parser.parse_args(argv)
    if args.echo or args.echo_events:
        return echo_main(events=args.echo_events)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    count, seconds = (300, 2.0) if args.quick else (2000, 5.0)
    rates = [100.0, 500.0, 1000.0]
    kinds = args.kinds.split(',')
    if 'echo' in kinds and len(kinds) > 1:
        kinds.append('echo-end')  # the baseline again, after everything else
    results = []
    for kind in kinds:
        results.append(measure(kind, rates, count, seconds))
        print(f'{kind}: done', flush=True)
    text = table(results)
    by_kind = {res['kind']: res['closed_loop'] for res in results}
    out = write_results(args.name, {'results': results, 'targets': targets(by_kind),
                                    'quick': args.quick}, text)
    plot_live(results, out.with_suffix('.png'))
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
