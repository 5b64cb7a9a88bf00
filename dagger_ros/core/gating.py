"""Pure gating rules: who drives this step and whether the expert labels it.

Every rule is a function of its inputs only: no clock, no globals, no node. Randomness comes in
as a uniform draw ``u`` or an ``np.random.Generator``; the rules that remember who drove last
take that as an argument (``expert_was_driving``) and the caller stores the new
``decision.expert_drives`` for the next step.

Two kinds of bad input, two answers:

* A bad *score* (NaN, a probability outside [0, 1], a negative variance) is a glitch in the
  loop. The rule does not raise: it returns the safe decision, the expert drives and labels,
  reason ``'invalid_input'``, because an exception must never leave a control loop.
* A bad *threshold* is configuration and raises ConfigError, naming what was got and what
  was expected, so that a run fails before it starts.

Comparisons: a score strictly above its threshold hands control to the expert; a score equal
to the threshold leaves the policy driving. Thresholds may be ``inf`` (never trigger).

Sources: Ross et al. 2011 (DAgger); Kelly et al. 2019 (HG-DAgger); Zhang & Cho 2017
(SafeDAgger); Hoque et al. 2021 (LazyDAgger, ThriftyDAgger); Menda et al. 2019
(EnsembleDAgger).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.types import GateDecision

INVALID_INPUT = 'invalid_input'
QUERY_MODES = ('uncertainty', 'random')


def _safe() -> GateDecision:
    """The decision for unusable inputs: the expert drives and labels."""
    return GateDecision(expert_drives=True, label=True, reason=INVALID_INPUT)


def _real(value: Any) -> float:
    """value as a float; NaN when it is not one real number (bool, text, a longer array)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        return math.nan
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return math.nan
    return float(array.reshape(())) if array.size == 1 else math.nan


def _score(value: Any, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """value as a float when it is a finite number in [lo, hi], else None."""
    number = _real(value)
    return number if math.isfinite(number) and lo <= number <= hi else None


def _threshold(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    """value as a float (inf allowed, NaN not) in [lo, hi]; raise ConfigError otherwise."""
    number = _real(value)
    if not lo <= number <= hi:
        raise ConfigError(f'{name} must be a number in [{lo:g}, {hi:g}], got {value!r}')
    return number


def beta_mix(beta: float, u: float) -> GateDecision:
    """DAgger's mixture π_i = β_i π* + (1 - β_i) π̂_i (Ross et al. 2011, Algorithm 3.1).

    The expert drives iff u < β (always when β = 1); every visited state is labeled by the
    expert, whoever drove: with β = 0 the policy always drives and every state is still
    labeled (the usual "pure" DAgger). Mixing per step or per episode is the caller's choice
    of when to draw u: a fresh ``rng.random()`` each step, or one per episode reused for all
    its steps.

    Args:
        beta: probability that the expert drives, in [0, 1].
        u: a uniform draw in [0, 1).

    Returns:
        reason 'beta_expert' or 'beta_policy'; 'invalid_input' (expert drives) when u is not a
        number in [0, 1].

    Raises:
        ConfigError: beta outside [0, 1].
    """
    b = _score(beta, 0.0, 1.0)
    if b is None:
        raise ConfigError(f'beta must lie in [0, 1], got {beta!r}')
    draw = _score(u, 0.0, 1.0)
    if draw is None:
        return _safe()
    expert = draw < b or b == 1.0
    return GateDecision(expert_drives=expert, label=True,
                        reason='beta_expert' if expert else 'beta_policy')


def human_gate(engaged: bool, was_engaged: bool) -> GateDecision:
    """HG-DAgger (Kelly et al. 2019): the human decides when to take over.

    The expert drives iff engaged, and only the takeover segments are labeled: the policy's own
    steps get no label. The step at which the human lets go is a plain policy step ('handback').

    Args:
        engaged: the human holds control at this step.
        was_engaged: the human held control at the previous step.

    Returns:
        reason 'takeover_start', 'takeover', 'handback' or 'policy'.
    """
    if engaged:
        return GateDecision(expert_drives=True, label=True,
                            reason='takeover' if was_engaged else 'takeover_start')
    return GateDecision(expert_drives=False, label=False,
                        reason='handback' if was_engaged else 'policy')


def hg_dagger_threshold(doubts_at_takeover: np.ndarray, fraction: float = 0.25) -> float:
    """HG-DAgger's learned risk threshold τ from its intervention log.

    Kelly et al. (2019) log the novice's doubt (the spread of its ensemble) each time
    the human takes over, and set τ to the mean of the final 25 % of that log: the doubt at
    which the human judged the novice unsafe, once the novice had mostly learned. States whose
    doubt exceeds τ are then predicted risky. ``fraction`` is that final share; the last
    ceil(fraction · n) finite entries are averaged, at least one.

    Args:
        doubts_at_takeover: doubt values in the order the takeovers happened.
        fraction: share of the log, counted from its end, to average, in (0, 1].

    Returns:
        τ.

    Raises:
        ConfigError: fraction outside (0, 1], or no finite doubt value to learn from.
    """
    share = _score(fraction, 0.0, 1.0)
    if not share:
        raise ConfigError(f'fraction must lie in (0, 1], got {fraction!r}')
    values = np.asarray(doubts_at_takeover, dtype=np.float64).ravel()
    # NaN doubts are dropped, not averaged, so one glitch cannot poison τ
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ConfigError('no finite doubt values at takeovers to learn a threshold from; '
                          'expected at least one')
    count = max(1, math.ceil(share * values.size))
    return float(values[-count:].mean())


def safe_dagger(p_unsafe: float, threshold: float = 0.5) -> GateDecision:
    """SafeDAgger (Zhang & Cho 2017): a learned safety policy gates the primary policy.

    The safety policy predicts whether the primary policy's action would deviate from the
    reference (expert) policy's by more than τ (see :func:`safety_target`). Where it predicts
    unsafe, the expert drives and the state is labeled; only those states are aggregated.
    Elsewhere the policy drives and no label is asked for.

    Args:
        p_unsafe: the safety classifier's probability that this state is unsafe, in [0, 1].
        threshold: p_unsafe above which the state counts as unsafe, in [0, 1].

    Returns:
        reason 'safety' or 'policy'; 'invalid_input' (expert drives) when p_unsafe is not a
        probability.

    Raises:
        ConfigError: threshold outside [0, 1].
    """
    limit = _threshold('safety threshold', threshold, 0.0, 1.0)
    p = _score(p_unsafe, 0.0, 1.0)
    if p is None:
        return _safe()
    unsafe = p > limit
    return GateDecision(expert_drives=unsafe, label=unsafe,
                        reason='safety' if unsafe else 'policy')


def safety_target(policy_action: np.ndarray, expert_action: np.ndarray, tau: float) -> bool:
    """The training target of SafeDAgger's safety classifier: is this state unsafe?

    Zhang & Cho (2017) define the optimal safety policy as 0 (unsafe) where the L2
    distance ||π(φ(s)) - π*(φ(s))||₂ exceeds τ and 1 (safe) otherwise. This returns True for
    unsafe. The plain (not squared) norm is used; a squared-norm test is the same test with τ².

    Args:
        policy_action: the primary policy's action.
        expert_action: the reference policy's action at the same state.
        tau: deviation threshold, >= 0, in action units.

    Returns:
        True where the deviation is strictly above tau.

    Raises:
        ConfigError: tau negative or NaN.
        InputError: actions of different shapes or with non-finite entries.
    """
    limit = _threshold('tau', tau, 0.0)
    policy = np.asarray(policy_action, dtype=np.float64)
    expert = np.asarray(expert_action, dtype=np.float64)
    if policy.shape != expert.shape or not (np.all(np.isfinite(policy))
                                            and np.all(np.isfinite(expert))):
        raise InputError(f'actions must be finite and of one shape, got {policy.shape} '
                         f'and {expert.shape}')
    return bool(np.linalg.norm(policy - expert) > limit)


def hysteresis(score: float, expert_was_driving: bool, switch_to_expert: float,
               switch_back: float) -> GateDecision:
    """Two-threshold switching, as in LazyDAgger (Hoque et al. 2021): fewer, longer takeovers.

    While the policy drives, control goes to the expert when score > switch_to_expert. While
    the expert drives it keeps control until score < switch_back (switch_back <=
    switch_to_expert), so a score hovering near one threshold cannot flip control each step.
    The expert's steps are labeled. LazyDAgger enters on its safety classifier's predicted
    discrepancy and leaves on the measured discrepancy to the supervisor's action; the caller
    may pass either score, on one scale, as suits the current mode.

    Args:
        score: the current risk score (higher is riskier).
        expert_was_driving: the expert drove the previous step.
        switch_to_expert: entry threshold.
        switch_back: exit threshold, <= switch_to_expert.

    Returns:
        reason 'hysteresis_enter', 'hysteresis_hold', 'hysteresis_exit' or 'policy';
        'invalid_input' (expert drives) when score is not a finite number.

    Raises:
        ConfigError: a NaN threshold, or switch_back > switch_to_expert.
    """
    enter = _threshold('switch_to_expert', switch_to_expert)
    leave = _threshold('switch_back', switch_back)
    if leave > enter:
        raise ConfigError(f'switch_back must not exceed switch_to_expert, got switch_back='
                          f'{switch_back!r} > switch_to_expert={switch_to_expert!r}')
    value = _score(score)
    if value is None:
        return _safe()
    if expert_was_driving:
        if value < leave:
            return GateDecision(expert_drives=False, label=False, reason='hysteresis_exit')
        return GateDecision(expert_drives=True, label=True, reason='hysteresis_hold')
    if value > enter:
        return GateDecision(expert_drives=True, label=True, reason='hysteresis_enter')
    return GateDecision(expert_drives=False, label=False, reason='policy')


def ensemble_dagger(doubt: float, discrepancy: float, doubt_threshold: float,
                    discrepancy_threshold: float) -> GateDecision:
    """EnsembleDAgger (Menda et al. 2019): the novice acts only where it is safe enough.

    The novice's action is executed only if its doubt (the variance of its ensemble) is at
    most doubt_threshold and its discrepancy from the expert's action is at most
    discrepancy_threshold; otherwise the expert's. The paper measures the discrepancy as
    ||a_nov - a_exp||₂; the caller picks the measure (the offline rule takes the largest error
    as a share of each dimension's range, so that one threshold fits every task). The expert
    is queried at every step and labels every visited state, as in DAgger.

    Args:
        doubt: ensemble variance at this state, >= 0.
        discrepancy: distance between the novice's and the expert's actions, >= 0.
        doubt_threshold: largest doubt at which the novice may act, >= 0.
        discrepancy_threshold: largest discrepancy at which the novice may act, >= 0.

    Returns:
        reason 'novelty' (doubt too high, checked first), 'discrepancy' or 'policy';
        'invalid_input' (expert drives) when doubt or discrepancy is not a number >= 0.

    Raises:
        ConfigError: a threshold negative or NaN.
    """
    doubt_limit = _threshold('doubt_threshold', doubt_threshold, 0.0)
    gap_limit = _threshold('discrepancy_threshold', discrepancy_threshold, 0.0)
    doubt_value, gap = _score(doubt, 0.0), _score(discrepancy, 0.0)
    if doubt_value is None or gap is None:
        return _safe()
    if doubt_value > doubt_limit:
        return GateDecision(expert_drives=True, label=True, reason='novelty')
    if gap > gap_limit:
        return GateDecision(expert_drives=True, label=True, reason='discrepancy')
    return GateDecision(expert_drives=False, label=True, reason='policy')


def thrifty(novelty: float, risk: float, expert_was_driving: bool, novelty_threshold: float,
            risk_threshold: float, discrepancy: float, discrepancy_back_threshold: float,
            risk_back_threshold: float) -> GateDecision:
    """ThriftyDAgger (Hoque et al. 2021): robot-gated switching on novelty and risk.

    Robot → human when novelty > δ_h (checked first) or risk > β_h. Human → robot when the
    robot's action is close to the human's, discrepancy < δ_r, and the robot's action is safe
    enough, risk < β_r. Novelty is the variance of the robot's ensemble; risk is 1 - Q(s, a_R),
    where Q estimates the probability that the robot's policy completes the task from s after
    a_R; discrepancy is ||a_R - a_H||² in the paper (any scale the thresholds share). The
    human's segments are labeled. The switch-back test needs the human's action at this state,
    so that action is kept as a label of the state where control returns to the robot, as the
    authors' code stores it. In their code δ_h and β_h are quantiles meeting the target
    intervention rate (:func:`quantile_threshold`), δ_r is the mean squared discrepancy on the
    training data and β_r the median risk.

    Args:
        novelty: ensemble variance at this state, >= 0.
        risk: 1 - Q(s, a_R), the robot's estimated chance of failing, finite.
        expert_was_driving: the human drove the previous step.
        novelty_threshold: δ_h, >= 0.
        risk_threshold: β_h.
        discrepancy: ||a_R - a_H||²; only read while the human drives (pass inf otherwise).
        discrepancy_back_threshold: δ_r, >= 0.
        risk_back_threshold: β_r.

    Returns:
        reason 'novelty', 'risk', 'thrifty_hold', 'thrifty_exit' or 'policy';
        'invalid_input' (human drives) when a score it reads is not a valid number.

    Raises:
        ConfigError: a threshold NaN, or negative where it bounds a variance or a distance.
    """
    novelty_limit = _threshold('novelty_threshold', novelty_threshold, 0.0)
    risk_limit = _threshold('risk_threshold', risk_threshold)
    gap_back = _threshold('discrepancy_back_threshold', discrepancy_back_threshold, 0.0)
    risk_back = _threshold('risk_back_threshold', risk_back_threshold)
    novelty_value, risk_value = _score(novelty, 0.0), _score(risk)
    if novelty_value is None or risk_value is None:
        return _safe()
    if expert_was_driving:
        return _thrifty_human_mode(risk_value, discrepancy, gap_back, risk_back)
    if novelty_value > novelty_limit:
        return GateDecision(expert_drives=True, label=True, reason='novelty')
    if risk_value > risk_limit:
        return GateDecision(expert_drives=True, label=True, reason='risk')
    return GateDecision(expert_drives=False, label=False, reason='policy')


def _thrifty_human_mode(risk: float, discrepancy: Any, gap_back: float,
                        risk_back: float) -> GateDecision:
    """ThriftyDAgger while the human drives: hand back or hold."""
    gap = _score(discrepancy, 0.0)
    if gap is None:
        return _safe()
    if gap < gap_back and risk < risk_back:
        return GateDecision(expert_drives=False, label=True, reason='thrifty_exit')
    return GateDecision(expert_drives=True, label=True, reason='thrifty_hold')


def quantile_threshold(scores: np.ndarray, target_rate: float) -> float:
    """The threshold that about ``target_rate`` of the scores strictly exceed.

    ThriftyDAgger sets δ_h and β_h this way from the scores of the states the robot drove in
    the previous round, so that the share of steps handed to the human meets a target
    intervention rate. The threshold is one of the scores, chosen so that exactly
    floor(target_rate · n) of n distinct scores exceed it: the share above lies in
    (target_rate - 1/n, target_rate], so the budget is never overshot on these scores. Ties at
    the threshold lower the share. NaN scores are ignored; ±inf count as scores.

    Args:
        scores: scores of past states (higher means more in need of the expert).
        target_rate: wanted share of scores above the threshold, in (0, 1).

    Returns:
        The threshold.

    Raises:
        ConfigError: target_rate outside (0, 1), or no score that is not NaN.
    """
    rate = _score(target_rate, 0.0, 1.0)
    if rate is None or rate in (0.0, 1.0):
        raise ConfigError(f'target_rate must lie in (0, 1), got {target_rate!r}')
    values = np.asarray(scores, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ConfigError('no scores (other than NaN) to set a threshold from; '
                          'expected at least one')
    # an order statistic, not an interpolation: inf scores stay usable and the count of
    # scores above it is exact; the 1e-9 keeps 0.29 * 100 from flooring to 28
    above = math.floor(rate * values.size + 1e-9)
    return float(np.sort(values)[values.size - 1 - above])


def select_queries(scores: np.ndarray | None, budget: int, mode: str,
                   rng: np.random.Generator, n_states: int | None = None) -> np.ndarray:
    """Pick which visited states to send to the expert under a label budget.

    'uncertainty' takes the ``budget`` highest scores (ties go to the earlier state; a NaN
    score counts as most uncertain, since a state that cannot be scored is worth asking
    about). 'random' takes a uniform subset without repeats, drawn from ``rng``. A budget of
    at least the number of states takes them all without drawing.

    Args:
        scores: one uncertainty score per visited state; may be None in 'random' mode when
            n_states is given.
        budget: number of labels to buy, >= 0.
        mode: 'uncertainty' or 'random'.
        rng: the generator the random subset is drawn from.
        n_states: number of states when scores is None.

    Returns:
        Sorted int64 indices of the chosen states, without repeats.

    Raises:
        ConfigError: unknown mode, negative budget, or neither scores nor n_states usable.
    """
    if mode not in QUERY_MODES:
        raise ConfigError(f"query mode must be 'uncertainty' or 'random', got {mode!r}")
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 0:
        raise ConfigError(f'query budget must be an integer >= 0, got {budget!r}')
    values = _query_scores(scores, mode, n_states)
    count = values.size
    if budget >= count:
        return np.arange(count, dtype=np.int64)
    if mode == 'random':
        return np.sort(rng.choice(count, size=int(budget), replace=False)).astype(np.int64)
    ranked = np.lexsort((np.arange(count), -np.nan_to_num(values, nan=np.inf)))
    return np.sort(ranked[:budget]).astype(np.int64)


def _query_scores(scores: np.ndarray | None, mode: str, n_states: int | None) -> np.ndarray:
    """The scores as a flat float array, or zeros for n_states states in 'random' mode."""
    if scores is not None:
        return np.asarray(scores, dtype=np.float64).ravel()
    if mode == 'random' and isinstance(n_states, numbers.Integral) and n_states >= 0:
        return np.zeros(int(n_states))
    raise ConfigError(f"scores are required in {mode!r} mode unless mode is 'random' and "
                      f'n_states >= 0 is given, got n_states={n_states!r}')
