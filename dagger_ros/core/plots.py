"""Learning-curve PNGs: return against expert labels, with the expert's return as the ceiling."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def plot_learning_curves(curves: dict[str, Sequence[dict]], expert_return: float,
                         random_return: float, path: str | Path, title: str) -> Path:
    """Plot one line per named run (metrics rows with 'labels' and 'return_mean')."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, rows in curves.items():
        xs = [row['labels'] for row in rows]
        ys = [row['return_mean'] for row in rows]
        errs = [row.get('return_std', 0.0) for row in rows]
        ax.errorbar(xs, ys, yerr=errs, marker='o', ms=3, capsize=2, label=name)
    ax.axhline(expert_return, color='k', ls='--', lw=1, label=f'expert ({expert_return:.0f})')
    ax.axhline(random_return, color='grey', ls=':', lw=1, label=f'random ({random_return:.0f})')
    ax.set_xlabel('expert labels')
    ax.set_ylabel('episode return')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
