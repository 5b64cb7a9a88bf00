"""The control path's nodes composed into one process, next to a sim bridge in another."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray

from dagger_ros import graph
from dagger_ros.ros import topics
from dagger_ros.ros.conversions import msg_tags
from dagger_ros.ros.testing import Probe, spin_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.parametrize('options', [[], ['--inline', '--executor', 'events']])
def test_composed_process_runs_the_control_path(ros_ctx, executor, options):
    env = {**os.environ, 'ROS_DOMAIN_ID': str(ros_ctx.get_domain_id())}
    params = ['--params-file', graph.default_params_file('sim.yaml')]
    composed = subprocess.Popen(
        [sys.executable, '-m', 'dagger_ros.nodes.composed', *options, 'policy_executor',
         'scripted_expert', 'expert_gate', '--ros-args', *params, '-p', 'demo_steps:=50'], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = Probe(ros_ctx, collects={topics.COMMAND: Float64MultiArray})
    executor.add_node(probe)
    bridge = None
    try:
        # THEN three named nodes live in the one process
        assert spin_until(executor, lambda: {'policy_executor', 'scripted_expert',
                                             'expert_gate'} <= set(probe.get_node_names()), 60)
        # AND once the probe hears the gate, a sim bridge makes the lockstep loop step (the
        # 50 demonstration steps take a fraction of a second: a late probe would miss them)
        assert spin_until(executor, probe.is_connected, 30)
        bridge = subprocess.Popen([sys.executable, '-m', 'dagger_ros.nodes.sim_bridge',
                                   '--ros-args', *params], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        assert spin_until(executor, lambda: probe.count(topics.COMMAND) >= 40, 60)
        seqs = [msg_tags(m).get('seq') for m in probe.messages(topics.COMMAND)]
        assert seqs[-1] >= 39
    finally:
        for proc in (composed, bridge):
            if proc is not None:
                proc.send_signal(signal.SIGINT)
        output = composed.communicate(timeout=20)[0]
        if bridge is not None:
            bridge.wait(20)
    assert composed.returncode == 0, output
    assert ('gate calls policy_executor, scripted_expert directly' in output) == bool(options)


def test_composed_refuses_unknown_roles_and_executors():
    proc = subprocess.run([sys.executable, '-m', 'dagger_ros.nodes.composed', 'trainer'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "got ['trainer']" in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'dagger_ros.nodes.composed', '--executor',
                           'multi', 'expert_gate'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--executor must be one of ('single', 'events'), got 'multi'" \
        in proc.stderr


def test_inline_gate_asks_executor_and_expert_directly(ros_ctx, executor):
    from rclpy.parameter import Parameter

    from dagger_ros.core.experts import make_expert
    from dagger_ros.nodes.composed import link_inline
    from dagger_ros.nodes.expert_gate import ExpertGate
    from dagger_ros.nodes.policy_executor import PolicyExecutor
    from dagger_ros.nodes.scripted_expert import ScriptedExpertNode
    from dagger_ros.ros.conversions import tagged_msg
    overrides = [Parameter('demo_steps', value=3), Parameter('lockstep_timeout_s', value=0.3),
                 Parameter('sync_rounds', value=False)]
    policy = PolicyExecutor(context=ros_ctx, parameter_overrides=overrides)
    expert = ScriptedExpertNode(context=ros_ctx)
    gate = ExpertGate(context=ros_ctx, parameter_overrides=overrides)
    # GIVEN the three nodes linked as composed --inline links them
    link_inline([policy, expert, gate])
    assert policy.observation_sub is None and expert.observation_sub is None
    probe = Probe(ros_ctx, publishes={topics.OBSERVATION: Float64MultiArray},
                  collects={topics.COMMAND: Float64MultiArray,
                            topics.POLICY_ACTION: Float64MultiArray,
                            topics.EXPERT_ACTION: Float64MultiArray})
    for node in (policy, expert, gate, probe):
        executor.add_node(node)
    assert spin_until(executor, lambda: all(
        s.get_publisher_count() for s in probe._subs), 10)
    obs = [0.6, 0.8, -1.0]

    def step(seq):
        probe.publish(topics.OBSERVATION, tagged_msg(obs, 'observation',
                                                     {'seq': seq, 'episode': 0, 'step': seq}))
        assert spin_until(executor, lambda: any(
            msg_tags(m).get('seq') == seq for m in probe.messages(topics.COMMAND)), 5)
        return next(m for m in probe.messages(topics.COMMAND) if msg_tags(m).get('seq') == seq)

    # THEN every observation gets its command: the expert's during the demonstration round,
    for seq in range(1, 4):
        assert list(step(seq).data) == pytest.approx(make_expert('Pendulum-v1')(np.array(obs)))
    # the clamped policy action after it (DAgger's beta is 0 after round 0),
    command = step(4)
    assert spin_until(executor, lambda: probe.count(topics.POLICY_ACTION) >= 4, 5)
    acted = [m for m in probe.messages(topics.POLICY_ACTION) if msg_tags(m)['seq'] == 4]
    assert list(command.data) == pytest.approx(np.clip(acted[0].data, -2.0, 2.0))
    # AND the answers still go out for other listeners, exactly one per observation
    assert spin_until(executor, lambda: probe.count(topics.EXPERT_ACTION) >= 4, 5)
    for topic in (topics.POLICY_ACTION, topics.EXPERT_ACTION):
        seqs = [msg_tags(m)['seq'] for m in probe.messages(topic)]
        assert sorted(seqs) == [1.0, 2.0, 3.0, 4.0], topic

    # GIVEN an executor that raises: the gate lives on and commands without it
    def broken(msg):
        raise RuntimeError('policy crashed')
    policy.respond = broken
    assert np.all(np.isfinite(step(5).data))
    assert np.all(np.isfinite(step(6).data))
