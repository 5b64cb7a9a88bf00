"""DART (Laskey et al. 2017): Gaussian noise injected into the expert's executed action.

The expert drives with a_exec = clip(π*(s) + ε), ε ~ N(0, Σ), so that its demonstrations visit
the states a slightly wrong learner drifts into, and show how to recover from them. The label of
the state is the expert's *clean* action π*(s), never the executed one: :func:`dart_action` returns
only the executed action and the caller records π*(s) as the label.

Σ comes from one of three options:

* a fixed level: ``level_covariance(level, low, high)`` with a constant level;
* a decaying level: the same with ``schedules.DecayingNoise`` giving the level per round;
* estimated, Laskey et al.'s optimized noise: :func:`estimate_dart_covariance` fits Σ to the
  learner's own errors on states from the expert's (noisy) rollouts; :func:`with_floor` keeps
  each variance above a floor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dagger_ros.core.errors import ConfigError, InputError

# relative size of an eigenvalue below zero still taken as rounding error, not a bad matrix
_PSD_TOLERANCE = 1e-9


def _is_real(value: object) -> bool:
    """Whether value is a real number (a bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L Lᵀ = cov for a symmetric positive semi-definite cov.

    eigh rather than Cholesky, because a DART covariance is often singular (no noise on some
    dimensions), where Cholesky fails.
    """
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))


def _check_covariance(cov: np.ndarray, dim: int) -> np.ndarray:
    """cov as a float array of shape (dim, dim), finite, symmetric and PSD; else ConfigError."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (dim, dim):
        raise ConfigError(f'noise covariance has shape {cov.shape}, expected ({dim}, {dim})')
    if not np.all(np.isfinite(cov)):
        raise ConfigError('noise covariance has non-finite entries; expected finite values')
    scale = max(float(np.abs(cov).max()), 1.0)
    if not np.allclose(cov, cov.T, rtol=0.0, atol=_PSD_TOLERANCE * scale):
        raise ConfigError('noise covariance is not symmetric; expected Σ = Σᵀ')
    smallest = float(np.linalg.eigvalsh(cov).min()) if dim else 0.0
    if smallest < -_PSD_TOLERANCE * scale:
        raise ConfigError(f'noise covariance has eigenvalue {smallest:g} < 0; expected a '
                          f'positive semi-definite matrix')
    return cov


def dart_action(expert_action: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
                low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The action DART executes: the clean expert action plus N(0, cov) noise, clipped.

    The label of this state stays the clean ``expert_action``; the caller records it.

    Args:
        expert_action: the expert's clean action π*(s), shape (act_dim,).
        cov: noise covariance Σ, shape (act_dim, act_dim), symmetric PSD (zero: no noise).
        rng: the generator the noise is drawn from.
        low: lower action bounds, broadcastable to (act_dim,).
        high: upper action bounds, broadcastable to (act_dim,).

    Returns:
        The executed action, shape (act_dim,), inside [low, high].

    Raises:
        InputError: expert_action not a finite vector.
        ConfigError: cov of the wrong shape, non-finite, asymmetric or not PSD.
    """
    clean = np.asarray(expert_action, dtype=np.float64)
    if clean.ndim != 1 or not np.all(np.isfinite(clean)):
        raise InputError(f'expert action must be a finite vector, got shape {clean.shape}')
    factor = _psd_factor(_check_covariance(cov, clean.size))
    noise = factor @ rng.standard_normal(clean.size)
    return np.clip(clean + noise, low, high)


def level_covariance(level: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A diagonal Σ whose standard deviation is ``level`` times the half range of each dimension.

    Args:
        level: noise standard deviation as a fraction of (high - low) / 2, >= 0.
        low: lower action bounds.
        high: upper action bounds.

    Returns:
        diag((level · (high - low) / 2)²).

    Raises:
        ConfigError: level negative or not finite, or bounds not finite with low < high.
    """
    if not (_is_real(level) and math.isfinite(level) and level >= 0):
        raise ConfigError(f'noise level must be a finite number >= 0, got {level!r}')
    low_arr = np.asarray(low, dtype=np.float64).ravel()
    high_arr = np.asarray(high, dtype=np.float64).ravel()
    if (low_arr.shape != high_arr.shape or not np.all(np.isfinite(low_arr))
            or not np.all(np.isfinite(high_arr)) or not np.all(low_arr < high_arr)):
        raise ConfigError(f'action bounds must be finite with low < high, got low={low!r} '
                          f'high={high!r}')
    return np.diag((level * (high_arr - low_arr) / 2) ** 2)


def with_floor(cov: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """cov with each variance raised to at least the floor's (floor a diagonal Σ).

    A learner that fits the expert's states almost exactly gives an estimate near zero, and the
    expert then never shows a recovery; the floor keeps some noise. Raising diagonal entries adds
    a positive semi-definite diagonal, so the result stays positive semi-definite.
    """
    cov = np.asarray(cov, dtype=np.float64)
    floor = np.asarray(floor, dtype=np.float64)
    if cov.ndim != 2 or cov.shape != floor.shape or cov.shape[0] != cov.shape[1]:
        raise InputError(f'need two square matrices of one shape, got {cov.shape} and '
                         f'{floor.shape}')
    raise_by = np.clip(np.diag(floor) - np.diag(cov), 0.0, None)
    return cov + np.diag(raise_by)


def estimate_dart_covariance(policy_actions: np.ndarray, expert_actions: np.ndarray,
                             horizon: int | None = None,
                             trace_bound: float | None = None) -> np.ndarray:
    """Laskey et al.'s optimized DART noise: the covariance of the learner's errors.

    With e = π_θ(s) - π*(s) on states s from the expert's noisy rollouts, the noise that best
    imitates the learner's drift is Σ = (1/T) E[Σ_t e_t e_tᵀ], the mean of e eᵀ over the
    collected steps. It is not centred: a constant bias of the learner is an error too, so it
    counts (np.cov would remove it). With a bound α on the trace, Σ is rescaled to
    α / (T · tr(S)) · S, S = E[Σ_t e_t e_tᵀ]: the same shape with trace α / T, α bounding the
    expected squared deviation the noise adds over a T-step trajectory. Errors all zero give a
    zero Σ (nothing to imitate), whatever the bound. The result is symmetrized and its
    eigenvalues floored at 0, so rounding cannot make it indefinite.

    Args:
        policy_actions: π_θ(s) for N states, shape (N, act_dim), N >= 1.
        expert_actions: π*(s) at the same states, same shape.
        horizon: T, steps per trajectory; only used with trace_bound (default 1).
        trace_bound: α; None leaves the unconstrained estimate.

    Returns:
        Σ, shape (act_dim, act_dim), symmetric positive semi-definite.

    Raises:
        InputError: actions of other shapes, empty, or non-finite.
        ConfigError: horizon not an integer >= 1, or trace_bound negative or not finite.
    """
    errors = _action_errors(policy_actions, expert_actions)
    steps = _check_horizon(horizon)
    cov = errors.T @ errors / errors.shape[0]
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2)
    cov = (vectors * np.clip(eigenvalues, 0.0, None)) @ vectors.T
    # the rebuilt product is symmetric only up to rounding; make it exactly so
    cov = (cov + cov.T) / 2
    if trace_bound is None:
        return cov
    alpha = _check_trace_bound(trace_bound)
    trace = float(np.trace(cov))
    return cov * (alpha / (steps * trace)) if trace > 0 else cov


def _action_errors(policy_actions: np.ndarray, expert_actions: np.ndarray) -> np.ndarray:
    """π_θ(s) - π*(s) as an (N, act_dim) float array with N >= 1; InputError otherwise."""
    policy = np.asarray(policy_actions, dtype=np.float64)
    expert = np.asarray(expert_actions, dtype=np.float64)
    if policy.shape != expert.shape or policy.ndim != 2 or policy.shape[0] == 0:
        raise InputError(f'need policy and expert actions of one shape (N, act_dim) with '
                         f'N >= 1, got {policy.shape} and {expert.shape}')
    errors = policy - expert
    if not np.all(np.isfinite(errors)):
        raise InputError('policy or expert actions have non-finite entries; expected finite')
    return errors


def _check_horizon(horizon: int | None) -> int:
    """T of the trace-bounded estimate: horizon, 1 when None; ConfigError unless >= 1."""
    if horizon is None:
        return 1
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise ConfigError(f'horizon must be an integer >= 1, got {horizon!r}')
    return int(horizon)


def _check_trace_bound(trace_bound: float) -> float:
    """α of the trace-bounded estimate; ConfigError unless a finite number >= 0."""
    if not (_is_real(trace_bound) and math.isfinite(trace_bound) and trace_bound >= 0):
        raise ConfigError(f'trace_bound must be a finite number >= 0, got {trace_bound!r}')
    return float(trace_bound)
