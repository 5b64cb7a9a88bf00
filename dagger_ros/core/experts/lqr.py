"""Discrete-time LQR by Riccati iteration (numpy only: scipy is a test extra, not a dependency)."""

from __future__ import annotations

import numpy as np


def solve_dare(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray,
               tol: float = 1e-10, max_iter: int = 100_000) -> np.ndarray:
    """Return P solving P = Q + A'PA - A'PB (R + B'PB)^-1 B'PA by fixed-point iteration.

    Raises:
        ArithmeticError: the iteration did not converge (the pair (A, B) is not stabilizable).
    """
    p = q.copy()
    for _ in range(max_iter):
        gain = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        nxt = q + a.T @ p @ (a - b @ gain)
        nxt = 0.5 * (nxt + nxt.T)
        if np.max(np.abs(nxt - p)) <= tol * max(1.0, float(np.max(np.abs(nxt)))):
            return nxt
        p = nxt
    raise ArithmeticError(f'Riccati iteration did not converge in {max_iter} steps')


def lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Return K such that u = -K x minimizes sum x'Qx + u'Ru under x+ = Ax + Bu."""
    p = solve_dare(a, b, q, r)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
