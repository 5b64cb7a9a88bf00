"""SafeDAgger's safety net: predicts whether the policy's action deviates beyond τ."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dagger_ros.core.policies.mlp import build_mlp
from dagger_ros.core.spec import EnvSpec


class SafetyClassifier(nn.Module):
    """obs → logit of 'the policy is unsafe here' (its action is off by more than τ)."""

    def __init__(self, spec: EnvSpec, hidden_sizes: tuple[int, ...] = (128, 128)) -> None:
        super().__init__()
        self.spec = spec
        self.hidden_sizes = tuple(hidden_sizes)
        self.net = build_mlp([spec.obs_dim, *self.hidden_sizes, 1], 'relu')
        self.register_buffer('obs_mean', torch.zeros(spec.obs_dim))
        self.register_buffer('obs_std', torch.ones(spec.obs_dim))
        self.version = 0

    def fit_normalization(self, obs: np.ndarray) -> None:
        """Set observation statistics from the training data."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        self.obs_mean.copy_(obs_t.mean(0))
        if len(obs_t) > 1:
            self.obs_std.copy_(obs_t.std(0, unbiased=False).clamp_min(1e-6))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits for a batch."""
        return self.net((obs - self.obs_mean) / self.obs_std).squeeze(-1)

    def loss(self, obs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample binary cross-entropy."""
        return nn.functional.binary_cross_entropy_with_logits(self(obs), target,
                                                              reduction='none')

    def prob_unsafe(self, obs: np.ndarray) -> float | np.ndarray:
        """Probability of unsafe for one observation (float) or a batch (array)."""
        arr = self.spec.check_obs(obs)
        with torch.inference_mode():
            p = torch.sigmoid(self(torch.as_tensor(arr, dtype=torch.float32,
                                                   device=self.obs_mean.device)))
        p_np = p.cpu().numpy().astype(np.float64)
        return float(p_np) if arr.ndim == 1 else p_np
