"""MLP policy: normalized inputs and outputs, actions squashed smoothly into the bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F  # noqa: N812 - the usual alias

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.spec import EnvSpec

Activation = Callable[[torch.Tensor], torch.Tensor]
ACTIVATIONS: dict[str, Activation] = {'relu': F.relu, 'tanh': torch.tanh, 'gelu': F.gelu}
OBS_STD_MIN = 1e-6
ACT_STD_FRACTION = 0.05
MEAN_MARGIN = 1e-3


def check_hidden_sizes(hidden_sizes: Sequence[int]) -> tuple[int, ...]:
    """Return the widths as a tuple of ints; raise ConfigError unless all are >= 1."""
    try:
        sizes = tuple(int(h) for h in hidden_sizes)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f'hidden_sizes must be a sequence of ints, got {hidden_sizes!r}') from err
    if not sizes or min(sizes) < 1:
        raise ConfigError(f'hidden_sizes must be positive widths, at least one layer, got {sizes}')
    return sizes


@dataclass(frozen=True)
class PolicyConfig:
    """Shape of a policy network.

    Attributes:
        hidden_sizes: widths of the hidden layers.
        activation: 'relu', 'tanh' or 'gelu', between the linear layers.
        ensemble_size: number of bootstrap members (1: a single network, doubt always 0).
    """

    hidden_sizes: tuple[int, ...] = (256, 256)
    activation: str = 'relu'
    ensemble_size: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, 'hidden_sizes', check_hidden_sizes(self.hidden_sizes))
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f'activation must be one of {sorted(ACTIVATIONS)}, '
                              f'got {self.activation!r}')
        if not isinstance(self.ensemble_size, int) or self.ensemble_size < 1:
            raise ConfigError(f'ensemble_size must be >= 1, got {self.ensemble_size!r}')


def build_layers(sizes: Sequence[int]) -> nn.ModuleList:
    """Linear layers mapping sizes[0] → ... → sizes[-1]."""
    return nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def run_layers(layers: nn.ModuleList, activation: Activation, h: torch.Tensor) -> torch.Tensor:
    """Apply the layers with the activation between them (none after the last)."""
    # F.linear on the weights rather than calling the modules: for one observation the
    # per-module call overhead is a large part of the inference time.
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        h = F.linear(h, layer.weight, layer.bias)
        if i < last:
            h = activation(h)
    return h


def obs_statistics(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std of a batch of observations.

    A dimension that is constant in the data gets std 1 rather than the floor: dividing by
    1e-6 would turn tomorrow's sensor noise in it into huge inputs.
    """
    mean = obs.mean(0)
    std = obs.std(0, unbiased=False) if len(obs) > 1 else torch.ones_like(mean)
    return mean, torch.where(std < OBS_STD_MIN, torch.ones_like(std), std)


def to_input(arr: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """A float32 tensor of arr on the device of like (one copy: the float32 cast)."""
    return torch.from_numpy(arr.astype(np.float32)).to(like.device)


class MLPPolicy(nn.Module):
    """obs → action in env units, always inside the action bounds.

    Inputs are standardized with the dataset's observation statistics. The network predicts a
    normalized deviation z from the dataset's mean action m; with d = act_std·z the action is
    ``m + r·tanh(d / r)``, where r is the room from m to the upper bound when d ≥ 0 and to the
    lower bound (negative) otherwise. That is the identity (slope 1) near the data mean, smooth
    there, and each side saturates at its own bound, so data sitting off the centre of the
    bounds is not distorted the way a tanh around the centre would distort it. The statistics
    are buffers (obs_mean, obs_std, act_mean, act_std) and travel with the weights.

    Attributes:
        spec: the spaces this policy acts in.
        cfg: its network shape.
        version: how many times it was trained (0: never).
    """

    def __init__(self, spec: EnvSpec, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.cfg = cfg or PolicyConfig()
        self.version = 0
        self.layers = build_layers([spec.obs_dim, *self.cfg.hidden_sizes, spec.act_dim])
        self._activation = ACTIVATIONS[self.cfg.activation]
        self._low, self._high = spec.low, spec.high
        low, high = torch.tensor(spec.low).float(), torch.tensor(spec.high).float()
        self.register_buffer('act_low', low, persistent=False)
        self.register_buffer('act_high', high, persistent=False)
        self.register_buffer('obs_mean', torch.zeros(spec.obs_dim))
        self.register_buffer('obs_std', torch.ones(spec.obs_dim))
        self.register_buffer('act_mean', (low + high) / 2)
        self.register_buffer('act_std', (high - low) / 2)

    def fit_normalization(self, obs: np.ndarray, labels: np.ndarray) -> None:
        """Set the statistics from training data.

        Args:
            obs: observations, shape (N, obs_dim).
            labels: expert actions, shape (N, act_dim).
        """
        obs_t = torch.as_tensor(np.atleast_2d(self.spec.check_obs(obs)),
                                dtype=torch.float32, device=self.obs_mean.device)
        act_t = torch.as_tensor(np.atleast_2d(self.spec.check_action(labels)),
                                dtype=torch.float32, device=self.obs_mean.device)
        mean, std = obs_statistics(obs_t)
        self.obs_mean.copy_(mean)
        self.obs_std.copy_(std)
        # The mean stays strictly inside the bounds so the squash has room on both sides.
        margin = MEAN_MARGIN * (self.act_high - self.act_low)
        self.act_mean.copy_(act_t.mean(0).clamp(self.act_low + margin, self.act_high - margin))
        spread = act_t.std(0, unbiased=False) if len(act_t) > 1 else torch.zeros_like(margin)
        floor = (ACT_STD_FRACTION * (self.act_high - self.act_low) / 2).clamp_min(OBS_STD_MIN)
        self.act_std.copy_(torch.maximum(spread, floor))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Actions in env units for observations of shape (obs_dim,) or (N, obs_dim)."""
        z = run_layers(self.layers, self._activation, (obs - self.obs_mean) / self.obs_std)
        return squash(z, self.act_mean, self.act_std, self.act_low, self.act_high, torch)

    def normalized_loss(self, obs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample mean squared error in units of the dataset's action spread."""
        return (((self(obs) - target) / self.act_std) ** 2).mean(-1)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action for one observation (obs_dim,) or a batch (N, obs_dim).

        Returns:
            float64 actions of shape (act_dim,) or (N, act_dim), inside the bounds.

        Raises:
            InputError: wrong size or non-finite entries, naming what was got.
        """
        arr = self.spec.check_obs(obs)
        # Same maths as forward, but the elementwise steps run in numpy: on one observation
        # each torch op costs microseconds of dispatch, and they would be half the time.
        obs_mean, obs_std, act_mean, act_std = self._numpy_statistics()
        with torch.inference_mode():
            z = run_layers(self.layers, self._activation,
                           to_input((arr - obs_mean) / obs_std, self.obs_mean))
        action = squash(z.cpu().numpy().astype(np.float64), act_mean, act_std, self._low,
                        self._high, np)
        return clip_into(action, self._low, self._high)

    def _numpy_statistics(self) -> tuple[np.ndarray, ...]:
        # Straight from _buffers: nn.Module's attribute lookup costs more than the maths here.
        buffers = self._buffers
        return (buffers['obs_mean'].cpu().numpy(), buffers['obs_std'].cpu().numpy(),
                buffers['act_mean'].cpu().numpy(), buffers['act_std'].cpu().numpy())

    def to_action(self, out: torch.Tensor) -> np.ndarray:
        """float64 numpy actions from a network output, clipped into the bounds."""
        return clip_into(out.cpu().numpy().astype(np.float64), self._low, self._high)


def squash(z: Any, mean: Any, std: Any, low: Any, high: Any, xp: Any) -> Any:
    """Map normalized outputs z into the bounds: the identity near mean, tanh towards a bound.

    Works on torch tensors (xp=torch) and numpy arrays (xp=np) alike.
    """
    deviation = std * z
    room = xp.where(deviation >= 0, high, low) - mean
    return mean + room * xp.tanh(deviation / room)


def clip_into(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Clip in place and return action."""
    # tanh saturates to exactly ±1 in float32, and a float32 bound can sit a hair outside the
    # float64 one: the clip makes 'inside the bounds' hold exactly.
    return np.clip(action, low, high, out=action)
