"""Supervised training of policies and classifiers straight from device tensors.

Minibatches are rows of one device tensor picked by a per-epoch permutation: no per-sample
Python and no DataLoader. Every random draw (split, bootstrap, initialization, shuffling)
comes from generators seeded from the config, never from torch's global generator, so the
same seed and data give the same weights on the CPU, and training in a background thread
does not disturb the caller's random streams.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dagger_ros.core.device import get_device
from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.spec import check_vector

log = logging.getLogger(__name__)
ProgressFn = Callable[[dict[str, float]], None]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SCHEDULES = ('constant', 'cosine', 'step')
MIN_SAMPLES_TO_SPLIT = 20
VAL_CHUNK = 65536
SPLIT_STREAM, MEMBER_STREAM = 0, 1


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, validated on construction (ConfigError naming got and expected).

    Attributes:
        epochs: most passes over the training rows per call.
        batch_size: samples per gradient step.
        lr: peak learning rate (AdamW).
        weight_decay: AdamW's decoupled weight decay.
        val_fraction: share of the samples held out for validation and early stopping. With 0,
            or fewer than 20 samples, nothing is held out and the training loss is watched.
        patience: epochs without a better validation loss before training stops.
        min_updates: gradient steps before early stopping may stop training.
        lr_schedule: 'constant'; 'cosine' (to 0 over the planned steps); 'step' (×0.1 after a
            third and after two thirds of the planned steps).
        ema_decay: 0 turns EMA off; otherwise validation, early stopping and the final weights
            use an exponential moving average of the weights with this decay.
        warm_start: continue from the current weights; False re-draws them on every call. A
            never-trained network (version 0) is always drawn afresh from the seed.
        seed: seeds the validation split, the bootstrap, the initialization and the shuffling.
        max_updates: cap on gradient steps per call (per ensemble member); None for no cap.
        grad_clip: largest global gradient norm; None for no clipping.
    """

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
    grad_clip: float | None = 10.0

    def __post_init__(self) -> None:
        self._check_counts()
        self._check_rates()

    def _check_counts(self) -> None:
        for name in ('epochs', 'batch_size', 'patience'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)!r}')
        for name in ('min_updates', 'seed'):
            if getattr(self, name) < 0:
                raise ConfigError(f'{name} must be >= 0, got {getattr(self, name)!r}')
        if self.max_updates is not None and self.max_updates < 1:
            raise ConfigError(f'max_updates must be >= 1 or None, got {self.max_updates!r}')

    def _check_rates(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f'lr must be > 0 and finite, got {self.lr!r}')
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f'weight_decay must be >= 0, got {self.weight_decay!r}')
        if not 0.0 <= self.val_fraction < 0.9:
            raise ConfigError(f'val_fraction must lie in [0, 0.9), got {self.val_fraction!r}')
        if self.lr_schedule not in SCHEDULES:
            raise ConfigError(f'lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}')
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f'ema_decay must lie in [0, 1), got {self.ema_decay!r}')
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f'grad_clip must be > 0 or None, got {self.grad_clip!r}')


@dataclass(frozen=True)
class TrainStats:
    """What one training call did; for an ensemble, summed or averaged over the members.

    Attributes:
        epochs_run: most epochs any member ran.
        updates: gradient steps, all members together.
        train_loss: mean training loss of the last epoch run (mean over members).
        val_loss: best validation loss, the one of the weights kept (mean over members).
        best_epoch: latest epoch (over members) whose weights were kept.
        samples_per_s: training samples processed per second of the whole call.
        seconds: wall time of the whole call.
    """

    epochs_run: int
    updates: int
    train_loss: float
    val_loss: float
    best_epoch: int
    samples_per_s: float
    seconds: float


@dataclass
class _Data:
    """Samples on the training device, and which rows train and which validate."""

    x: torch.Tensor
    y: torch.Tensor
    train_rows: torch.Tensor
    val_rows: torch.Tensor


@dataclass
class _Outcome:
    """One network's run, before it is summed into TrainStats."""

    epochs: int
    updates: int
    samples: int
    train_loss: float
    val_loss: float
    best_epoch: int


class _Best:
    """The weights with the lowest validation loss so far (the start counts as infinitely bad)."""

    def __init__(self, module: nn.Module) -> None:
        self.loss, self.epoch = math.inf, 0
        self.state = _snapshot(module)

    def offer(self, loss: float, epoch: int, module: nn.Module) -> None:
        # NaN never compares lower, so a diverged run keeps the last finite weights.
        if loss < self.loss:
            self.loss, self.epoch, self.state = loss, epoch, _snapshot(module)


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in module.state_dict().items()}


def lr_factor(schedule: str, update: int, total: int) -> float:
    """Multiplier of the peak learning rate at gradient step ``update`` of ``total``."""
    progress = min(update / max(total, 1), 1.0)
    if schedule == 'cosine':
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == 'step':
        return 0.1 ** min(int(3 * progress), 2)
    return 1.0


class _Loop:
    """The minibatch loop shared by policies and classifiers: one network, one loss."""

    def __init__(self, module: nn.Module, loss_name: str, cfg: TrainConfig,
                 gen: torch.Generator, on_progress: ProgressFn | None) -> None:
        self.module, self.cfg, self.gen, self.on_progress = module, cfg, gen, on_progress
        self.loss_fn: LossFn = getattr(module, loss_name)
        self.opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay)
        self.ema = (AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
                    if cfg.ema_decay > 0 else None)
        scored = self.ema.module if self.ema is not None else module
        self.scored_loss: LossFn = getattr(scored, loss_name)
        self.scored = scored
        self.updates = self.samples = self.planned = 0

    def run(self, data: _Data) -> _Outcome:
        """Train until the epochs, the update cap or the patience run out; keep the best."""
        steps_per_epoch = math.ceil(len(data.train_rows) / self.cfg.batch_size)
        self.planned = min(self.cfg.epochs * steps_per_epoch,
                           self.cfg.max_updates or math.inf)
        best, epoch, train_loss = _Best(self.scored), 0, math.nan
        while epoch < self.cfg.epochs and self.updates < self.planned:
            epoch += 1
            train_loss = self._epoch(data)
            val_loss = self._validate(data) if len(data.val_rows) else train_loss
            best.offer(val_loss, epoch, self.scored)
            self._report(epoch, train_loss, val_loss)
            if epoch - best.epoch >= self.cfg.patience and self.updates >= self.cfg.min_updates:
                break
        self.module.load_state_dict(best.state)
        return _Outcome(epoch, self.updates, self.samples, train_loss, best.loss, best.epoch)

    def _epoch(self, data: _Data) -> float:
        order = torch.randperm(len(data.train_rows), generator=self.gen)
        perm = data.train_rows[order].to(data.x.device)
        total, steps = torch.zeros((), device=data.x.device), 0
        for rows in perm.split(self.cfg.batch_size):
            if self.updates >= self.planned:
                break
            total += self._step(data.x[rows], data.y[rows])
            steps += 1
        # One host sync per epoch: the summed loss stays on the device until here.
        return float(total) / max(steps, 1)

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        lr = self.cfg.lr * lr_factor(self.cfg.lr_schedule, self.updates, self.planned)
        for group in self.opt.param_groups:
            group['lr'] = lr
        loss = self.loss_fn(x, y).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.grad_clip)
        self.opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.module)
        self.updates += 1
        self.samples += len(x)
        return loss.detach()

    def _validate(self, data: _Data) -> float:
        total = torch.zeros((), device=data.x.device)
        with torch.no_grad():
            for rows in data.val_rows.split(VAL_CHUNK):
                total += self.scored_loss(data.x[rows], data.y[rows]).sum()
        return float(total) / len(data.val_rows)

    def _report(self, epoch: int, train_loss: float, val_loss: float) -> None:
        figures = {'epoch': epoch, 'train_loss': train_loss, 'val_loss': val_loss,
                   'lr': self.opt.param_groups[0]['lr']}
        log.debug('epoch %d: train loss %.4g, val loss %.4g', epoch, train_loss, val_loss)
        if self.on_progress is not None:
            self.on_progress(figures)


def _generator(seed: int, *stream: int) -> torch.Generator:
    # SeedSequence mixes (seed, stream...) so neighbouring seeds give unrelated streams.
    state = np.random.SeedSequence([seed, *stream]).generate_state(1, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0]))


def _reinitialize(module: nn.Module, gen: torch.Generator) -> None:
    """Re-draw every linear layer as nn.Linear does, from gen instead of the global generator."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(layer.weight.shape[1])
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)


def _check_data(obs: Any, targets: Any, obs_dim: int,
                target_dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    obs = np.atleast_2d(check_vector(obs, obs_dim, 'training observations'))
    if target_dim is None:
        targets = np.asarray(targets, dtype=np.float64).reshape(-1)
        if not np.all((targets == 0) | (targets == 1)):
            raise InputError('classifier targets must be booleans (or 0/1), got other values')
    else:
        targets = np.atleast_2d(check_vector(targets, target_dim, 'training labels'))
    if len(obs) != len(targets) or len(obs) == 0:
        raise InputError(f'got {len(obs)} observations and {len(targets)} targets; expected '
                         'the same number, at least one')
    return obs, targets


def _upload(obs: np.ndarray, targets: np.ndarray, cfg: TrainConfig,
            device: torch.device) -> _Data:
    gen = _generator(cfg.seed, SPLIT_STREAM)
    order = torch.randperm(len(obs), generator=gen)
    n_val = round(len(obs) * cfg.val_fraction) if len(obs) >= MIN_SAMPLES_TO_SPLIT else 0
    return _Data(torch.as_tensor(obs, dtype=torch.float32, device=device),
                 torch.as_tensor(targets, dtype=torch.float32, device=device),
                 order[n_val:], order[:n_val].to(device))


def _fit_member(member: nn.Module, data: _Data, cfg: TrainConfig, gen: torch.Generator,
                fresh: bool, loss_name: str, on_progress: ProgressFn | None) -> _Outcome:
    """Train one network on data.train_rows on data's device, then put it back where it was."""
    if fresh:
        _reinitialize(member, gen)
    home = next(member.buffers()).device
    member.to(data.x.device)
    try:
        return _Loop(member, loss_name, cfg, gen, on_progress).run(data)
    finally:
        member.to(home)


def _summarize(outcomes: list[_Outcome], seconds: float) -> TrainStats:
    return TrainStats(
        epochs_run=max(o.epochs for o in outcomes),
        updates=sum(o.updates for o in outcomes),
        train_loss=float(np.mean([o.train_loss for o in outcomes])),
        val_loss=float(np.mean([o.val_loss for o in outcomes])),
        best_epoch=max(o.best_epoch for o in outcomes),
        samples_per_s=sum(o.samples for o in outcomes) / max(seconds, 1e-9),
        seconds=seconds)


def _tagged(on_progress: ProgressFn | None, member: int) -> ProgressFn | None:
    if on_progress is None:
        return None
    return lambda figures: on_progress({**figures, 'member': member})


def train_policy(policy: Any, obs: np.ndarray, labels: np.ndarray, cfg: TrainConfig,
                 device: str | torch.device = 'auto',
                 on_progress: ProgressFn | None = None) -> TrainStats:
    """Fit a policy to expert labels; each ensemble member on its own bootstrap resample.

    Fits the normalization statistics, trains with early stopping on the held-out rows, keeps
    the best weights, moves the policy back to its device and increments ``policy.version``.

    Args:
        policy: an MLPPolicy or EnsemblePolicy.
        obs: observations, shape (N, obs_dim).
        labels: expert actions, shape (N, act_dim).
        cfg: training settings.
        device: where to train; 'auto' picks CUDA when present.
        on_progress: called after every epoch with epoch, train_loss, val_loss, lr, member.

    Returns:
        What the call did.

    Raises:
        InputError: wrong sizes, non-finite values or mismatched counts, naming what was got.
    """
    obs, labels = _check_data(obs, labels, policy.spec.obs_dim, policy.spec.act_dim)
    members = list(getattr(policy, 'members', [policy]))
    start = time.perf_counter()
    data = _upload(obs, labels, cfg, get_device(device))
    fresh = not cfg.warm_start or policy.version == 0
    outcomes = []
    for k, member in enumerate(members):
        gen = _generator(cfg.seed, MEMBER_STREAM, k)
        rows = data.train_rows
        if len(members) > 1:
            rows = rows[torch.randint(len(rows), (len(rows),), generator=gen)]
        member.fit_normalization(obs[rows.numpy()], labels[rows.numpy()])
        member_data = _Data(data.x, data.y, rows, data.val_rows)
        outcomes.append(_fit_member(member, member_data, cfg, gen, fresh, 'normalized_loss',
                                    _tagged(on_progress, k)))
    _bump_version(policy, members)
    stats = _summarize(outcomes, time.perf_counter() - start)
    log.info('trained policy v%d on %d samples in %.2f s (%d updates, val loss %.4g)',
             policy.version, len(obs), stats.seconds, stats.updates, stats.val_loss)
    return stats


def _bump_version(owner: Any, members: list[Any]) -> None:
    owner.version += 1
    for member in members:
        member.version = owner.version


def train_classifier(clf: Any, obs: np.ndarray, targets: np.ndarray, cfg: TrainConfig,
                     device: str | torch.device = 'auto',
                     on_progress: ProgressFn | None = None) -> TrainStats:
    """Fit a binary classifier (e.g. SafetyClassifier) with the same loop, BCE loss.

    Args:
        clf: a network with fit_normalization(obs), loss(obs, target) and version.
        obs: observations, shape (N, obs_dim).
        targets: booleans (or 0/1), shape (N,); True means 'unsafe'.
        cfg: training settings.
        device: where to train; 'auto' picks CUDA when present.
        on_progress: called after every epoch with epoch, train_loss, val_loss, lr, member.

    Returns:
        What the call did.

    Raises:
        InputError: wrong sizes, non-finite values, non-boolean targets or mismatched counts.
    """
    obs, flags = _check_data(obs, targets, clf.spec.obs_dim, None)
    start = time.perf_counter()
    data = _upload(obs, flags, cfg, get_device(device))
    clf.fit_normalization(obs[data.train_rows.numpy()])
    outcome = _fit_member(clf, data, cfg, _generator(cfg.seed, MEMBER_STREAM, 0),
                          not cfg.warm_start or clf.version == 0, 'loss',
                          _tagged(on_progress, 0))
    _bump_version(clf, [])
    stats = _summarize([outcome], time.perf_counter() - start)
    log.info('trained classifier v%d on %d samples in %.2f s (val loss %.4g)',
             clf.version, len(obs), stats.seconds, stats.val_loss)
    return stats
