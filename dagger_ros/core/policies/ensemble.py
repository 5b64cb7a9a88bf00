"""Bootstrap ensemble of MLP policies with a disagreement (doubt) score."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dagger_ros.core.policies.mlp import MLPPolicy, PolicyConfig
from dagger_ros.core.spec import EnvSpec


class EnsemblePolicy(nn.Module):
    """N MLP members; acts with their mean, doubts with their spread.

    Doubt is the variance across members of the actions scaled by the action half-range,
    averaged over action dimensions: dimensionless, 0 when all members agree. A single
    member has doubt 0.
    """

    def __init__(self, spec: EnvSpec, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.cfg = cfg or PolicyConfig()
        self.members = nn.ModuleList(MLPPolicy(spec, self.cfg)
                                     for _ in range(self.cfg.ensemble_size))
        self.register_buffer('act_half', torch.tensor((spec.high - spec.low) / 2).float())
        self.version = 0

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean action of the members."""
        return torch.stack([m(obs) for m in self.members]).mean(0)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Mean action for one observation or a batch, as float64."""
        return self.act_with_doubt(obs)[0]

    def act_with_doubt(self, obs: np.ndarray) -> tuple[np.ndarray, float | np.ndarray]:
        """(mean action, doubt): a float doubt for one observation, an array for a batch."""
        arr = self.spec.check_obs(obs)
        x = torch.as_tensor(arr, dtype=torch.float32, device=self.act_half.device)
        with torch.inference_mode():
            actions = torch.stack([m(x) for m in self.members])
        mean = actions.mean(0)
        if len(self.members) > 1:
            doubt = (actions / self.act_half).var(0, unbiased=False).mean(-1)
        else:
            doubt = torch.zeros(mean.shape[:-1])
        mean_np = mean.cpu().numpy().astype(np.float64)
        doubt_np = doubt.cpu().numpy().astype(np.float64)
        return (mean_np, float(doubt_np)) if arr.ndim == 1 else (mean_np, doubt_np)
