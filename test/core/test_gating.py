"""Truth tables of every gating rule, with boundaries and invalid inputs."""

import math

import numpy as np
import pytest

from dagger_ros.core import gating
from dagger_ros.core.errors import ConfigError

NAN = math.nan
INF = math.inf


def decision(d):
    return (d.expert_drives, d.label, d.reason)


@pytest.mark.parametrize('beta, u, expected', [
    (1.0, 0.999, (True, True, 'beta_expert')),
    (0.0, 0.0, (False, True, 'beta_policy')),      # β = 0: the policy drives, still labeled
    (0.5, 0.5, (False, True, 'beta_policy')),      # u == β: not below
    (0.5, 0.4999, (True, True, 'beta_expert')),
    (0.5, NAN, (True, True, 'invalid_input')),
])
def test_beta_mix(beta, u, expected):
    assert decision(gating.beta_mix(beta, u)) == expected


@pytest.mark.parametrize('beta', [-0.1, 1.1, NAN])
def test_beta_out_of_range_is_refused(beta):
    with pytest.raises(ConfigError, match='beta must lie in'):
        gating.beta_mix(beta, 0.3)


@pytest.mark.parametrize('engaged, was, expected', [
    (True, False, (True, True, 'takeover_start')),
    (True, True, (True, True, 'takeover')),
    (False, True, (False, False, 'handback')),
    (False, False, (False, False, 'policy')),
])
def test_human_gate(engaged, was, expected):
    assert decision(gating.human_gate(engaged, was)) == expected


def test_hg_dagger_threshold_is_mean_of_last_quarter():
    doubts = np.array([9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 1.0, 2.0])
    assert gating.hg_dagger_threshold(doubts) == pytest.approx(1.5)
    assert gating.hg_dagger_threshold(np.array([NAN, 4.0])) == 4.0
    with pytest.raises(ConfigError, match='no finite doubt'):
        gating.hg_dagger_threshold(np.array([NAN]))


@pytest.mark.parametrize('p, threshold, expected', [
    (0.9, 0.5, (True, True, 'safety')),
    (0.5, 0.5, (False, False, 'policy')),          # at the threshold: still safe
    (0.1, 0.5, (False, False, 'policy')),
    (NAN, 0.5, (True, True, 'invalid_input')),
])
def test_safe_dagger(p, threshold, expected):
    assert decision(gating.safe_dagger(p, threshold)) == expected


def test_safety_target_uses_l2_deviation():
    assert gating.safety_target(np.array([0.3, 0.4]), np.zeros(2), 0.49)
    assert not gating.safety_target(np.array([0.3, 0.4]), np.zeros(2), 0.5)


def test_hysteresis_sequence_enters_holds_and_exits():
    scores = [0.2, 0.8, 0.5, 0.31, 0.29, 0.5, 0.9]
    was, reasons = False, []
    for score in scores:
        d = gating.hysteresis(score, was, switch_to_expert=0.7, switch_back=0.3)
        reasons.append(d.reason)
        was = d.expert_drives
    assert reasons == ['policy', 'hysteresis_enter', 'hysteresis_hold', 'hysteresis_hold',
                       'hysteresis_exit', 'policy', 'hysteresis_enter']


def test_hysteresis_thresholds_must_be_ordered():
    with pytest.raises(ConfigError, match='must not exceed'):
        gating.hysteresis(0.1, False, 0.3, 0.7)


@pytest.mark.parametrize('doubt, disc, expected', [
    (0.1, 0.1, (False, True, 'policy')),           # every state labeled
    (0.6, 0.1, (True, True, 'novelty')),
    (0.1, 0.6, (True, True, 'discrepancy')),
    (0.5, 0.5, (False, True, 'policy')),           # at both thresholds
    (NAN, 0.1, (True, True, 'invalid_input')),
])
def test_ensemble_dagger(doubt, disc, expected):
    assert decision(gating.ensemble_dagger(doubt, disc, 0.5, 0.5)) == expected


@pytest.mark.parametrize('novelty, risk, was, disc, expected', [
    (0.1, 0.1, False, INF, (False, False, 'policy')),
    (0.9, 0.1, False, INF, (True, True, 'novelty')),
    (0.1, 0.9, False, INF, (True, True, 'risk')),
    (0.1, 0.1, True, 0.01, (False, False, 'thrifty_exit')),
    (0.1, 0.1, True, 0.5, (True, True, 'thrifty_hold')),   # actions still disagree
    (0.1, 0.3, True, 0.01, (True, True, 'thrifty_hold')),  # risk not yet low enough
    (NAN, 0.1, False, INF, (True, True, 'invalid_input')),
])
def test_thrifty(novelty, risk, was, disc, expected):
    d = gating.thrifty(novelty, risk, was, novelty_threshold=0.5, risk_threshold=0.5,
                       discrepancy=disc, discrepancy_back_threshold=0.1,
                       risk_back_threshold=0.25)
    assert decision(d) == expected


@pytest.mark.parametrize('rate', [0.05, 0.2, 0.5])
def test_quantile_threshold_meets_the_target_rate(rate, rng):
    scores = rng.exponential(size=20000)
    threshold = gating.quantile_threshold(scores, rate)
    # binomial std of the exceedance share at n=20000 is < 0.0036: 0.01 is ~3 sigma
    assert abs(np.mean(scores > threshold) - rate) < 0.01


@pytest.mark.parametrize('rate', [0.0, 1.0, -0.5])
def test_quantile_threshold_rate_out_of_range(rate):
    with pytest.raises(ConfigError, match='target_rate must lie in'):
        gating.quantile_threshold(np.ones(3), rate)


def test_select_queries_top_k_with_ties_and_nan():
    scores = np.array([0.1, 0.9, 0.5, 0.9, NAN])
    chosen = gating.select_queries(scores, 3, 'uncertainty', np.random.default_rng(0))
    assert chosen.tolist() == [1, 3, 4]
    assert gating.select_queries(scores, 99, 'uncertainty', np.random.default_rng(0)).size == 5


def test_select_queries_random_is_seeded_and_without_repeats():
    scores = np.zeros(100)
    first = gating.select_queries(scores, 30, 'random', np.random.default_rng(1))
    again = gating.select_queries(scores, 30, 'random', np.random.default_rng(1))
    assert len(set(first.tolist())) == 30
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize('budget, mode, pattern', [
    (-1, 'random', 'budget must be >= 0'), (5, 'best', "mode must be 'uncertainty' or")])
def test_select_queries_bad_arguments(budget, mode, pattern):
    with pytest.raises(ConfigError, match=pattern):
        gating.select_queries(np.zeros(3), budget, mode, np.random.default_rng(0))
