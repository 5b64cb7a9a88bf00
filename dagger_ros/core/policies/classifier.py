"""SafeDAgger's safety net: predicts where the policy's action deviates beyond τ."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F  # noqa: N812 - the usual alias

from dagger_ros.core.policies.mlp import (
    build_layers, check_hidden_sizes, obs_statistics, run_layers, to_input)
from dagger_ros.core.spec import EnvSpec


class SafetyClassifier(nn.Module):
    """obs → logit of 'the policy's action is off from the expert's by more than τ here'.

    Observations are standardized with the training data's statistics, as in MLPPolicy. Both
    classes weigh the same in training (:meth:`balance_classes`): τ is often a high quantile of
    the deviations, so few states are unsafe, and a net fitted to that prior would never get
    confident enough to say 'unsafe' anywhere. Its output is then a class-balanced score:
    above 0.5 a state looks more like the unsafe ones than like the safe ones.

    Attributes:
        spec: the spaces of the task (only obs_dim is used).
        hidden_sizes: widths of the hidden layers (ReLU between them).
        version: how many times it was trained (0: never).
    """

    def __init__(self, spec: EnvSpec, hidden_sizes: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.spec = spec
        self.hidden_sizes = check_hidden_sizes(hidden_sizes)
        self.version = 0
        self.unsafe_weight = 1.0
        self.layers = build_layers([spec.obs_dim, *self.hidden_sizes, 1])
        self.register_buffer('obs_mean', torch.zeros(spec.obs_dim))
        self.register_buffer('obs_std', torch.ones(spec.obs_dim))

    def fit_normalization(self, obs: np.ndarray) -> None:
        """Set the observation statistics from the training data, shape (N, obs_dim)."""
        obs_t = torch.as_tensor(np.atleast_2d(self.spec.check_obs(obs)),
                                dtype=torch.float32, device=self.obs_mean.device)
        mean, std = obs_statistics(obs_t)
        self.obs_mean.copy_(mean)
        self.obs_std.copy_(std)

    def balance_classes(self, targets: np.ndarray) -> float:
        """Weigh each unsafe sample by the safe/unsafe count ratio (1 without both); return it."""
        unsafe = int(np.count_nonzero(targets))
        safe = len(targets) - unsafe
        self.unsafe_weight = safe / unsafe if unsafe and safe else 1.0
        return self.unsafe_weight

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits of shape () for one observation or (N,) for a batch."""
        return run_layers(self.layers, F.relu, (obs - self.obs_mean) / self.obs_std).squeeze(-1)

    def loss(self, obs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample binary cross-entropy against targets in {0, 1} (1: unsafe), balanced."""
        weight = torch.tensor(self.unsafe_weight, dtype=target.dtype, device=target.device)
        return F.binary_cross_entropy_with_logits(self(obs), target, reduction='none',
                                                  pos_weight=weight)

    def prob_unsafe(self, obs: np.ndarray) -> float | np.ndarray:
        """Probability of 'unsafe': a float for one observation, shape (N,) for a batch.

        Raises:
            InputError: wrong size or non-finite entries, naming what was got.
        """
        arr = self.spec.check_obs(obs)
        with torch.inference_mode():
            prob = torch.sigmoid(self(to_input(arr, self.obs_mean)))
        prob_np = prob.cpu().numpy().astype(np.float64)
        return float(prob_np) if arr.ndim == 1 else prob_np
