"""HG-DAgger live with a person: takeover, handover and an unplugged pad, over real DDS.

No gamepad exists here, so a probe publishing sensor_msgs/Joy stands in for the person and
their pad (the gamepad node itself is tested through SDL's virtual joystick elsewhere); every
other part is the real graph: sim bridge, executor, gate and trainer as processes.
"""

import io
import os
import signal
import time

import numpy as np
import pytest
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray

from dagger_ros import graph, run
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.types import Event, Source
from dagger_ros.ros import topics
from dagger_ros.ros.conversions import msg_to_fields
from dagger_ros.ros.testing import claim_domain_id, private_context, Probe, spin_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

RATE = 20.0
PERIOD = 1 / RATE


def joy(held, stick=-1.0):
    """Left stick x (negative is right: +2.0 after the default inversion), LB held or not."""
    buttons = [0] * 12
    buttons[9] = int(held)
    return Joy(axes=[stick, 0.0, 0.0, 0.0, 0.0, 0.0], buttons=buttons)


def decisions(probe, after=0.0):
    out = []
    for item in probe.received[topics.GATE_DECISION]:
        if item.time_s <= after:
            continue
        vector, names = msg_to_fields(item.msg, 'decision')
        values = {name: value for (name, _), value in zip(names, vector)}
        reason = next(n.split(':', 1)[1] for n, _ in names if n.startswith('reason:'))
        out.append((item.time_s, Source(int(values['actor'])), reason))
    return out


def commands(probe, after=0.0):
    return [(item.time_s, float(item.msg.data[0])) for item in probe.received[topics.COMMAND]
            if item.time_s > after]


@pytest.fixture
def human_graph(tmp_path):
    with claim_domain_id() as domain_id, private_context(domain_id) as context:
        from rclpy.executors import SingleThreadedExecutor
        probe = Probe(context, publishes={topics.JOY: Joy},
                      collects={topics.COMMAND: Float64MultiArray,
                                topics.GATE_DECISION: Float64MultiArray})
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(probe)
        settings = {'rate_hz': RATE, 'demo_steps': 10_000, 'safety.stale_timeout_s': 0.075,
                    'render_hz': 0.0}
        overrides = {'*': settings, 'trainer': {'run_dir': str(tmp_path / 'run'),
                                                'evaluate': False}}
        specs = [spec for spec in graph.dagger_graph('sim_human', overrides=overrides)
                 if spec.name not in ('gamepad', 'live_view')]
        log = io.StringIO()
        processes = run.start_graph(
            specs, '', [graph.default_params_file('sim.yaml')], domain_id,
            env={**os.environ, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'},
            command=lambda spec, ns, files: graph.to_command(spec, ns, files,
                                                             params_dir=tmp_path / 'params'),
            sink=log)
        try:
            yield probe, executor, processes, log
        finally:
            processes.stop(signal.SIGINT, 10.0)
            executor.shutdown(timeout_sec=1.0)


def test_person_takes_over_hands_back_and_an_unplugged_pad_never_drives(human_graph, tmp_path):
    probe, executor, processes, log = human_graph

    def spin(predicate, timeout_s):
        return spin_until(executor, predicate, timeout_s, step_s=0.005)

    def hold_for(seconds, held, stick=-1.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            probe.publish(topics.JOY, joy(held, stick))
            spin(lambda: False, 0.02)

    assert spin(lambda: any(a == Source.POLICY for _, a, _ in decisions(probe)), 120), \
        log.getvalue()[-3000:]
    assert spin(lambda: probe.is_connected(), 10)

    # takeover: the person's action is the command within one period
    t_press = time.monotonic()
    probe.publish(topics.JOY, joy(True))
    assert spin(lambda: any(v == 2.0 for _, v in commands(probe, t_press)), 1)
    first = next(t for t, v in commands(probe, t_press) if v == 2.0)
    assert first - t_press < PERIOD
    hold_for(0.5, True)
    assert all(a == Source.HUMAN for _, a, _ in decisions(probe, first + 0.01))

    # release: a smooth handover (no jump), then the policy drives again
    t_release = time.monotonic()
    hold_for(0.6, False)
    after = decisions(probe, t_release)
    reasons = [r for _, _, r in after]
    assert 'handover' in reasons and after[-1][1] == Source.POLICY, reasons
    values = [2.0] + [v for _, v in commands(probe, t_release)]
    handover_steps = reasons.count('handover')
    assert max(abs(np.diff(values[:handover_steps + 1]))) < 4.0 / handover_steps + 1e-6

    # unplugged mid-takeover (no release message at all): the stale pad stops driving
    hold_for(0.3, True)
    t_unplug = time.monotonic()
    spin(lambda: False, 1.0)
    late = decisions(probe, t_unplug + 0.25 + 2 * PERIOD)
    assert late and all(a != Source.HUMAN for _, a, _ in late)
    assert all(v != 2.0 for _, v in commands(probe, t_unplug + 0.25 + 2 * PERIOD))

    # the takeovers are in the dataset, human-labelled, with their start and end marks
    processes.stop(signal.SIGINT, 10.0)
    with Dataset.open(tmp_path / 'run' / 'dataset') as dataset:
        data = dataset.arrays()
    assert len(data['obs']) > 5
    assert set(np.unique(data['labeler'])) == {int(Source.HUMAN)}
    events = list(data['event'])
    assert events.count(int(Event.INTERVENTION_START)) == 2
    assert events.count(int(Event.INTERVENTION_END)) == 2
    assert np.all(data['label'] == 2.0)
