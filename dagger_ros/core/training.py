"""Supervised training of policies and classifiers straight from tensors.

Minibatches are slices of one device tensor indexed by a per-epoch permutation: no per-sample
Python and no DataLoader. Same seed and same data give the same weights on the CPU.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from dagger_ros.core.device import get_device
from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.spec import check_vector

log = logging.getLogger(__name__)
ProgressFn = Callable[[dict[str, float]], None]
SCHEDULES = ('constant', 'cosine', 'step')


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, validated on construction."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    patience: int = 20
    min_updates: int = 300
    lr_schedule: str = 'cosine'
    ema_decay: float = 0.0
    warm_start: bool = True
    seed: int = 0
    max_updates: int | None = 4000
    grad_clip: float = 10.0

    def __post_init__(self) -> None:
        for name in ('epochs', 'batch_size', 'patience'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)!r}')
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f'lr must be > 0, got {self.lr!r}')
        if not 0.0 <= self.val_fraction < 0.9:
            raise ConfigError(f'val_fraction must lie in [0, 0.9), got {self.val_fraction!r}')
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(f'lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}')
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f'ema_decay must lie in [0, 1), got {self.ema_decay!r}')
        if self.max_updates is not None and self.max_updates < 1:
            raise ConfigError(f'max_updates must be >= 1 or None, got {self.max_updates!r}')


@dataclass(frozen=True)
class TrainStats:
    """What one training call did."""

    epochs_run: int
    updates: int
    train_loss: float
    val_loss: float
    best_epoch: int
    samples_per_s: float
    seconds: float


def _split(count: int, cfg: TrainConfig, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    order = torch.randperm(count, generator=gen)
    n_val = int(count * cfg.val_fraction) if count >= 20 else 0
    return order[n_val:], order[:n_val]


def _lr_factor(cfg: TrainConfig, update: int, total: int) -> float:
    if cfg.lr_schedule == 'cosine':
        return 0.5 * (1 + math.cos(math.pi * min(update / max(total, 1), 1.0)))
    if cfg.lr_schedule == 'step':
        return 0.1 ** int(3 * update / max(total, 1))
    return 1.0


def _mean_loss(loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(loss_fn(x, y).mean())


class _Ema:
    """Exponential moving average of a module's weights."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.shadow = copy.deepcopy(module)
        self.decay = decay

    def update(self, module: nn.Module) -> None:
        with torch.no_grad():
            for avg, param in zip(self.shadow.parameters(), module.parameters()):
                avg.mul_(self.decay).add_(param.detach(), alpha=1 - self.decay)


class _Loop:
    """The minibatch loop shared by policies and classifiers."""

    def __init__(self, module: nn.Module, loss_name: str, cfg: TrainConfig,
                 gen: torch.Generator, on_progress: ProgressFn | None) -> None:
        self.module, self.loss_name, self.cfg, self.gen = module, loss_name, cfg, gen
        self.on_progress = on_progress
        self.opt = torch.optim.Adam(module.parameters(), lr=cfg.lr,
                                    weight_decay=cfg.weight_decay)
        self.ema = _Ema(module, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.updates = 0

    def _loss(self, module: nn.Module) -> Callable:
        return getattr(module, self.loss_name)

    def _epoch(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor, total: int) -> float:
        perm = rows[torch.randperm(len(rows), generator=self.gen)].to(x.device)
        loss_sum, batches = torch.zeros((), device=x.device), 0
        for start in range(0, len(perm), self.cfg.batch_size):
            idx = perm[start:start + self.cfg.batch_size]
            loss = self._loss(self.module)(x[idx], y[idx]).mean()
            for group in self.opt.param_groups:
                group['lr'] = self.cfg.lr * _lr_factor(self.cfg, self.updates, total)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.grad_clip)
            self.opt.step()
            if self.ema is not None:
                self.ema.update(self.module)
            loss_sum += loss.detach()  # summed on the device: no sync per step
            batches += 1
            self.updates += 1
            if self.updates >= total:
                break
        return float(loss_sum) / max(batches, 1)

    def run(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        train_rows, val_rows = _split(len(x), self.cfg, self.gen)
        batches = math.ceil(len(train_rows) / self.cfg.batch_size)
        total = self.cfg.epochs * batches
        total = min(total, self.cfg.max_updates) if self.cfg.max_updates else total
        scored = self.ema.shadow if self.ema is not None else self.module
        best = (math.inf, copy.deepcopy(scored.state_dict()), 0)
        epoch, stale, train_loss = 0, 0, math.nan
        while epoch < self.cfg.epochs and self.updates < total:
            train_loss = self._epoch(x, y, train_rows, total)
            epoch += 1
            val = (_mean_loss(self._loss(scored), x[val_rows.to(x.device)],
                              y[val_rows.to(x.device)]) if len(val_rows) else train_loss)
            if val < best[0]:
                best, stale = (val, copy.deepcopy(scored.state_dict()), epoch), 0
            else:
                stale += 1
            if self.on_progress is not None:
                self.on_progress({'epoch': epoch, 'train_loss': train_loss, 'val_loss': val,
                                  'lr': self.opt.param_groups[0]['lr']})
            if stale >= self.cfg.patience and self.updates >= self.cfg.min_updates:
                break
        self.module.load_state_dict(best[1])
        return {'epochs': epoch, 'train_loss': train_loss, 'val_loss': best[0],
                'best_epoch': best[2]}


def _reset(module: nn.Module, seed: int) -> None:
    torch.manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()


def _check_data(obs: np.ndarray, targets: np.ndarray, obs_dim: int,
                target_dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    obs = np.atleast_2d(check_vector(obs, obs_dim, 'training observations'))
    if target_dim is None:
        targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    else:
        targets = np.atleast_2d(check_vector(targets, target_dim, 'training labels'))
    if len(obs) != len(targets) or len(obs) == 0:
        raise InputError(f'got {len(obs)} observations and {len(targets)} targets; expected '
                         'the same number, at least one')
    return obs, targets


def _fit(module: nn.Module, loss_name: str, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
         seed: int, device: torch.device, on_progress: ProgressFn | None) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed)
    if not cfg.warm_start or module.version == 0:
        _reset(module, seed)
    module.to(device)
    try:
        x_t = torch.as_tensor(x, dtype=torch.float32, device=device)
        y_t = torch.as_tensor(y, dtype=torch.float32, device=device)
        loop = _Loop(module, loss_name, cfg, gen, on_progress)
        figures = loop.run(x_t, y_t)
        figures['updates'] = loop.updates
        return figures
    finally:
        module.to('cpu')


def _stats(figures: list[dict[str, float]], cfg: TrainConfig, seconds: float) -> TrainStats:
    updates = int(sum(f['updates'] for f in figures))
    return TrainStats(
        epochs_run=int(max(f['epochs'] for f in figures)), updates=updates,
        train_loss=float(np.mean([f['train_loss'] for f in figures])),
        val_loss=float(np.mean([f['val_loss'] for f in figures])),
        best_epoch=int(max(f['best_epoch'] for f in figures)),
        samples_per_s=updates * cfg.batch_size / max(seconds, 1e-9), seconds=seconds)


def train_policy(policy: Any, obs: np.ndarray, labels: np.ndarray, cfg: TrainConfig,
                 device: str | torch.device = 'auto',
                 on_progress: ProgressFn | None = None) -> TrainStats:
    """Fit a policy (or each member of an ensemble, on its own bootstrap resample).

    Raises:
        InputError: wrong sizes, NaN, or mismatched counts, naming what was got.
    """
    obs, labels = _check_data(obs, labels, policy.spec.obs_dim, policy.spec.act_dim)
    members = list(getattr(policy, 'members', [policy]))
    dev, start, figures = get_device(device), time.monotonic(), []
    for k, member in enumerate(members):
        rows = np.arange(len(obs))
        if len(members) > 1:
            rows = np.random.default_rng([cfg.seed, k]).integers(0, len(obs), len(obs))
        member.version = policy.version
        member.fit_normalization(obs[rows], labels[rows])
        figures.append(_fit(member, 'normalized_loss', obs[rows], labels[rows], cfg,
                            cfg.seed * 1000 + k, dev, on_progress))
    policy.version += 1
    for member in members:
        member.version = policy.version
    stats = _stats(figures, cfg, time.monotonic() - start)
    log.debug('trained policy v%d on %d samples: %s', policy.version, len(obs), stats)
    return stats


def train_classifier(clf: Any, obs: np.ndarray, targets: np.ndarray, cfg: TrainConfig,
                     device: str | torch.device = 'auto') -> TrainStats:
    """Fit a binary classifier (targets are booleans) with the same loop."""
    obs, targets = _check_data(obs, targets, clf.spec.obs_dim, None)
    start = time.monotonic()
    clf.fit_normalization(obs)
    figures = _fit(clf, 'loss', obs, targets.astype(np.float64), cfg, cfg.seed + 7,
                   get_device(device), None)
    clf.version += 1
    return _stats([figures], cfg, time.monotonic() - start)
