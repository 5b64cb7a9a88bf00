"""The scripted human stand-in and the per-round record's effort figures."""

import numpy as np

from dagger_ros.core.algorithms.base import PolicyView, RoundRecord, StepOutcome
from dagger_ros.core.algorithms.humans import ScriptedHuman
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Source

SPEC = EnvSpec('toy', 1, 1, (-2.0,), (2.0,))


def zero_expert(obs):
    return np.zeros(1)


def test_human_takes_over_on_large_error_and_hands_back_after_settling():
    human = ScriptedHuman(zero_expert, SPEC, takeover=0.3, settle_steps=3)
    obs = np.zeros(1)
    # GIVEN an error of 0.1 of the range (0.4 / 4): no takeover
    assert not human.engaged(obs, np.array([0.4]))
    # WHEN the policy is off by half the range, the human takes over
    assert human.engaged(obs, np.array([2.0]))
    # THEN it keeps driving until the policy agrees (error < 0.15) for 3 steps in a row
    assert human.engaged(obs, np.array([0.0]))
    assert human.engaged(obs, np.array([0.0]))
    assert human.engaged(obs, np.array([1.0]))  # a relapse restarts the count
    assert human.engaged(obs, np.array([0.0]))
    assert human.engaged(obs, np.array([0.0]))
    assert not human.engaged(obs, np.array([0.0]))


def test_reset_forgets_takeover():
    human = ScriptedHuman(zero_expert, SPEC, takeover=0.3)
    assert human.engaged(np.zeros(1), np.array([2.0]))
    human.reset()
    assert not human.engaged(np.zeros(1), np.array([0.0]))


def _outcome(actor):
    return StepOutcome(np.zeros(1), None, actor, Source.NONE, 'x')


def test_record_counts_expert_share_and_switches_within_episodes():
    record = RoundRecord()
    actors = [Source.POLICY, Source.EXPERT, Source.EXPERT, Source.POLICY, Source.HUMAN]
    episodes = [0, 0, 0, 0, 1]
    for step, (actor, episode) in enumerate(zip(actors, episodes)):
        record.add(np.zeros(1), PolicyView(np.zeros(1)), _outcome(actor), np.zeros(1), False,
                   episode, step)
    assert record.expert_share() == 3 / 5
    # P->E and E->P inside episode 0; the change at the episode boundary does not count
    assert record.context_switches() == 2
