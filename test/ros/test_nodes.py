"""Nodes of the live loop in this process: parameters, refusals and message handling."""

import subprocess
import sys

import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray, UInt8MultiArray

from dagger_ros.core.bundle import pack_bundle
from dagger_ros.core.errors import ConfigError
from dagger_ros.core.policies import make_policy, PolicyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.nodes.expert_gate import ExpertGate
from dagger_ros.nodes.policy_executor import PolicyExecutor
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import bundle_to_msg, msg_tags, tagged_msg
from dagger_ros.ros.testing import Probe, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]

PENDULUM = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))


def test_bad_parameter_is_refused_with_its_reason(ros_ctx):
    overrides = [Parameter('mode', value='sometimes')]
    with pytest.raises(ConfigError, match="mode must be one of .*'sometimes'"):
        ExpertGate(context=ros_ctx, parameter_overrides=overrides)
    with pytest.raises(ConfigError, match='stale_timeout_s.*out of range'):
        ExpertGate(context=ros_ctx, parameter_overrides=[
            Parameter('safety.stale_timeout_s', value=-1.0)])


def test_robot_spaces_come_from_parameters(ros_ctx):
    gate = ExpertGate(context=ros_ctx, parameter_overrides=[
        Parameter('env_id', value='my_arm'), Parameter('obs_dim', value=7),
        Parameter('action_low', value=[-1.0, -0.5]), Parameter('action_high', value=[1.0, 0.5])])
    assert (gate.spec.obs_dim, gate.spec.act_dim) == (7, 2)
    assert gate.spec.act_high == (1.0, 0.5)
    gate.destroy_node()


def test_node_process_exits_2_on_a_bad_parameter():
    proc = subprocess.run(
        [sys.executable, '-m', 'dagger_ros.nodes.sim_bridge', '--ros-args', '-p',
         'mode:=fast'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "mode must be one of ('lockstep', 'realtime'), got 'fast'" in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_executor_swaps_checked_weights_and_refuses_foreign_ones(ros_ctx, executor):
    node = PolicyExecutor(context=ros_ctx)
    probe = Probe(ros_ctx, publishes={topics.OBSERVATION: Float64MultiArray,
                                      topics.WEIGHTS: UInt8MultiArray},
                  collects={topics.POLICY_ACTION: Float64MultiArray})
    for n in (node, probe):
        executor.add_node(n)
    assert spin_until(executor, probe.is_connected, 10)

    def act(seq):
        probe.publish(topics.OBSERVATION, tagged_msg([1.0, 0.0, 0.5], 'observation',
                                                     {'seq': seq}))
        assert spin_until(executor, lambda: any(
            msg_tags(m).get('seq') == seq for m in probe.messages(topics.POLICY_ACTION)), 5)
        return next(msg_tags(m) for m in probe.messages(topics.POLICY_ACTION)
                    if msg_tags(m).get('seq') == seq)

    assert act(1)['version'] == 0
    # GIVEN trained weights version 3 sent as a bundle
    policy = make_policy(PENDULUM, PolicyConfig(hidden_sizes=(16,)))
    policy.version = 3
    data, fields = pack_bundle({'policy': policy})
    probe.publish(topics.WEIGHTS, bundle_to_msg(data, fields))
    # THEN the executor acts with them from a later observation on
    assert spin_until(executor, lambda: act(int(1e6 * np.random.rand()) + 2)['version'] == 3,
                      10)
    # AND a corrupted bundle (hash mismatch) or one for other spaces is refused
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF
    probe.publish(topics.WEIGHTS, bundle_to_msg(bytes(corrupt), fields))
    other = make_policy(EnvSpec('Other-v0', 4, 1, (-1.0,), (1.0,)), PolicyConfig(
        hidden_sizes=(16,)))
    other.version = 9
    probe.publish(topics.WEIGHTS, bundle_to_msg(*pack_bundle({'policy': other})))
    for seq in range(10, 20):
        assert act(seq)['version'] == 3


def test_adapter_turns_joint_states_into_observations_and_commands_into_twists(
        ros_ctx, executor):
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import JointState

    from dagger_ros.nodes.adapter import Adapter
    node = Adapter(context=ros_ctx, parameter_overrides=[
        Parameter('joint_names', value=['j2', 'j1']),
        Parameter('twist_fields', value=['linear.x', 'angular.z']),
        Parameter('twist_stamped', value=True)])
    probe = Probe(ros_ctx, publishes={'joint_states': JointState,
                                      topics.COMMAND: Float64MultiArray},
                  collects={topics.OBSERVATION: Float64MultiArray, 'cmd_vel': TwistStamped})
    for n in (node, probe):
        executor.add_node(n)
    assert spin_until(executor, probe.is_connected, 10)
    # latest-value topics (depth 1): one message at a time
    probe.publish('joint_states', JointState(name=['j1', 'j2', 'j3'], position=[1.0, 2.0, 3.0],
                                             velocity=[0.1, 0.2, 0.3]))
    assert spin_until(executor, lambda: probe.count(topics.OBSERVATION), 5)
    probe.publish(topics.COMMAND, tagged_msg([0.5, -0.25], 'command', {'seq': 3}))
    assert spin_until(executor, lambda: probe.count('cmd_vel'), 5)
    # a joint missing and a wrong-size command are dropped, not relayed
    probe.publish('joint_states', JointState(name=['j1'], position=[1.0], velocity=[0.1]))
    spin_until(executor, lambda: False, 0.3)
    probe.publish(topics.COMMAND, tagged_msg([0.5], 'command', {}))
    spin_until(executor, lambda: False, 0.3)
    assert [list(m.data) for m in probe.messages(topics.OBSERVATION)] == [[2.0, 1.0, 0.2, 0.1]]
    twists = probe.messages('cmd_vel')
    assert len(twists) == 1
    assert (twists[0].twist.linear.x, twists[0].twist.angular.z) == (0.5, -0.25)


def test_sim_bridge_publishes_sim_time_on_clock_in_realtime(ros_ctx, executor):
    from rosgraph_msgs.msg import Clock

    from dagger_ros.nodes.sim_bridge import SimBridge
    node = SimBridge(context=ros_ctx, parameter_overrides=[
        Parameter('mode', value='realtime'), Parameter('rate_hz', value=100.0),
        Parameter('publish_clock', value=True)])
    probe = Probe(ros_ctx, collects={'/clock': Clock, topics.OBSERVATION: Float64MultiArray})
    for n in (node, probe):
        executor.add_node(n)
    assert spin_until(executor, lambda: probe.count('/clock') >= 20, 10)
    stamps = [m.clock.sec + 1e-9 * m.clock.nanosec for m in probe.messages('/clock')]
    steps = np.diff(stamps)
    assert np.all(steps > 0) and np.allclose(steps[steps < 0.015], 0.01)
    seqs = [msg_tags(m)['seq'] for m in probe.messages(topics.OBSERVATION)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    node.shutdown()


def test_sim_bridge_reports_round_trips_and_the_commands_that_came_late(ros_ctx, executor):
    from dagger_ros.nodes.sim_bridge import read_timing_msg, SimBridge
    node = SimBridge(context=ros_ctx, parameter_overrides=[
        Parameter('mode', value='realtime'), Parameter('rate_hz', value=100.0),
        Parameter('timing_period_s', value=0.2)])
    # GIVEN a controller that answers only the even observations, each at once, and some odd
    # ones with a malformed seq (the bridge must take those as answering nothing)
    probe = Probe(ros_ctx, publishes={topics.COMMAND: Float64MultiArray},
                  collects={topics.LOOP_TIMING: Float64MultiArray})

    def answer_even(msg):
        seq = msg_tags(msg)['seq']
        tag = seq if seq % 2 == 0 else float('inf') if seq % 4 == 1 else None
        if tag is not None:
            probe.publish(topics.COMMAND, tagged_msg([0.5], 'command', {'seq': tag}))
    probe.create_subscription(Float64MultiArray, topics.OBSERVATION, answer_even,
                              qos.for_topic(topics.OBSERVATION))
    for n in (node, probe):
        executor.add_node(n)

    # WHEN it runs for a few reports
    assert spin_until(executor, lambda: probe.count(topics.LOOP_TIMING) >= 6, 20)

    # THEN about half of the ticks missed their command, and each answer has its round trip
    reports = [read_timing_msg(m) for m in probe.messages(topics.LOOP_TIMING)[1:]]
    ticks = sum(r.ticks for r in reports)
    missed = sum(r.missed for r in reports)
    round_trips = 1e3 * np.concatenate([np.array(r.round_trips_s) for r in reports])
    assert ticks >= 60 and 0.35 <= missed / ticks <= 0.8
    assert 0.2 * ticks <= len(round_trips) <= 0.65 * ticks
    assert np.all((round_trips > 0) & (round_trips < 1000))
    node.shutdown()


def test_timing_message_reads_back_and_other_fields_are_refused():
    from dagger_ros.core.errors import InputError
    from dagger_ros.core.loop_timing import TimingReport
    from dagger_ros.nodes.sim_bridge import read_timing_msg, timing_msg
    from dagger_ros.ros.conversions import fields_to_msg
    report = TimingReport((0.001, 0.0025), 10, 3)
    back = read_timing_msg(timing_msg(report))
    assert (back.ticks, back.missed) == (10, 3)
    assert back.round_trips_s == pytest.approx(report.round_trips_s)
    assert read_timing_msg(timing_msg(TimingReport((), 5, 5))).round_trips_s == ()
    with pytest.raises(InputError, match='expected ticks, missed, round_trip_ms'):
        read_timing_msg(fields_to_msg([1.0, 2.0], [('ticks', 1), ('late', 1)]))


def test_scripted_expert_answers_queries_only_in_on_query_mode(ros_ctx, executor):
    from dagger_ros.core.experts import make_expert
    from dagger_ros.nodes.scripted_expert import ScriptedExpertNode
    node = ScriptedExpertNode(context=ros_ctx, parameter_overrides=[
        Parameter('answer_mode', value='on_query')])
    probe = Probe(ros_ctx, publishes={topics.OBSERVATION: Float64MultiArray,
                                      topics.EXPERT_QUERY: Float64MultiArray},
                  collects={topics.EXPERT_ACTION: Float64MultiArray,
                            topics.EXPERT_ANSWER: Float64MultiArray})
    for n in (node, probe):
        executor.add_node(n)
    assert spin_until(executor, lambda: probe.is_connected() or all(
        s.get_publisher_count() for s in probe._subs[1:]), 10)
    obs = [0.6, 0.8, -1.0]
    probe.publish(topics.OBSERVATION, tagged_msg(obs, 'observation', {'seq': 1}))
    probe.publish(topics.EXPERT_QUERY, tagged_msg(obs, 'observation', {'query': 7}))
    assert spin_until(executor, lambda: probe.count(topics.EXPERT_ANSWER), 5)
    answer = probe.last(topics.EXPERT_ANSWER)
    assert msg_tags(answer) == {'query': 7.0}
    assert list(answer.data) == pytest.approx(make_expert('Pendulum-v1')(np.array(obs)))
    assert probe.count(topics.EXPERT_ACTION) == 0


def test_human_gated_mujoco_config_and_gamepad_preset_configure_the_gate(ros_ctx):
    from pathlib import Path
    config = Path(__file__).resolve().parents[2] / 'config'
    files = [config / 'sim.yaml', config / 'hg_mujoco.yaml', config / 'gamepads' / 'xbox.yaml']
    args = ['--ros-args'] + [arg for path in files for arg in ('--params-file', str(path))]
    gate = ExpertGate(context=ros_ctx, cli_args=args)
    assert gate.spec.env_id == 'InvertedPendulum-v5' and gate.spec.act_dim == 1
    assert gate.cfg.mode == 'realtime' and gate.cfg.human_input == 'joy'
    assert gate.gate.human_gated and gate.run_cfg.algorithm == 'hg_dagger'
    held = Joy(axes=[-1.0, 0.0, 0.0, 0.0, 0.0, 0.0], buttons=[0] * 9 + [1] + [0] * 2)
    gate.on_joy(held)
    gate.human.set_time(0.0 + gate.human._stamp)
    assert gate.human.engaged(None, None)
    assert gate.human.action(None)[0] == pytest.approx(gate.spec.act_high[0])
    gate.destroy_node()


def test_gamepad_preset_is_chosen_by_a_parameter_and_explicit_values_win(ros_ctx):
    gate = ExpertGate(context=ros_ctx, parameter_overrides=[
        Parameter('algorithm', value='hg_dagger'), Parameter('human_input', value='joy'),
        Parameter('mapping_preset', value='generic'), Parameter('mapping.takeover_button',
                                                                value=4)])
    from dagger_ros.core.joy_mapping import load_preset
    preset = load_preset('generic')
    held = [0] * 12
    held[4] = 1
    gate.human.update([-1.0, 0, 0, 0, 0, 0], held, 0.0)
    gate.human.set_time(0.0)
    assert gate.human.engaged(None, None), 'the explicit takeover button wins'
    assert preset['deadzone'] == 0.1
    gate.human.update([-0.05, 0, 0, 0, 0, 0], held, 0.0)
    assert gate.human.action(None)[0] == 0.0, "inside the preset's 0.1 deadzone"
    with pytest.raises(ConfigError, match="no gamepad preset 'nes'"):
        ExpertGate(context=ros_ctx, parameter_overrides=[
            Parameter('algorithm', value='hg_dagger'), Parameter('human_input', value='joy'),
            Parameter('mapping_preset', value='nes')])


def test_training_thread_runs_only_on_idle_cpu_time():
    import os
    import threading

    from dagger_ros.nodes.trainer import lower_thread_priority
    seen = {}

    def worker():
        lower_thread_priority()
        seen['policy'] = os.sched_getscheduler(threading.get_native_id())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    # THEN the training thread is SCHED_IDLE and the calling thread keeps its own policy
    assert seen['policy'] == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_background_trainer_renices_every_thread_of_its_process():
    import json

    from dagger_ros.nodes.trainer import TRAINING_NICENESS
    # A fresh process: niceness only ever goes up, so the test's own threads stay untouched.
    script = """
import json, os, threading
from dagger_ros.nodes.trainer import lower_process_priority
started, stop = threading.Event(), threading.Event()
worker = threading.Thread(target=lambda: (started.set(), stop.wait()))
worker.start()
started.wait()
lower_process_priority()
tids = [int(t) for t in os.listdir('/proc/self/task')]
print(json.dumps({'nices': sorted({os.getpriority(os.PRIO_PROCESS, t) for t in tids}),
                  'threads': len(tids)}))
stop.set()
"""
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # THEN every thread, the worker started before the call included, runs at niceness 10
    assert seen['threads'] >= 2
    assert seen['nices'] == [TRAINING_NICENESS]
