"""MLP policy with observation/action normalization and a smooth squash into the bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.spec import EnvSpec

ACTIVATIONS = {'relu': nn.ReLU, 'tanh': nn.Tanh, 'gelu': nn.GELU}


@dataclass(frozen=True)
class PolicyConfig:
    """Network shape; ``ensemble_size`` > 1 makes a bootstrap ensemble."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = 'relu'
    ensemble_size: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, 'hidden_sizes', tuple(int(h) for h in self.hidden_sizes))
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ConfigError(f'hidden_sizes must be positive widths, got {self.hidden_sizes}')
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f'activation must be one of {sorted(ACTIVATIONS)}, '
                              f'got {self.activation!r}')
        if self.ensemble_size < 1:
            raise ConfigError(f'ensemble_size must be >= 1, got {self.ensemble_size}')


def build_mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers with the activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPPolicy(nn.Module):
    """obs → action in env units, inside the bounds.

    The network predicts a normalized action z; y = act_mean + act_std·z is squashed with
    center + half·tanh((y − center)/half), which is close to the identity near the center of
    the bounds and never leaves them. Normalization statistics come from the dataset and are
    buffers, so they travel with the weights.
    """

    def __init__(self, spec: EnvSpec, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.cfg = cfg or PolicyConfig()
        self.net = build_mlp([spec.obs_dim, *self.cfg.hidden_sizes, spec.act_dim],
                             self.cfg.activation)
        low, high = torch.tensor(spec.low), torch.tensor(spec.high)
        self.register_buffer('obs_mean', torch.zeros(spec.obs_dim))
        self.register_buffer('obs_std', torch.ones(spec.obs_dim))
        self.register_buffer('act_mean', ((low + high) / 2).float())
        self.register_buffer('act_std', ((high - low) / 2).float())
        self.register_buffer('act_center', ((low + high) / 2).float())
        self.register_buffer('act_half', ((high - low) / 2).float())
        self.version = 0

    def fit_normalization(self, obs: np.ndarray, labels: np.ndarray) -> None:
        """Set the statistics from the training data (std floored so constants are safe)."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        act_t = torch.as_tensor(labels, dtype=torch.float32)
        self.obs_mean.copy_(obs_t.mean(0))
        self.obs_std.copy_(obs_t.std(0, unbiased=False).clamp_min(1e-6) if len(obs_t) > 1
                           else torch.ones_like(self.obs_std))
        self.act_mean.copy_(act_t.mean(0))
        floor = 0.05 * self.act_half
        std = act_t.std(0, unbiased=False) if len(act_t) > 1 else self.act_half
        self.act_std.copy_(torch.maximum(std, floor))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions in env units for a batch of observations."""
        z = self.net((obs - self.obs_mean) / self.obs_std)
        y = self.act_mean + self.act_std * z
        return self.act_center + self.act_half * torch.tanh((y - self.act_center) / self.act_half)

    def normalized_loss(self, obs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample squared error in units of the dataset's action spread."""
        return (((self(obs) - target) / self.act_std) ** 2).mean(-1)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action for one observation (obs_dim,) or a batch (N, obs_dim), as float64."""
        arr = self.spec.check_obs(obs)
        with torch.inference_mode():
            out = self(torch.as_tensor(arr, dtype=torch.float32, device=self.obs_mean.device))
        return out.cpu().numpy().astype(np.float64)
