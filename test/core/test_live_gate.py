"""The live gate's decisions, one control step at a time, without ROS."""

import numpy as np
import pytest

from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.bundle import pack_bundle, unpack_bundle
from dagger_ros.core.errors import CheckpointError, ConfigError, SpecMismatchError
from dagger_ros.core.live_gate import check_live_algorithm, LiveGate, PolicyInput
from dagger_ros.core.policies import make_policy, PolicyConfig, SafetyClassifier
from dagger_ros.core.safety import SafetyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source

SPEC = EnvSpec('Pendulum-v1', 3, 1, (-2.0,), (2.0,))
OBS = np.array([1.0, 0.0, 0.3])


def make_gate(**settings):
    cfg = RunConfig(**{'demo_steps': 4, 'steps_per_round': 6, 'rounds': 3,
                       'beta_schedule': 'first_round_only', 'hidden_sizes': (16,), **settings})
    return LiveGate(cfg, SPEC, SafetyConfig(max_rate=0.0))


def run_steps(gate, count, policy=0.5, expert=1.5, start=0, **kwargs):
    steps = []
    for i in range(count):
        p = None if policy is None else PolicyInput(np.array([policy]), 0.1, 2)
        e = None if expert is None else np.array([expert])
        steps.append(gate.step(OBS, 0, start + i, p, e, float(start + i), **kwargs))
    return steps


def test_demonstration_round_is_driven_and_labeled_by_the_expert():
    gate = make_gate()
    steps = run_steps(gate, 4, policy=None)
    assert [s.actor for s in steps] == [Source.EXPERT] * 4
    assert all(s.label is not None and s.label.label[0] == 1.5 for s in steps)
    assert [s.round_end is not None for s in steps] == [False, False, False, True]
    summary = steps[-1].round_end
    assert (summary.round, summary.steps, summary.labels, summary.expert_share) == (0, 4, 4, 1.0)
    assert gate.awaiting_round and gate.round_index == 1


def test_dagger_round_lets_the_policy_drive_and_labels_every_state():
    gate = make_gate()
    run_steps(gate, 4)
    gate.begin_round()
    steps = run_steps(gate, 6, start=4)
    assert all(s.actor == Source.POLICY and s.command[0] == 0.5 for s in steps)
    assert all(s.label.label[0] == 1.5 and s.label.action[0] == 0.5 for s in steps)
    assert all(s.label.policy_version == 2 and s.label.round == 1 for s in steps)


def test_silent_inputs_give_the_fallback_and_no_label():
    gate = make_gate()
    demo = run_steps(gate, 1, expert=None)[0]
    assert (demo.actor, demo.reason, demo.label, demo.command[0]) == (
        Source.NONE, 'expert_silent', None, 0.0)
    run_steps(gate, 3)
    gate.begin_round()
    silent = run_steps(gate, 1, policy=None)[0]
    assert (silent.actor, silent.reason, silent.command[0]) == (Source.NONE, 'policy_silent', 0.0)


def test_estop_zeroes_the_command_whoever_drives():
    gate = make_gate()
    step = run_steps(gate, 1, estopped=True)[0]
    assert step.command[0] == 0.0 and step.actor == Source.NONE and step.label is None
    assert step.reason == 'estop'


def test_non_finite_policy_action_never_becomes_the_command():
    gate = make_gate(demo_steps=1)
    run_steps(gate, 1)
    gate.begin_round()
    step = gate.step(OBS, 0, 1, PolicyInput(np.array([np.nan]), 0.0, 1), np.array([1.0]), 1.0)
    assert np.all(np.isfinite(step.command)) and step.command[0] == 0.0


def test_rate_limit_and_bounds_apply_to_the_expert_too():
    cfg = RunConfig(demo_steps=10, hidden_sizes=(16,))
    gate = LiveGate(cfg, SPEC, SafetyConfig(max_rate=1.0))
    first = gate.step(OBS, 0, 0, None, np.array([5.0]), 0.0)
    second = gate.step(OBS, 0, 1, None, np.array([-2.0]), 0.1)
    assert first.command[0] == 2.0
    assert second.command[0] == pytest.approx(1.9)
    assert second.label.label[0] == -2.0, 'the label keeps what the expert wanted'


def test_budgeted_round_sends_its_budget_as_queries_and_takes_each_answer_once():
    gate = make_gate(algorithm='budgeted', query_budget=2, ensemble_size=2)
    run_steps(gate, 4)
    gate.begin_round()
    steps = run_steps(gate, 6, expert=None, start=4)
    assert all(s.actor == Source.POLICY and s.label is None for s in steps)
    queries = steps[-1].queries
    assert len(queries) == 2 and all(q.reason == 'budget_query' and q.round == 1
                                     for q in queries)
    sample = gate.answer(queries[0].query_id, np.array([1.0]), 10.0)
    assert sample.labeler == Source.EXPERT and sample.actor == Source.POLICY
    assert sample.action[0] == 0.5 and sample.label[0] == 1.0
    assert gate.answer(queries[0].query_id, np.array([1.0]), 10.0) is None
    assert [q.query_id for q in gate.open_queries] == [queries[1].query_id]


def test_async_queries_spread_over_the_round():
    gate = make_gate(algorithm='async', query_budget=3)
    run_steps(gate, 4)
    gate.begin_round()
    steps = run_steps(gate, 6, expert=None, start=4)
    assert [len(s.queries) for s in steps] == [1, 0, 1, 0, 1, 0]


def test_hg_dagger_takeover_labels_the_human_segment_with_events():
    gate = make_gate(algorithm='hg_dagger', takeover_threshold=0.1, ensemble_size=2)
    run_steps(gate, 4)
    gate.begin_round()
    steps = run_steps(gate, 3, policy=-1.0, expert=1.5, start=4)
    assert all(s.actor == Source.HUMAN for s in steps)
    labels = [s.late_label for s in steps[1:]]  # held back one step for the end mark
    assert labels[0].event == Event.INTERVENTION_START and labels[0].step == 4
    assert all(label.labeler == Source.HUMAN for label in labels)


def test_takeover_cut_short_by_a_missing_input_still_gets_its_end_mark():
    gate = make_gate(algorithm='hg_dagger', takeover_threshold=0.1, ensemble_size=2)
    run_steps(gate, 4)
    gate.begin_round()
    run_steps(gate, 3, policy=-1.0, expert=1.5, start=4)
    # the person's input goes silent mid-takeover: no release, the step falls back
    step = run_steps(gate, 1, policy=-1.0, expert=None, start=7)[0]
    assert step.actor != Source.HUMAN
    assert step.late_label.labeler == Source.HUMAN and step.late_label.step == 6
    assert step.late_label.event == Event.INTERVENTION_END


def test_offline_only_algorithm_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match='thrifty_dagger does not run live: its risk model'):
        check_live_algorithm('thrifty_dagger')
    with pytest.raises(ConfigError, match='unknown algorithm'):
        check_live_algorithm('magic')


def test_bundle_round_trip_and_refusals():
    policy = make_policy(SPEC, PolicyConfig(hidden_sizes=(8,), ensemble_size=2))
    policy.version = 4
    safety = SafetyClassifier(SPEC)
    data, fields = pack_bundle({'policy': policy, 'safety': safety, 'absent': None},
                               {'round': 3})
    parts = unpack_bundle(data, fields, SPEC)
    assert set(parts) == {'policy', 'safety'}
    assert parts['policy'][0].version == 4 and parts['policy'][1]['extra']['round'] == 3
    assert set(unpack_bundle(data, fields, SPEC, only=('policy',))) == {'policy'}
    with pytest.raises(CheckpointError, match='add up to'):
        unpack_bundle(data[:-1], fields)
    with pytest.raises(CheckpointError, match='not JSON'):
        unpack_bundle(data, [('{oops', len(data))])
    with pytest.raises(SpecMismatchError):
        unpack_bundle(data, fields, EnvSpec('Other-v0', 5, 1, (-1.0,), (1.0,)))
    with pytest.raises(CheckpointError, match='no policy part'):
        unpack_bundle(*pack_bundle({'safety': safety}))


def test_round_summary_counts_the_queries_whose_labels_come_later():
    gate = make_gate(algorithm='budgeted', query_budget=2, ensemble_size=2)
    run_steps(gate, 4)
    gate.begin_round()
    assert run_steps(gate, 6, expert=None, start=4)[-1].round_end.queries == 2
    gate = make_gate(algorithm='async', query_budget=3)
    run_steps(gate, 4)
    gate.begin_round()
    assert run_steps(gate, 6, expert=None, start=4)[-1].round_end.queries == 3
