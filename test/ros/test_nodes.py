"""Nodes of the live loop in this process: parameters, refusals and message handling."""

import subprocess
import sys

import numpy as np
import pytest
from rclpy.parameter import Parameter
from std_msgs.msg import Float64MultiArray, UInt8MultiArray

from dagger_ros.core.bundle import pack_bundle
from dagger_ros.core.errors import ConfigError
from dagger_ros.core.policies import make_policy, PolicyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.nodes.expert_gate import ExpertGate
from dagger_ros.nodes.policy_executor import PolicyExecutor
from dagger_ros.ros import topics
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
