"""Training throughput: train_policy against a plain DataLoader loop, same model and data.

Both train the same MLPPolicy (17 → 256 → 256 → 6) on the same synthetic data for the same
number of epochs with the same batch size, AdamW and loss, in the same process, interleaved.
train_policy is timed as a whole call (upload, normalization, shuffling, clipping, best-weights
bookkeeping); the baseline is the textbook loop over DataLoader(TensorDataset, shuffle=True).
Also times the gradient steps alone (batches sliced in order, nothing loaded or shuffled): the
fastest any trainer could go, so their rate over the baseline's is the ceiling of the ratio.
Also times a single-observation MLPPolicy.act on the CPU. Writes the JSON named by --out
and a .txt table beside it.

    .venv/bin/python bench/bench_training.py --samples 100000 --epochs 3 \
        --out bench/results/training.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

# bench/ for common.py, and the checkout itself so the script runs without an install.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from common import machine  # noqa: E402

from dagger_ros.core.policies import MLPPolicy, PolicyConfig  # noqa: E402
from dagger_ros.core.spec import EnvSpec  # noqa: E402
from dagger_ros.core.training import train_policy, TrainConfig  # noqa: E402
from plots import plot_training  # noqa: E402

log = logging.getLogger('bench_training')
SPEC = EnvSpec('bench', 17, 6, (-1.0,) * 6, (1.0,) * 6)
MODEL = PolicyConfig(hidden_sizes=(256, 256))


def make_data(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Observations and labels of a smooth 17 → 6 map inside the action bounds."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(samples, SPEC.obs_dim))
    mix = rng.normal(size=(SPEC.obs_dim, SPEC.act_dim)) / np.sqrt(SPEC.obs_dim)
    return obs, 0.9 * np.tanh(obs @ mix)


def train_config(epochs: int, batch_size: int) -> TrainConfig:
    """train_policy's settings: every sample trains, no early stop, no update cap."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, val_fraction=0.0,
                       patience=epochs, min_updates=0, max_updates=None)


def time_train_policy(obs: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
                      device: str) -> float:
    """Samples per second of one train_policy call, wall time of the whole call."""
    policy = MLPPolicy(SPEC, MODEL)
    start = time.perf_counter()
    train_policy(policy, obs, labels, train_config(epochs, batch_size), device=device)
    _sync(device)
    return len(obs) * epochs / (time.perf_counter() - start)


def time_dataloader(obs: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
                    device: str) -> float:
    """Samples per second of the plain loop on the same model, loss and optimizer."""
    torch.manual_seed(0)
    policy = MLPPolicy(SPEC, MODEL)
    policy.fit_normalization(obs, labels)
    policy.to(device)
    start = time.perf_counter()
    dataset = TensorDataset(torch.as_tensor(obs, dtype=torch.float32),
                            torch.as_tensor(labels, dtype=torch.float32))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    for _ in range(epochs):
        for x, y in loader:
            loss = policy.normalized_loss(x.to(device), y.to(device)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return len(obs) * epochs / (time.perf_counter() - start)


def time_compute_floor(obs: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
                       device: str) -> float:
    """Samples per second of the gradient steps alone: batches sliced in order, no loading.

    No trainer can beat this on the same model, loss, optimizer and batch size, so its ratio
    over the DataLoader loop is the ceiling of the ratio train_policy can reach.
    """
    torch.manual_seed(0)
    policy = MLPPolicy(SPEC, MODEL)
    policy.fit_normalization(obs, labels)
    policy.to(device)
    x = torch.as_tensor(obs, dtype=torch.float32, device=device)
    y = torch.as_tensor(labels, dtype=torch.float32, device=device)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        for lo in range(0, len(x), batch_size):
            loss = policy.normalized_loss(x[lo:lo + batch_size], y[lo:lo + batch_size]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)
    return len(obs) * epochs / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def measure(device: str, args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved repeats of both loops on one device; the best of each."""
    obs, labels = make_data(args.samples)
    # Warm-up: the first optimizer built in a process imports torch._dynamo (seconds).
    time_train_policy(obs[:512], labels[:512], 1, args.batch_size, device)
    time_dataloader(obs[:512], labels[:512], 1, args.batch_size, device)
    ours, plain, floor = [], [], []
    for _ in range(args.repeats):
        ours.append(time_train_policy(obs, labels, args.epochs, args.batch_size, device))
        plain.append(time_dataloader(obs, labels, args.epochs, args.batch_size, device))
        floor.append(time_compute_floor(obs, labels, args.epochs, args.batch_size, device))
        log.info('%s: train_policy %.0f samples/s, DataLoader loop %.0f, gradient steps alone '
                 '%.0f', device, ours[-1], plain[-1], floor[-1])
    return {'train_policy_samples_per_s': max(ours), 'dataloader_samples_per_s': max(plain),
            'steps_only_samples_per_s': max(floor), 'ratio': max(ours) / max(plain),
            'ceiling_ratio': max(floor) / max(plain), 'all_train_policy': ours,
            'all_dataloader': plain, 'all_steps_only': floor}


def time_act(calls: int = 2000, rounds: int = 7) -> dict[str, float]:
    """Microseconds per single-observation act() on the CPU: best and median of rounds."""
    policy = MLPPolicy(SPEC, MODEL)
    obs = np.random.default_rng(1).normal(size=SPEC.obs_dim)
    for _ in range(200):
        policy.act(obs)
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            policy.act(obs)
        per_call.append((time.perf_counter() - start) / calls * 1e6)
    return {'act_us_best': min(per_call), 'act_us_median': float(np.median(per_call))}


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """A text table of the results."""
    lines = [f'{args.samples} samples x {args.epochs} epochs, batch {args.batch_size}, '
             f'17-256-256-6 MLP, {args.threads} torch thread(s)',
             f"{'device':<8}{'train_policy /s':>18}{'DataLoader /s':>16}{'ratio':>8}"
             f"{'steps alone /s':>17}{'ceiling':>9}"]
    for device, row in results.items():
        if device == 'act':
            continue
        lines.append(f"{device:<8}{row['train_policy_samples_per_s']:>18,.0f}"
                     f"{row['dataloader_samples_per_s']:>16,.0f}{row['ratio']:>8.2f}"
                     f"{row['steps_only_samples_per_s']:>17,.0f}{row['ceiling_ratio']:>9.2f}")
    lines.append('steps alone: the gradient steps with no data loading at all; ceiling: their '
                 'rate over the DataLoader loop, the most any trainer can gain on this model')
    act = results['act']
    lines.append(f"single-observation MLPPolicy.act on the CPU: {act['act_us_best']:.1f} us "
                 f"best, {act['act_us_median']:.1f} us median")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure on the CPU (and CUDA when present), write the results, log the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=100_000)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--out', type=Path, default=Path('bench/results/training.json'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    logging.getLogger('dagger_ros').setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    results: dict[str, dict[str, Any]] = {device: measure(device, args) for device in devices}
    results['act'] = time_act()
    text = table(results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({'machine': machine(), 'args': {
        k: str(v) for k, v in vars(args).items()}, 'results': results}, indent=2))
    args.out.with_suffix('.txt').write_text(text + '\n')
    plot_training(results, args.out.with_suffix('.png'))
    log.info('%s', text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
