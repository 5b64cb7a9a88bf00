"""ThriftyDAgger's risk: 1 - Q(s, a), where Q is a learned discounted chance of not failing.

Hoque et al. learn Q of reaching the goal from binary task success. Gymnasium tasks have no
goal flag, so success here is *not failing*: an episode that terminates (falls) before its
time limit is a failure. Q(s, a) = E[(1-γ) Σ γ^t · 1{alive}] lies in [0, 1]; tasks that never
terminate (Pendulum) give risk ≈ 0 and leave the novelty gate alone to decide.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from dagger_ros.core.spec import EnvSpec


class RiskModel(nn.Module):
    """Q(s, a) in [0, 1] fitted by repeated Bellman backups on the visited transitions."""

    def __init__(self, spec: EnvSpec, hidden: int = 128, gamma: float = 0.95,
                 seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.spec = spec
        self.gamma = gamma
        self.net = nn.Sequential(nn.Linear(spec.obs_dim + spec.act_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer('mean', torch.zeros(spec.obs_dim + spec.act_dim))
        self.register_buffer('std', torch.ones(spec.obs_dim + spec.act_dim))

    def q(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        """Success estimate for a batch of state-action pairs."""
        with torch.inference_mode():
            return torch.sigmoid(self._logits(obs, act)).numpy()

    def risk(self, obs: np.ndarray, act: np.ndarray) -> float:
        """1 - Q for one state-action pair."""
        return float(1.0 - self.q(obs[None], act[None])[0])

    def fit(self, obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray, failed: np.ndarray,
            policy: Callable[[np.ndarray], np.ndarray], backups: int = 5,
            updates: int = 200) -> float:
        """Fit Q to the survival Bellman target; return the last loss."""
        x = np.concatenate([obs, act], axis=1)
        self.mean.copy_(torch.as_tensor(x.mean(0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(x.std(0) + 1e-6, dtype=torch.float32))
        alive = 1.0 - failed.astype(np.float64)
        next_act = policy(next_obs)
        loss = float('nan')
        for _ in range(backups):
            target = alive * ((1 - self.gamma) + self.gamma * self.q(next_obs, next_act))
            loss = self._regress(obs, act, target, updates)
        return loss

    def _logits(self, obs: np.ndarray, act: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.concatenate([obs, act], axis=1), dtype=torch.float32)
        return self.net((x - self.mean) / self.std).squeeze(-1)

    def _regress(self, obs: np.ndarray, act: np.ndarray, target: np.ndarray,
                 updates: int) -> float:
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        y = torch.as_tensor(target, dtype=torch.float32)
        gen = torch.Generator().manual_seed(0)
        loss = torch.zeros(())
        for _ in range(updates):
            idx = torch.randint(0, len(y), (min(256, len(y)),), generator=gen)
            loss = nn.functional.binary_cross_entropy_with_logits(
                self._logits(obs[idx.numpy()], act[idx.numpy()]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach())
