"""Retraining in the background while labels keep arriving; versioned weights out.

The trainer node calls :meth:`BackgroundTrainer.maybe_start` and :meth:`poll` from its timer:
neither blocks, so the node keeps accepting labels while a round of training runs.
"""

from __future__ import annotations

import concurrent.futures
import copy
from dataclasses import dataclass
import logging
from typing import Any

import numpy as np

from dagger_ros.core.checkpoint import policy_to_bytes, save_checkpoint
from dagger_ros.core.training import train_policy, TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedVersion:
    """A finished retraining: weights as bytes with their metadata, and its figures."""

    version: int
    weights: bytes
    meta: dict[str, Any]
    labels: int
    figures: dict[str, float]


class BackgroundTrainer:
    """Trains a copy of the policy in a worker thread; the live policy is never touched.

    Args:
        policy: the policy to improve (a copy is trained; the returned weights carry a version).
        train_cfg: training settings.
        min_new_labels: labels that must arrive before another retraining starts.
        checkpoint_dir: where each version is saved (safetensors + JSON), or None.
    """

    def __init__(self, policy: Any, train_cfg: TrainConfig, min_new_labels: int = 200,
                 checkpoint_dir: Any | None = None, device: str = 'auto') -> None:
        self.policy = policy
        self.train_cfg = train_cfg
        self.min_new_labels = min_new_labels
        self.checkpoint_dir = checkpoint_dir
        self.device = device
        self.trained_on = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                           thread_name_prefix='trainer')
        self._future: concurrent.futures.Future | None = None

    @property
    def is_training(self) -> bool:
        """A retraining is under way."""
        return self._future is not None and not self._future.done()

    def maybe_start(self, obs: np.ndarray, labels: np.ndarray) -> bool:
        """Start retraining on this snapshot when enough new labels came and none is running."""
        if self._future is not None or len(obs) - self.trained_on < self.min_new_labels:
            return False
        candidate = copy.deepcopy(self.policy)
        self._future = self._pool.submit(self._train, candidate, obs.copy(), labels.copy())
        return True

    def poll(self) -> TrainedVersion | None:
        """The finished version, once; None while training or idle. Errors are logged."""
        if self._future is None or not self._future.done():
            return None
        future, self._future = self._future, None
        try:
            result = future.result()
        except Exception:  # noqa: BLE001 - a failed round must not stop the node
            log.exception('retraining failed; keeping version %d', self.policy.version)
            return None
        self.policy, version = result
        return version

    def shutdown(self) -> None:
        """Wait for a running retraining and stop the worker."""
        self._pool.shutdown(wait=True)

    def _train(self, candidate: Any, obs: np.ndarray, labels: np.ndarray) -> tuple[Any, Any]:
        stats = train_policy(candidate, obs, labels, self.train_cfg, device=self.device)
        self.trained_on = len(obs)
        extra = {'labels': len(obs)}
        if self.checkpoint_dir is not None:
            save_checkpoint(self.checkpoint_dir / f'policy-v{candidate.version:06d}', candidate,
                            extra)
        weights, meta = policy_to_bytes(candidate, extra)
        figures = {'train_loss': float(stats.train_loss), 'val_loss': float(stats.val_loss),
                   'seconds': float(stats.seconds)}
        return candidate, TrainedVersion(int(candidate.version), weights, meta, len(obs), figures)
