"""DART (Laskey et al. 2017): noise injected into the expert's executed action.

The expert drives with a_exec = π*(s) + ε, ε ~ N(0, Σ); the label is the clean π*(s). Laskey
et al. choose Σ to match the learner's own errors on the expert's distribution,
Σ̂ = E[(π_θ(s) − π*(s))(π_θ(s) − π*(s))ᵀ], so that the expert visits the states the learner
would drift into; optionally scaled so its trace stays under a bound (their α/T factor).
"""

from __future__ import annotations

import numpy as np

from dagger_ros.core.errors import ConfigError


def dart_action(expert_action: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
                low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The executed action: the clean expert action plus N(0, cov) noise, clipped to bounds."""
    clean = np.asarray(expert_action, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (clean.size, clean.size):
        raise ConfigError(f'noise covariance has shape {cov.shape}, expected '
                          f'({clean.size}, {clean.size})')
    noise = rng.multivariate_normal(np.zeros(clean.size), cov, method='eigh')
    return np.clip(clean + noise, low, high)


def estimate_dart_covariance(policy_actions: np.ndarray, expert_actions: np.ndarray,
                             trace_bound: float | None = None) -> np.ndarray:
    """Σ̂ from the learner's errors on expert-visited states; PSD, optionally trace-bounded."""
    errors = np.asarray(policy_actions, np.float64) - np.asarray(expert_actions, np.float64)
    if errors.ndim != 2 or errors.shape[0] == 0:
        raise ConfigError(f'need (N, act_dim) actions with N >= 1, got shape {errors.shape}')
    cov = errors.T @ errors / errors.shape[0]
    eigenvalues, vectors = np.linalg.eigh((cov + cov.T) / 2)
    cov = (vectors * np.clip(eigenvalues, 0.0, None)) @ vectors.T
    if trace_bound is not None and np.trace(cov) > trace_bound > 0:
        cov *= trace_bound / np.trace(cov)
    return cov
