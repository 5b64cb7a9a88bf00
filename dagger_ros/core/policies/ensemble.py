"""Bootstrap ensemble of MLP policies with a disagreement (doubt) score."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dagger_ros.core.policies.mlp import MLPPolicy, PolicyConfig, to_input
from dagger_ros.core.spec import EnvSpec


class EnsemblePolicy(nn.Module):
    """N MLP members, each trained on its own bootstrap resample; acts with their mean.

    Doubt is the variance across members of the actions divided by the action half-range,
    averaged over action dimensions: dimensionless, 0 when all members agree, and always 0
    for a single member.

    Attributes:
        spec: the spaces this policy acts in.
        cfg: the members' network shape and their number.
        members: the member networks.
        version: how many times it was trained (0: never).
    """

    def __init__(self, spec: EnvSpec, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.cfg = cfg or PolicyConfig()
        self.version = 0
        self.members = nn.ModuleList(MLPPolicy(spec, self.cfg)
                                     for _ in range(self.cfg.ensemble_size))
        half = torch.tensor((spec.high - spec.low) / 2).float()
        self.register_buffer('act_half', half, persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean action of the members, in env units."""
        return self.member_actions(obs).mean(0)

    def member_actions(self, obs: torch.Tensor) -> torch.Tensor:
        """Every member's actions, stacked on a new first axis."""
        return torch.stack([member(obs) for member in self.members])

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Mean action for one observation (obs_dim,) or a batch (N, obs_dim), as float64.

        Raises:
            InputError: wrong size or non-finite entries, naming what was got.
        """
        if len(self.members) == 1:
            return self.members[0].act(obs)
        return self.act_with_doubt(obs)[0]

    def act_with_doubt(self, obs: np.ndarray) -> tuple[np.ndarray, float | np.ndarray]:
        """Mean action and doubt: a float doubt for one observation, shape (N,) for a batch.

        Raises:
            InputError: wrong size or non-finite entries, naming what was got.
        """
        if len(self.members) == 1:
            action = self.members[0].act(obs)
            return action, 0.0 if action.ndim == 1 else np.zeros(len(action))
        arr = self.spec.check_obs(obs)
        with torch.inference_mode():
            actions = self.member_actions(to_input(arr, self.act_half))
            doubt = (actions / self.act_half).var(0, unbiased=False).mean(-1)
        mean_action = self.members[0].to_action(actions.mean(0))
        doubt_np = doubt.cpu().numpy().astype(np.float64)
        return mean_action, float(doubt_np) if arr.ndim == 1 else doubt_np
