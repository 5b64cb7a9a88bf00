"""A person at a gamepad as HG-DAgger's human gate, from the newest Joy state.

:class:`JoyHuman` implements the HumanGate protocol of the core rules (``engaged(obs,
policy_action)``, ``action(obs)``) from the last gamepad state the node handed it. A state older
than ``timeout_s`` (a pad unplugged, a gamepad node that died, a dropped link) releases the
takeover: a stale human command never drives. Pure Python: the ROS node converts messages and
keeps time.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np


class TakeoverState(Protocol):
    """The deadman logic: hold or toggle, with edge detection (core.joy_mapping.Takeover)."""

    def update(self, buttons: Sequence[int], connected: bool = True) -> bool:
        """Return whether the takeover is on after this gamepad state."""


class JoyHuman:
    """The human gate of a live HG-DAgger run.

    Args:
        to_action: gamepad axes -> action vector (deadzone, scale, offset, bounds).
        takeover: the deadman state machine.
        timeout_s: a gamepad state older than this releases the takeover.
    """

    def __init__(self, to_action: Callable[[Sequence[float]], np.ndarray],
                 takeover: TakeoverState, timeout_s: float = 0.25) -> None:
        self._to_action = to_action
        self._takeover = takeover
        self.timeout_s = timeout_s
        self._axes: Sequence[float] = ()
        self._stamp: float | None = None
        self._held = False
        self._now = -np.inf

    def update(self, axes: Sequence[float], buttons: Sequence[int], now_s: float) -> bool:
        """Take one gamepad state; return whether the takeover is held now."""
        self._axes = tuple(axes)
        self._stamp = now_s
        self._held = bool(self._takeover.update(buttons, True))
        return self._held

    def release(self) -> None:
        """The pad is gone: drop the takeover (a toggle must be pressed again later)."""
        self._held = bool(self._takeover.update((), False))
        self._axes = ()

    def set_time(self, now_s: float) -> None:
        """The gate's clock for the next decision; a state gone stale releases the takeover."""
        self._now = now_s
        if self._held and self.is_stale():
            self.release()

    def is_stale(self) -> bool:
        """No gamepad state within timeout_s."""
        return self._stamp is None or self._now - self._stamp > self.timeout_s

    def engaged(self, obs: np.ndarray, policy_action: np.ndarray) -> bool:
        """The person holds the takeover and their pad is alive."""
        return self._held and not self.is_stale()

    def action(self, obs: np.ndarray) -> np.ndarray:
        """The person's action from the newest axes."""
        return np.asarray(self._to_action(self._axes), dtype=np.float64)

    def reset(self) -> None:
        """Episode start: a person holding the deadman keeps holding it."""
