"""The control path's nodes composed into one process, next to a sim bridge in another."""

import os
import signal
import subprocess
import sys

import pytest
from std_msgs.msg import Float64MultiArray

from dagger_ros import graph
from dagger_ros.ros import topics
from dagger_ros.ros.conversions import msg_tags
from dagger_ros.ros.testing import Probe, spin_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_composed_process_runs_the_control_path(ros_ctx, executor):
    env = {**os.environ, 'ROS_DOMAIN_ID': str(ros_ctx.get_domain_id())}
    params = ['--params-file', graph.default_params_file('sim.yaml')]
    composed = subprocess.Popen(
        [sys.executable, '-m', 'dagger_ros.nodes.composed', 'policy_executor', 'scripted_expert',
         'expert_gate', '--ros-args', *params, '-p', 'demo_steps:=50'], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    bridge = subprocess.Popen([sys.executable, '-m', 'dagger_ros.nodes.sim_bridge',
                               '--ros-args', *params], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    probe = Probe(ros_ctx, collects={topics.COMMAND: Float64MultiArray})
    executor.add_node(probe)
    try:
        # THEN three named nodes live in the one process and the lockstep loop steps
        assert spin_until(executor, lambda: {'policy_executor', 'scripted_expert',
                                             'expert_gate'} <= set(probe.get_node_names()), 60)
        assert spin_until(executor, lambda: probe.count(topics.COMMAND) >= 40, 60)
        seqs = [msg_tags(m).get('seq') for m in probe.messages(topics.COMMAND)]
        assert seqs[-1] >= 39
    finally:
        for proc in (composed, bridge):
            proc.send_signal(signal.SIGINT)
        output = composed.communicate(timeout=20)[0]
        bridge.wait(20)
    assert composed.returncode == 0, output


def test_composed_refuses_unknown_roles():
    proc = subprocess.run([sys.executable, '-m', 'dagger_ros.nodes.composed', 'trainer'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "got ['trainer']" in proc.stderr
