"""A person at a gamepad as the human gate: takeover, stale input, smooth handover."""

import numpy as np

from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.human_input import JoyHuman
from dagger_ros.core.live_gate import LiveGate, PolicyInput
from dagger_ros.core.safety import SafetyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
OBS = np.zeros(3)


class Hold:
    """Deadman on button 0, held to drive (what core.joy_mapping.Takeover does in hold mode)."""

    def update(self, buttons, connected=True):
        return bool(connected and len(buttons) > 0 and buttons[0])


def human():
    return JoyHuman(lambda axes: np.array([2.0 * (axes[0] if axes else 0.0)]), Hold(), 0.1)


def test_takeover_needs_a_fresh_held_deadman():
    person = human()
    person.set_time(0.0)
    assert not person.engaged(OBS, np.zeros(1)), 'no pad state yet'
    person.update([0.5], [1], now_s=0.0)
    person.set_time(0.05)
    assert person.engaged(OBS, np.zeros(1)) and person.action(OBS)[0] == 1.0
    person.set_time(0.2)  # the pad went silent: unplugged, or its node died
    assert not person.engaged(OBS, np.zeros(1))
    person.update([0.5], [0], now_s=0.3)
    person.set_time(0.3)
    assert not person.engaged(OBS, np.zeros(1))


def test_live_hg_dagger_with_a_person_labels_takeovers_and_hands_back_smoothly():
    cfg = RunConfig(algorithm='hg_dagger', demo_steps=100, hidden_sizes=(8,), ensemble_size=2)
    person = human()
    gate = LiveGate(cfg, SPEC, SafetyConfig(handover_steps=4), human=person)
    assert gate.needs_policy and not gate.needs_expert

    def step(i, held):
        person.update([0.75], [int(held)], now_s=i * 0.02)
        person.set_time(i * 0.02)
        return gate.step(OBS, 0, i, PolicyInput(np.array([-1.0]), 0.1, 1), None, i * 0.02)

    policy = step(0, False)
    assert policy.actor == Source.POLICY and policy.command[0] == -1.0 and policy.label is None
    taken = [step(i, True) for i in range(1, 4)]
    assert all(s.actor == Source.HUMAN and s.command[0] == 1.5 for s in taken)
    back = [step(i, False) for i in range(4, 10)]
    labels = [s.late_label or s.label for s in taken + back if s.late_label or s.label]
    assert [label.step for label in labels] == [1, 2, 3], 'the takeover steps, once each'
    assert all(label.labeler == Source.HUMAN and label.label[0] == 1.5 for label in labels)
    assert [label.event for label in labels] == [
        Event.INTERVENTION_START, Event.NONE, Event.INTERVENTION_END]
    commands = [1.5] + [s.command[0] for s in back]
    assert np.allclose(np.diff(commands)[:5], -0.5), 'equal steps from 1.5 to -1.0'
    assert [s.reason for s in back[:4]] == ['handover'] * 4
    assert back[-1].command[0] == -1.0 and back[-1].actor == Source.POLICY


def test_label_requests_one_at_a_time_capped_per_sitting():
    from dagger_ros.core.human_input import LabelRequests
    requests = LabelRequests(cap=2, answer=0, skip=1, more=6)
    for qid in range(4):
        requests.add(qid, np.full(3, qid))
    requests.add(1, np.zeros(3))
    assert len(requests.queue) == 4 and requests.current[0] == 0

    def press(index):
        buttons = [0] * 8
        command = requests.pressed(buttons)
        buttons[index] = 1
        command = requests.pressed(buttons)
        held_again = requests.pressed(buttons)
        assert held_again is None, 'a held button acts once'
        return requests.act(command)

    assert press(0) == (0, 'answer')
    assert press(1) == (1, 'skip')
    assert press(0) == (2, 'answer')
    assert requests.resting and requests.current is None and press(0) is None
    assert press(6) is None and not requests.resting
    assert press(0) == (3, 'answer') and requests.answered == 3
