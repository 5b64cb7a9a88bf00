"""Scripted stand-ins for a person who watches the robot and takes over (HG-DAgger)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dagger_ros.core.algorithms.base import ExpertFn
from dagger_ros.core.spec import EnvSpec


class HumanGate(Protocol):
    """A person at the controls: decides to drive, and gives the action while driving."""

    def engaged(self, obs: np.ndarray, policy_action: np.ndarray) -> bool:
        """Return True while the person holds the takeover."""

    def action(self, obs: np.ndarray) -> np.ndarray:
        """Return the person's action for obs."""


class ScriptedHuman:
    """A human stand-in that judges the policy by how far it is from what it would do itself.

    It takes over when the policy's action is off by more than ``takeover`` (a fraction of
    the action range) and hands back once the policy has agreed with it, within half that,
    for ``settle_steps`` consecutive steps: like a person who waits to see the robot cope.
    """

    def __init__(self, expert: ExpertFn, spec: EnvSpec, takeover: float = 0.3,
                 settle_steps: int = 5) -> None:
        self._expert = expert
        self._range = spec.high - spec.low
        self._takeover = takeover
        self._settle_steps = settle_steps
        self._is_driving = False
        self._calm_steps = 0

    def engaged(self, obs: np.ndarray, policy_action: np.ndarray) -> bool:
        """Update and return the takeover state for this step."""
        error = float(np.max(np.abs(policy_action - self._expert(obs)) / self._range))
        if not self._is_driving:
            self._is_driving = error > self._takeover
            self._calm_steps = 0
        else:
            self._calm_steps = self._calm_steps + 1 if error < self._takeover / 2 else 0
            self._is_driving = self._calm_steps < self._settle_steps
        return self._is_driving

    def action(self, obs: np.ndarray) -> np.ndarray:
        """The person's action: the scripted expert's."""
        return self._expert(obs)

    def reset(self) -> None:
        """Forget the takeover at an episode start."""
        self._is_driving = False
        self._calm_steps = 0
