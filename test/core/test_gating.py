"""Truth tables of every gating rule, with boundaries, switching sequences and bad inputs."""

import math

import numpy as np
import pytest

from dagger_ros.core import gating
from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.types import GateDecision

NAN = math.nan
INF = math.inf
SAFE = (True, True, 'invalid_input')


def decision(d: GateDecision) -> tuple:
    assert isinstance(d, GateDecision)
    return (d.expert_drives, d.label, d.reason)


# --- DAgger -------------------------------------------------------------------------------

@pytest.mark.parametrize('beta, u, expected', [
    (1.0, 0.999, (True, True, 'beta_expert')),
    (1.0, 1.0, (True, True, 'beta_expert')),       # β = 1 always hands control to the expert
    (0.0, 0.0, (False, True, 'beta_policy')),      # β = 0: policy drives, still labeled
    (0.5, 0.5, (False, True, 'beta_policy')),      # u == β is not below β
    (0.5, 0.4999, (True, True, 'beta_expert')),
    (0.5, np.float32(0.2), (True, True, 'beta_expert')),
    (0.5, NAN, SAFE),
    (0.5, -0.1, SAFE),                             # not a uniform draw
    (0.5, 1.5, SAFE),
    (0.5, None, SAFE),
])
def test_beta_mix(beta, u, expected):
    assert decision(gating.beta_mix(beta, u)) == expected


def test_beta_mix_labels_every_state_and_meets_beta_on_average():
    rng = np.random.default_rng(3)
    decisions = [gating.beta_mix(0.3, rng.random()) for _ in range(4000)]
    assert all(d.label for d in decisions)
    # binomial sd at n=4000, p=0.3 is 0.0072; 0.03 is > 4 sd
    assert abs(np.mean([d.expert_drives for d in decisions]) - 0.3) < 0.03


@pytest.mark.parametrize('beta', [-0.1, 1.1, NAN, INF])
def test_beta_out_of_range_is_refused(beta):
    with pytest.raises(ConfigError, match=r'beta must lie in \[0, 1\], got'):
        gating.beta_mix(beta, 0.3)


# --- HG-DAgger ----------------------------------------------------------------------------

@pytest.mark.parametrize('engaged, was_engaged, expected', [
    (True, False, (True, True, 'takeover_start')),
    (True, True, (True, True, 'takeover')),
    (False, True, (False, False, 'handback')),
    (False, False, (False, False, 'policy')),
])
def test_human_gate(engaged, was_engaged, expected):
    assert decision(gating.human_gate(engaged, was_engaged)) == expected


def test_human_gate_labels_only_the_takeover_segment():
    pressed = [False, True, True, True, False, False, True, False]
    was, reasons, labels = False, [], []
    for engaged in pressed:
        d = gating.human_gate(engaged, was)
        reasons.append(d.reason)
        labels.append(d.label)
        was = engaged
    assert reasons == ['policy', 'takeover_start', 'takeover', 'takeover', 'handback', 'policy',
                       'takeover_start', 'handback']
    assert labels == pressed


@pytest.mark.parametrize('doubts, fraction, expected', [
    ([9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 1.0, 2.0], 0.25, 1.5),   # last quarter = last 2 of 8
    ([4.0, 8.0, 1.0, 2.0, 3.0], 0.25, 2.5),                  # ceil(1.25) = last 2
    ([5.0], 0.25, 5.0),                                      # at least one value
    ([1.0, 2.0, 3.0, 6.0], 1.0, 3.0),                        # whole log
    ([NAN, 4.0], 0.25, 4.0),                                 # NaN dropped first
    ([7.0, INF, 3.0], 0.25, 3.0),
])
def test_hg_dagger_threshold_is_mean_of_the_last_share(doubts, fraction, expected):
    assert gating.hg_dagger_threshold(np.array(doubts), fraction) == pytest.approx(expected)


@pytest.mark.parametrize('doubts, fraction, pattern', [
    ([NAN], 0.25, 'no finite doubt values'),
    ([], 0.25, 'no finite doubt values'),
    ([1.0], 0.0, r'fraction must lie in \(0, 1\], got 0.0'),
    ([1.0], 1.5, r'fraction must lie in \(0, 1\], got 1.5'),
])
def test_hg_dagger_threshold_refuses_bad_input(doubts, fraction, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.hg_dagger_threshold(np.array(doubts), fraction)


# --- SafeDAgger ---------------------------------------------------------------------------

@pytest.mark.parametrize('p, threshold, expected', [
    (0.9, 0.5, (True, True, 'safety')),
    (0.5, 0.5, (False, False, 'policy')),          # at the threshold: still safe
    (0.5000001, 0.5, (True, True, 'safety')),
    (0.1, 0.5, (False, False, 'policy')),
    (1.0, 1.0, (False, False, 'policy')),          # threshold 1: the net never triggers
    (0.0, 0.0, (False, False, 'policy')),
    (np.array(0.7), 0.5, (True, True, 'safety')),  # a 0-d array from a network is fine
    (NAN, 0.5, SAFE),
    (1.5, 0.5, SAFE),                              # not a probability
    (-0.1, 0.5, SAFE),
])
def test_safe_dagger(p, threshold, expected):
    assert decision(gating.safe_dagger(p, threshold)) == expected


@pytest.mark.parametrize('threshold', [-0.1, 1.1, NAN])
def test_safe_dagger_threshold_out_of_range(threshold):
    with pytest.raises(ConfigError, match=r'safety threshold must be a number in \[0, 1\]'):
        gating.safe_dagger(0.3, threshold)


@pytest.mark.parametrize('policy, expert, tau, unsafe', [
    ([0.3, 0.4], [0.0, 0.0], 0.49, True),          # ||.||₂ = 0.5, not squared (0.25)
    ([0.3, 0.4], [0.0, 0.0], 0.5, False),          # equal to τ: safe
    ([0.3, 0.4], [0.0, 0.0], 0.3, True),
    ([1.0], [1.0], 0.0, False),                    # no deviation is never unsafe
    ([1.0, 2.0], [1.0, 2.1], INF, False),
])
def test_safety_target_is_l2_deviation_above_tau(policy, expert, tau, unsafe):
    assert gating.safety_target(np.array(policy), np.array(expert), tau) is unsafe


@pytest.mark.parametrize('policy, expert, tau, error, pattern', [
    ([0.1], [0.1], -1.0, ConfigError, 'tau must be a number'),
    ([0.1], [0.1], NAN, ConfigError, 'tau must be a number'),
    ([0.1, 0.2], [0.1], 0.5, InputError, r'one shape, got \(2,\) and \(1,\)'),
    ([NAN], [0.1], 0.5, InputError, 'must be finite'),
])
def test_safety_target_refuses_bad_input(policy, expert, tau, error, pattern):
    with pytest.raises(error, match=pattern):
        gating.safety_target(np.array(policy), np.array(expert), tau)


# --- LazyDAgger-style hysteresis ----------------------------------------------------------

@pytest.mark.parametrize('score, was, expected', [
    (0.8, False, (True, True, 'hysteresis_enter')),
    (0.7, False, (False, False, 'policy')),        # at the entry threshold: no switch
    (0.5, False, (False, False, 'policy')),        # between thresholds, policy stays
    (0.5, True, (True, True, 'hysteresis_hold')),  # between thresholds, expert stays
    (0.3, True, (True, True, 'hysteresis_hold')),  # at the exit threshold: no switch
    (0.29, True, (False, False, 'hysteresis_exit')),
    (0.9, True, (True, True, 'hysteresis_hold')),
    (NAN, False, SAFE),
    (NAN, True, SAFE),
    (INF, False, SAFE),
])
def test_hysteresis_truth_table(score, was, expected):
    d = gating.hysteresis(score, was, switch_to_expert=0.7, switch_back=0.3)
    assert decision(d) == expected


def test_hysteresis_sequence_enters_holds_and_exits():
    scores = [0.2, 0.8, 0.5, 0.31, 0.29, 0.5, 0.69, 0.9, NAN, 0.1]
    was, reasons = False, []
    for score in scores:
        d = gating.hysteresis(score, was, switch_to_expert=0.7, switch_back=0.3)
        reasons.append(d.reason)
        was = d.expert_drives
    assert reasons == ['policy', 'hysteresis_enter', 'hysteresis_hold', 'hysteresis_hold',
                       'hysteresis_exit', 'policy', 'policy', 'hysteresis_enter',
                       'invalid_input', 'hysteresis_exit']


def test_hysteresis_with_equal_thresholds_is_a_single_threshold():
    assert gating.hysteresis(0.5, False, 0.5, 0.5).reason == 'policy'
    assert gating.hysteresis(0.6, False, 0.5, 0.5).reason == 'hysteresis_enter'
    assert gating.hysteresis(0.5, True, 0.5, 0.5).reason == 'hysteresis_hold'
    assert gating.hysteresis(0.4, True, 0.5, 0.5).reason == 'hysteresis_exit'


@pytest.mark.parametrize('enter, leave, pattern', [
    (0.3, 0.7, r'switch_back must not exceed switch_to_expert, got switch_back=0.7 > '
               r'switch_to_expert=0.3'),
    (NAN, 0.1, 'switch_to_expert must be a number'),
    (0.5, NAN, 'switch_back must be a number'),
])
def test_hysteresis_bad_thresholds(enter, leave, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.hysteresis(0.1, False, enter, leave)


# --- EnsembleDAgger -----------------------------------------------------------------------

@pytest.mark.parametrize('doubt, discrepancy, expected', [
    (0.1, 0.1, (False, True, 'policy')),           # every state labeled, even the novice's
    (0.6, 0.1, (True, True, 'novelty')),
    (0.1, 0.6, (True, True, 'discrepancy')),
    (0.6, 0.6, (True, True, 'novelty')),           # novelty is checked first
    (0.5, 0.5, (False, True, 'policy')),           # at both thresholds: novice may act
    (0.0, 0.0, (False, True, 'policy')),
    (NAN, 0.1, SAFE),
    (0.1, NAN, SAFE),
    (-0.1, 0.1, SAFE),                             # a negative variance is a glitch
    (0.1, INF, SAFE),
])
def test_ensemble_dagger(doubt, discrepancy, expected):
    assert decision(gating.ensemble_dagger(doubt, discrepancy, 0.5, 0.5)) == expected


@pytest.mark.parametrize('doubt_threshold, discrepancy_threshold, pattern', [
    (-0.1, 0.5, r'doubt_threshold must be a number in \[0, inf\], got -0.1'),
    (0.5, NAN, r'discrepancy_threshold must be a number in \[0, inf\], got nan'),
])
def test_ensemble_dagger_bad_thresholds(doubt_threshold, discrepancy_threshold, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.ensemble_dagger(0.1, 0.1, doubt_threshold, discrepancy_threshold)


def test_ensemble_dagger_infinite_thresholds_never_trigger():
    assert decision(gating.ensemble_dagger(1e9, 1e9, INF, INF)) == (False, True, 'policy')


# --- ThriftyDAgger ------------------------------------------------------------------------

THRIFTY = {'novelty_threshold': 0.5, 'risk_threshold': 0.5, 'discrepancy_back_threshold': 0.1,
           'risk_back_threshold': 0.25}


@pytest.mark.parametrize('novelty, risk, was, discrepancy, expected', [
    (0.1, 0.1, False, INF, (False, False, 'policy')),       # robot drives, no label
    (0.9, 0.1, False, INF, (True, True, 'novelty')),
    (0.1, 0.9, False, INF, (True, True, 'risk')),
    (0.9, 0.9, False, INF, (True, True, 'novelty')),        # novelty is checked first
    (0.5, 0.5, False, INF, (False, False, 'policy')),       # at δ_h and β_h: no switch
    (0.1, 0.1, False, NAN, (False, False, 'policy')),       # discrepancy unread in robot mode
    (0.1, 0.1, True, 0.01, (False, True, 'thrifty_exit')),  # close and safe: hand back
    (0.1, 0.1, True, 0.5, (True, True, 'thrifty_hold')),    # actions still disagree
    (0.1, 0.3, True, 0.01, (True, True, 'thrifty_hold')),   # risk not yet low enough
    (0.1, 0.1, True, 0.1, (True, True, 'thrifty_hold')),    # at δ_r: not below
    (0.1, 0.25, True, 0.01, (True, True, 'thrifty_hold')),  # at β_r: not below
    (0.9, 0.1, True, 0.01, (False, True, 'thrifty_exit')),  # novelty is not read on the way back
    (NAN, 0.1, False, INF, SAFE),
    (0.1, NAN, True, 0.01, SAFE),
    (0.1, 0.1, True, NAN, SAFE),                            # human mode needs the discrepancy
    (0.1, 0.1, True, INF, SAFE),
])
def test_thrifty_truth_table(novelty, risk, was, discrepancy, expected):
    d = gating.thrifty(novelty, risk, was, discrepancy=discrepancy, **THRIFTY)
    assert decision(d) == expected


def test_thrifty_switching_sequence():
    # (novelty, risk, discrepancy seen while the human drives)
    steps = [(0.1, 0.1, INF), (0.2, 0.7, INF), (0.1, 0.4, 0.01), (0.1, 0.1, 0.3),
             (0.1, 0.1, 0.05), (0.1, 0.2, INF), (0.8, 0.1, INF), (0.1, 0.1, 0.0)]
    was, reasons, labels = False, [], []
    for novelty, risk, discrepancy in steps:
        d = gating.thrifty(novelty, risk, was, discrepancy=discrepancy, **THRIFTY)
        reasons.append(d.reason)
        labels.append(d.label)
        was = d.expert_drives
    assert reasons == ['policy', 'risk', 'thrifty_hold', 'thrifty_hold', 'thrifty_exit',
                       'policy', 'novelty', 'thrifty_exit']
    assert labels == [False, True, True, True, True, False, True, True]


@pytest.mark.parametrize('name, value', [
    ('novelty_threshold', -1.0), ('novelty_threshold', NAN), ('risk_threshold', NAN),
    ('discrepancy_back_threshold', -0.5), ('risk_back_threshold', NAN)])
def test_thrifty_bad_thresholds_name_themselves(name, value):
    with pytest.raises(ConfigError, match=f'{name} must be a number'):
        gating.thrifty(0.1, 0.1, False, discrepancy=INF, **{**THRIFTY, name: value})


# --- thresholds from data -----------------------------------------------------------------

@pytest.mark.parametrize('rate', [0.02, 0.1, 0.5, 0.9])
def test_quantile_threshold_meets_the_target_rate_on_fresh_data(rate):
    rng = np.random.default_rng(11)
    past, fresh = rng.exponential(size=20000), rng.exponential(size=20000)
    threshold = gating.quantile_threshold(past, rate)
    # on its own data the count above is exactly floor(rate * n)
    assert np.sum(past > threshold) == math.floor(rate * past.size + 1e-9)
    # on fresh data the rate misses by the threshold's quantile error plus binomial noise:
    # sd = sqrt(2 rate (1 - rate) / 20000) <= 0.005; 0.025 is 5 sd (false-failure odds < 1e-6)
    assert abs(np.mean(fresh > threshold) - rate) < 0.025


@pytest.mark.parametrize('scores, rate, expected', [
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),              # exactly 2 of 4 exceed 2.0
    ([4.0, 3.0, 2.0, 1.0], 0.25, 3.0),             # order of the input does not matter
    ([1.0, 2.0, 3.0], 0.2, 3.0),                   # floor(0.6) = 0 exceed: budget not overshot
    ([1.0, NAN, 3.0, 2.0], 0.34, 2.0),             # NaN ignored
    ([1.0, INF, INF, 2.0], 0.5, 2.0),              # inf counts as a score
])
def test_quantile_threshold_small_cases(scores, rate, expected):
    assert gating.quantile_threshold(np.array(scores), rate) == expected


@pytest.mark.parametrize('scores, rate, pattern', [
    ([1.0, 2.0], 0.0, r'target_rate must lie in \(0, 1\), got 0.0'),
    ([1.0, 2.0], 1.0, r'target_rate must lie in \(0, 1\), got 1.0'),
    ([1.0, 2.0], -0.5, r'target_rate must lie in \(0, 1\), got -0.5'),
    ([1.0, 2.0], NAN, r'target_rate must lie in \(0, 1\), got nan'),
    ([], 0.1, 'no scores'),
    ([NAN, NAN], 0.1, 'no scores'),
])
def test_quantile_threshold_refuses_bad_input(scores, rate, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.quantile_threshold(np.array(scores), rate)


# --- budgeted queries ---------------------------------------------------------------------

@pytest.mark.parametrize('scores, budget, expected', [
    ([0.1, 0.9, 0.5, 0.7], 2, [1, 3]),
    ([0.1, 0.9, 0.5, 0.9, 0.9], 2, [1, 3]),        # ties go to the earlier states
    ([0.1, 0.9, 0.5, 0.9, NAN], 3, [1, 3, 4]),     # NaN counts as most uncertain
    ([0.1, 0.9, 0.5], 0, []),
    ([0.1, 0.9, 0.5], 3, [0, 1, 2]),               # budget == len: all
    ([0.1, 0.9, 0.5], 99, [0, 1, 2]),              # budget > len: all
    ([], 5, []),
])
def test_select_queries_uncertainty_picks_the_top_k(scores, budget, expected):
    chosen = gating.select_queries(np.array(scores), budget, 'uncertainty',
                                   np.random.default_rng(0))
    assert chosen.dtype == np.int64
    assert chosen.tolist() == expected


def test_select_queries_top_k_matches_a_full_sort(rng):
    scores = rng.normal(size=500)
    chosen = gating.select_queries(scores, 40, 'uncertainty', rng)
    assert set(chosen.tolist()) == set(np.argsort(-scores)[:40].tolist())


def test_select_queries_random_is_seeded_and_without_repeats():
    first = gating.select_queries(np.zeros(100), 30, 'random', np.random.default_rng(1))
    again = gating.select_queries(np.zeros(100), 30, 'random', np.random.default_rng(1))
    other = gating.select_queries(np.zeros(100), 30, 'random', np.random.default_rng(2))
    assert len(set(first.tolist())) == 30
    assert first.tolist() == sorted(first.tolist())
    assert np.all((first >= 0) & (first < 100))
    np.testing.assert_array_equal(first, again)
    assert first.tolist() != other.tolist()


def test_select_queries_random_without_scores_needs_a_count():
    chosen = gating.select_queries(None, 4, 'random', np.random.default_rng(0), n_states=10)
    assert len(set(chosen.tolist())) == 4
    assert gating.select_queries(None, 20, 'random', np.random.default_rng(0),
                                 n_states=10).tolist() == list(range(10))


def test_select_queries_random_is_uniform_over_states():
    counts = np.zeros(10)
    rng = np.random.default_rng(5)
    for _ in range(2000):
        counts[gating.select_queries(np.zeros(10), 3, 'random', rng)] += 1
    # each state is picked with p = 0.3: mean count 600, binomial sd 20.5; 100 is ~5 sd
    assert np.all(np.abs(counts - 600) < 100)


@pytest.mark.parametrize('scores, budget, mode, kwargs, pattern', [
    (np.zeros(3), -1, 'random', {}, 'query budget must be an integer >= 0, got -1'),
    (np.zeros(3), 2.5, 'random', {}, 'query budget must be an integer >= 0, got 2.5'),
    (np.zeros(3), 5, 'best', {}, "query mode must be 'uncertainty' or 'random', got 'best'"),
    (None, 2, 'uncertainty', {'n_states': 5}, "scores are required in 'uncertainty' mode"),
    (None, 2, 'random', {}, 'n_states=None'),
])
def test_select_queries_bad_arguments(scores, budget, mode, kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.select_queries(scores, budget, mode, np.random.default_rng(0), **kwargs)
