"""Pure gating rules: who drives and what gets labeled, as functions of their inputs.

No clocks, no globals: randomness comes in as a uniform draw ``u`` or a Generator. A NaN score
never raises here: it yields the safe decision (the expert drives, reason 'invalid_input'),
because a sensor glitch must not crash a control loop. Bad thresholds are configuration
errors and raise ConfigError.
"""

from __future__ import annotations

import math

import numpy as np

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.types import GateDecision

INVALID = GateDecision(expert_drives=True, label=True, reason='invalid_input')


def _finite(*values: float) -> bool:
    return all(value is not None and math.isfinite(value) for value in values)


def _check_threshold(name: str, value: float, lo: float = -math.inf) -> None:
    if not (_finite(value) or value == math.inf) or value < lo:
        raise ConfigError(f'{name} must be a number >= {lo}, got {value!r}')


def beta_mix(beta: float, u: float) -> GateDecision:
    """DAgger: the expert drives iff u < β; every visited state is labeled (Ross et al. 2011).

    Draw u once per step for per-step mixing, or once per episode for per-episode mixing.
    """
    if not 0.0 <= beta <= 1.0:
        raise ConfigError(f'beta must lie in [0, 1], got {beta!r}')
    if not _finite(u):
        return INVALID
    expert = u < beta
    return GateDecision(expert, True, 'beta_expert' if expert else 'beta_policy')


def human_gate(engaged: bool, was_engaged: bool) -> GateDecision:
    """HG-DAgger: the human holds the takeover; only takeover segments are labeled."""
    if engaged:
        return GateDecision(True, True, 'takeover' if was_engaged else 'takeover_start')
    return GateDecision(False, False, 'handback' if was_engaged else 'policy')


def hg_dagger_threshold(doubts_at_takeover: np.ndarray, fraction: float = 0.25) -> float:
    """Kelly et al. set the doubt threshold τ to the mean doubt over the last quarter of the
    logged interventions: the policy's doubt where the human judged it unsafe, once it had
    mostly learned. ``fraction`` picks that last share (at least one value)."""
    values = np.asarray(doubts_at_takeover, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ConfigError('no finite doubt values at takeovers to learn a threshold from')
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f'fraction must lie in (0, 1], got {fraction!r}')
    count = max(1, int(math.ceil(fraction * values.size)))
    return float(values[-count:].mean())


def safe_dagger(p_unsafe: float, threshold: float = 0.5) -> GateDecision:
    """SafeDAgger: predicted-unsafe states go to the expert and only they are labeled."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f'safety threshold must lie in [0, 1], got {threshold!r}')
    if not _finite(p_unsafe):
        return GateDecision(True, True, 'invalid_input')
    unsafe = p_unsafe > threshold
    return GateDecision(unsafe, unsafe, 'safety' if unsafe else 'policy')


def safety_target(policy_action: np.ndarray, expert_action: np.ndarray, tau: float) -> bool:
    """The safety net's training target (Zhang & Cho 2017): ||π(s) - π*(s)||₂ > τ."""
    _check_threshold('tau', tau, 0.0)
    return bool(np.linalg.norm(np.asarray(policy_action) - np.asarray(expert_action)) > tau)


def hysteresis(score: float, expert_was_driving: bool, switch_to_expert: float,
               switch_back: float) -> GateDecision:
    """LazyDAgger-style switching: enter above switch_to_expert, leave below switch_back."""
    _check_threshold('switch_to_expert', switch_to_expert)
    _check_threshold('switch_back', switch_back)
    if switch_back > switch_to_expert:
        raise ConfigError(f'switch_back ({switch_back}) must not exceed switch_to_expert '
                          f'({switch_to_expert})')
    if not _finite(score):
        return INVALID
    if expert_was_driving:
        if score < switch_back:
            return GateDecision(False, False, 'hysteresis_exit')
        return GateDecision(True, True, 'hysteresis_hold')
    if score > switch_to_expert:
        return GateDecision(True, True, 'hysteresis_enter')
    return GateDecision(False, False, 'policy')


def ensemble_dagger(doubt: float, discrepancy: float, doubt_threshold: float,
                    discrepancy_threshold: float) -> GateDecision:
    """EnsembleDAgger (Menda et al. 2019): the novice acts only where its doubt and its
    discrepancy from the expert are both within their thresholds; the expert, queried at
    every step, labels every state."""
    _check_threshold('doubt_threshold', doubt_threshold, 0.0)
    _check_threshold('discrepancy_threshold', discrepancy_threshold, 0.0)
    if not _finite(doubt, discrepancy):
        return INVALID
    if doubt > doubt_threshold:
        return GateDecision(True, True, 'novelty')
    if discrepancy > discrepancy_threshold:
        return GateDecision(True, True, 'discrepancy')
    return GateDecision(False, True, 'policy')


def thrifty(novelty: float, risk: float, expert_was_driving: bool, novelty_threshold: float,
            risk_threshold: float, discrepancy: float, discrepancy_back_threshold: float,
            risk_back_threshold: float) -> GateDecision:
    """ThriftyDAgger (Hoque et al. 2021): robot → human on novelty > δ_h or risk > β_h;
    human → robot once the robot's action is close to the human's (discrepancy < δ_r) and
    the risk is low (< β_r). Only the human's segments are labeled. ``discrepancy`` may be
    inf while the robot drives (the human's action is not asked for then)."""
    for name, value in (('novelty_threshold', novelty_threshold),
                        ('risk_threshold', risk_threshold),
                        ('discrepancy_back_threshold', discrepancy_back_threshold),
                        ('risk_back_threshold', risk_back_threshold)):
        _check_threshold(name, value)
    if not _finite(novelty, risk) or math.isnan(discrepancy):
        return INVALID
    if expert_was_driving:
        if discrepancy < discrepancy_back_threshold and risk < risk_back_threshold:
            return GateDecision(False, False, 'thrifty_exit')
        return GateDecision(True, True, 'thrifty_hold')
    if novelty > novelty_threshold:
        return GateDecision(True, True, 'novelty')
    if risk > risk_threshold:
        return GateDecision(True, True, 'risk')
    return GateDecision(False, False, 'policy')


def quantile_threshold(scores: np.ndarray, target_rate: float) -> float:
    """The threshold that about ``target_rate`` of the scores exceed (as ThriftyDAgger sets
    δ_h and β_h from the last round's data to meet a target intervention rate)."""
    if not 0.0 < target_rate < 1.0:
        raise ConfigError(f'target_rate must lie in (0, 1), got {target_rate!r}')
    values = np.asarray(scores, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ConfigError('no finite scores to set a threshold from')
    return float(np.quantile(values, 1.0 - target_rate))


def select_queries(scores: np.ndarray, budget: int, mode: str,
                   rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted) of the states to send to the expert: the ``budget`` highest scores
    ('uncertainty'; ties go to the earlier state, NaN counts as most uncertain) or a random
    subset without repeats ('random')."""
    if budget < 0:
        raise ConfigError(f'query budget must be >= 0, got {budget!r}')
    values = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=np.inf)
    if mode == 'random':
        return np.sort(rng.choice(values.size, size=min(budget, values.size), replace=False))
    if mode != 'uncertainty':
        raise ConfigError(f"query mode must be 'uncertainty' or 'random', got {mode!r}")
    order = np.lexsort((np.arange(values.size), -values))
    return np.sort(order[:budget])
