"""PNG figures of the live, training and dataset benchmarks (the label benchmark draws its own).

Each function takes what its benchmark writes to JSON and saves one PNG beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _bar_x(groups: int, index: int, count: int) -> tuple[np.ndarray, float]:
    """x positions and width of bar ``index`` of ``count`` side by side in each of ``groups``."""
    width = 0.8 / count
    return np.arange(groups) + index * width - 0.4 + width / 2, width


def plot_live(results: Sequence[dict[str, Any]], path: Path) -> Path:
    """Round-trip distribution per configuration, and missed deadlines against the rate."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=110)
    for res in results:
        rtts = np.sort(np.asarray(res['closed_loop'].get('rtt_ms', []), dtype=float))
        if rtts.size:
            share = np.arange(1, rtts.size + 1) / rtts.size
            left.plot(rtts, share, lw=1.6 if res['kind'] == 'echo' else 1.2,
                      color='k' if res['kind'] == 'echo' else None, label=res['kind'])
    left.axhline(0.99, color='grey', ls=':', lw=1)
    left.set(xscale='log', xlabel='observation -> command round trip (ms)',
             ylabel='share of round trips at or below',
             title='closed loop: round-trip distribution (dotted: p99)')
    left.grid(alpha=0.3, which='both')
    left.legend(fontsize=8, loc='lower right')
    rates = [rate['rate_hz'] for rate in results[0]['rates']]
    for i, res in enumerate(results):
        missed = [100.0 * rate['missed_share'] for rate in res['rates']]
        x, width = _bar_x(len(rates), i, len(results))
        right.bar(x, missed, width,
                  color='k' if res['kind'] == 'echo' else None, label=res['kind'])
    right.set_xticks(range(len(rates)), [f'{rate:.0f} Hz' for rate in rates])
    right.set(ylabel='missed deadlines (%)', ylim=(0, 105),
              title='fixed rate: commands not back within one period')
    right.grid(alpha=0.3, axis='y')
    right.legend(fontsize=8, loc='upper left')
    return _save(plt, fig, path)


def plot_training(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """Samples/s of train_policy, the DataLoader loop and the gradient steps alone, per device."""
    plt = _pyplot()
    devices = [device for device, row in results.items() if 'ratio' in row]
    bars = (('train_policy_samples_per_s', 'dagger_ros train_policy', 'tab:blue'),
            ('dataloader_samples_per_s', 'DataLoader(TensorDataset) loop', 'tab:grey'),
            ('steps_only_samples_per_s', 'gradient steps alone (ceiling)', 'tab:green'))
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for i, (key, label, color) in enumerate(bars):
        values = [results[device].get(key, np.nan) for device in devices]
        x, width = _bar_x(len(devices), i, len(bars))
        ax.bar(x, values, width, label=label, color=color)
    ax.set_xticks(range(len(devices)), devices)
    ax.set(ylabel='samples per second', title='training throughput, same model and data')
    ax.grid(alpha=0.3, axis='y')
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_dataset(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Append rate, reload time (warm and cold page cache) and peak memory against size."""
    plt = _pyplot()
    sizes = [row['samples'] for row in rows]
    labels = [f'{size / 1e6:g}M' for size in sizes]
    x = np.arange(len(sizes))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110)
    axes[0].bar(x, [row['append_batch_samples_per_s'] for row in rows], color='tab:blue')
    axes[0].set(title='batch append (samples/s)')
    for offset, cache, color in ((-0.2, 'warm', 'tab:orange'), (0.2, 'cold', 'tab:red')):
        axes[1].bar(x + offset, [row[cache]['open_and_arrays_s'] for row in rows], 0.4,
                    label=f'{cache} page cache', color=color)
    axes[1].axhline(5.0, color='k', ls='--', lw=1, label='10M target (5 s)')
    axes[1].set(title='reload: open and read every array (s)')
    axes[1].legend(fontsize=8)
    axes[2].bar(x, [row['peak_rss_mb'] for row in rows], color='tab:purple')
    axes[2].set(title='peak memory (MB)')
    for ax in axes:
        ax.set_xticks(x, labels)
        ax.set_xlabel('samples')
        ax.grid(alpha=0.3, axis='y')
    per_sample = rows[-1]['bytes_per_sample']
    fig.suptitle(f'dataset: {per_sample:.0f} bytes per sample on disk')
    return _save(plt, fig, path)
