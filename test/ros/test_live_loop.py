"""End-to-end: the live loop's nodes as separate processes over real DDS on a private domain.

The graph is started by the bare-machine runner (the same commands ``dagger-ros live`` uses);
the test joins the domain with a probe node that watches and injects messages.
"""

import io
import os
import signal
import time

import numpy as np
import pytest
from std_msgs.msg import Bool, Float64MultiArray

from dagger_ros import graph, run
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.types import Source
from dagger_ros.ros import topics
from dagger_ros.ros.conversions import msg_tags, msg_to_fields, tagged_msg
from dagger_ros.ros.testing import claim_domain_id, private_context, Probe, spin_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

LEARNING = {'rounds': 4, 'demo_steps': 200, 'steps_per_round': 100, 'eval_episodes': 2,
            'max_updates': 600}


class Graph:
    """The node processes and a probe on their domain; stopped on exit."""

    def __init__(self, tmp_path, overrides, collects, publishes=None):
        self.log = io.StringIO()
        self.stack = []
        self.domain = claim_domain_id()
        domain_id = self.domain.__enter__()
        self.context_manager = private_context(domain_id)
        context = self.context_manager.__enter__()
        from rclpy.executors import SingleThreadedExecutor
        self.probe = Probe(context, publishes=publishes or {}, collects=collects)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.probe)
        overrides = {**overrides, 'trainer': {'run_dir': str(tmp_path / 'run'),
                                              **overrides.get('trainer', {})}}
        specs = graph.dagger_graph('sim', overrides=overrides)
        self.processes = run.start_graph(
            specs, '', [graph.default_params_file('sim.yaml')], domain_id,
            env={**os.environ, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'},
            command=lambda spec, ns, files: graph.to_command(spec, ns, files,
                                                             params_dir=tmp_path / 'params'),
            sink=self.log, respawn_delay_s=0.5)

    def spin_until(self, predicate, timeout_s):
        self.processes.watch()
        return spin_until(self.executor, lambda: self.processes.watch() or predicate(),
                          timeout_s, step_s=0.01)

    def kill(self, name):
        os.killpg(self.processes.nodes[name].proc.pid, signal.SIGKILL)

    def close(self):
        self.processes.stop(signal.SIGINT, timeout_s=10.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.context_manager.__exit__(None, None, None)
        self.domain.__exit__(None, None, None)
        return self.log.getvalue()


def fields(msg):
    vector, names = msg_to_fields(msg, 'message')
    return {name: float(value) for (name, _), value in zip(names, vector)}


def progress_rows(probe):
    return [fields(msg) for msg in probe.messages(topics.TRAINER_PROGRESS)]


def versions_seen(probe):
    return {int(msg_tags(msg)['version']) for msg in probe.messages(topics.POLICY_ACTION)}


@pytest.fixture
def learning_graph(tmp_path):
    g = Graph(tmp_path, {'*': LEARNING}, collects={
        topics.TRAINER_PROGRESS: Float64MultiArray, topics.POLICY_ACTION: Float64MultiArray})
    yield g
    g.log_text = g.close()


def test_labels_flow_persist_and_survive_a_trainer_kill(learning_graph, tmp_path):
    g = learning_graph
    # GIVEN the lockstep loop on Pendulum with the scripted expert, past its first retraining
    assert g.spin_until(lambda: len(progress_rows(g.probe)) >= 1, 120), g.log.getvalue()
    assert g.spin_until(lambda: max(versions_seen(g.probe)) >= 1, 30), 'executor never swapped'

    # WHEN the trainer is killed with SIGKILL in the middle of the run (the runner respawns it)
    g.kill('trainer')
    assert g.spin_until(lambda: len(g.processes.nodes['trainer'].exits) == 1, 10)

    # THEN the run goes on to its last round, the restarted trainer resuming where it was
    done = g.spin_until(lambda: any(row['round'] >= 4 for row in progress_rows(g.probe)), 200)
    log = g.close()
    assert done, log[-3000:]
    assert 'resumed:' in log, 'the restarted trainer reloads dataset and checkpoint'

    # AND every labelled step is on disk exactly once: nothing lost, nothing doubled
    with Dataset.open(tmp_path / 'run' / 'dataset') as dataset:
        data = dataset.arrays()
    keys = list(zip(data['round'], data['episode'], data['step']))
    assert len(keys) == len(set(keys))
    per_round = {r: int(np.sum(data['round'] == r)) for r in range(5)}
    assert per_round == {0: 200, 1: 100, 2: 100, 3: 100, 4: 100}
    assert set(np.unique(data['labeler'])) == {int(Source.EXPERT)}

    # AND the executor acted with new versions, recorded in the samples, and the return improved
    assert max(versions_seen(g.probe)) >= 4
    assert set(np.unique(data['policy_version'][data['round'] >= 2])) - {0, 1}
    rows = {int(row['round']): row for row in progress_rows(g.probe)}
    assert rows[4]['normalized'] > rows[0]['normalized'] + 0.5, rows


@pytest.fixture
def realtime_graph(tmp_path):
    settings = {'mode': 'realtime', 'rate_hz': 20.0, 'demo_steps': 20, 'rounds': 1000,
                'safety.stale_timeout_s': 0.075}
    g = Graph(tmp_path, {'*': settings, 'trainer': {'evaluate': False}},
              collects={topics.COMMAND: Float64MultiArray,
                        topics.GATE_DECISION: Float64MultiArray},
              publishes={topics.ESTOP: Bool, topics.POLICY_ACTION: Float64MultiArray,
                         topics.OBSERVATION: Float64MultiArray})
    yield g
    g.close()


def commands_after(probe, t):
    return [np.array(item.msg.data) for item in probe.received[topics.COMMAND] if item.time_s > t]


def decisions_after(probe, t):
    return [(item.time_s, fields(item.msg), item.msg)
            for item in probe.received[topics.GATE_DECISION] if item.time_s > t]


def reason(msg):
    return next(dim.label.split(':', 1)[1] for dim in msg.layout.dim
                if dim.label.startswith('reason:'))


def test_realtime_safety_layer(realtime_graph):
    g = realtime_graph
    period = 1 / 20.0
    policy_drives = lambda: any(  # noqa: E731
        d['actor'] == Source.POLICY for _, d, _ in decisions_after(g.probe, 0))
    assert g.spin_until(policy_drives, 120), g.log.getvalue()[-3000:]

    # NaN and wrong-size messages, injected next to the real ones, never reach the command
    t0 = time.monotonic()
    bad_policy = tagged_msg([0.0], 'action', {'version': 99})
    bad_policy.data = [float('nan')]
    bad_obs = tagged_msg([0.0, 0.0, 0.0], 'observation', {'seq': 1e9})
    bad_obs.data = [float('nan'), 1.0, 0.0]
    for _ in range(40):
        g.probe.publish(topics.POLICY_ACTION, bad_policy)
        g.probe.publish(topics.POLICY_ACTION, tagged_msg([5.0, 5.0], 'action', {}))
        g.probe.publish(topics.OBSERVATION, bad_obs)
        g.spin_until(lambda: False, 0.02)
    commands = commands_after(g.probe, t0)
    assert len(commands) > 10
    assert all(c.shape == (1,) and np.all(np.isfinite(c)) and np.all(np.abs(c) <= 2.0)
               for c in commands)

    # e-stop zeroes the command within one period, and it stays zero while latched
    t_stop = time.monotonic()
    g.probe.publish(topics.ESTOP, Bool(data=True))
    assert g.spin_until(lambda: any(np.all(c == 0) for c in commands_after(g.probe, t_stop)), 1)
    first_zero = next(item.time_s for item in g.probe.received[topics.COMMAND]
                      if item.time_s > t_stop and np.all(np.array(item.msg.data) == 0))
    assert first_zero - t_stop < period
    g.spin_until(lambda: False, 0.5)
    assert all(np.all(c == 0) for c in commands_after(g.probe, first_zero))
    g.probe.publish(topics.ESTOP, Bool(data=False))
    t_release = time.monotonic()
    assert g.spin_until(lambda: policy_drives_after(g.probe, t_release), 5)

    # killing the executor makes the gate fall back within two periods
    t_kill = time.monotonic()
    g.kill('policy_executor')
    assert g.spin_until(lambda: any(reason(m) == 'policy_silent'
                                    for _, _, m in decisions_after(g.probe, t_kill)), 2)
    first = next(t for t, _, m in decisions_after(g.probe, t_kill)
                 if reason(m) == 'policy_silent')
    assert first - t_kill < 2 * period
    g.spin_until(lambda: False, 0.3)
    assert all(np.all(c == 0) for c in commands_after(g.probe, first))


def policy_drives_after(probe, t):
    return any(d['actor'] == Source.POLICY for _, d, _ in decisions_after(probe, t))
