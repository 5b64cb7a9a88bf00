"""Statistics for learning tests: is one set of returns really better than another?"""

import numpy as np


def permutation_p_value(better: np.ndarray, worse: np.ndarray, rounds: int = 4000,
                        seed: int = 0) -> float:
    """One-sided p-value that mean(better) > mean(worse) arose by chance (exact-ish test)."""
    better, worse = np.asarray(better, float), np.asarray(worse, float)
    observed = better.mean() - worse.mean()
    pooled = np.concatenate([better, worse])
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(rounds):
        rng.shuffle(pooled)
        hits += pooled[:len(better)].mean() - pooled[len(better):].mean() >= observed
    return (hits + 1) / (rounds + 1)
