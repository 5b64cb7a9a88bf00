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


class LabelRequests:
    """States queued for a person to label, one at a time, a capped number per sitting.

    The gamepad answers: ``answer`` gives the current stick action as the label, ``skip``
    leaves the state unlabeled, ``more`` starts a new sitting once the cap is reached. Buttons
    act on their press (rising edge), so a held button answers once.

    Args:
        cap: requests shown per sitting, so that the person does not tire.
        answer, skip, more: Joy button indices.
    """

    def __init__(self, cap: int = 20, answer: int = 0, skip: int = 1, more: int = 6) -> None:
        self.cap = cap
        self.buttons = {'answer': answer, 'skip': skip, 'more': more}
        self.queue: list[tuple[int, np.ndarray]] = []
        self.answered_in_sitting = 0
        self.answered = 0
        self._was: dict[str, bool] = dict.fromkeys(self.buttons, False)

    def add(self, query_id: int, obs: np.ndarray) -> None:
        """Queue one request (a repeated id is ignored)."""
        if all(qid != query_id for qid, _ in self.queue):
            self.queue.append((int(query_id), np.asarray(obs, dtype=np.float64)))

    @property
    def resting(self) -> bool:
        """The sitting's cap is reached; requests wait for a new sitting."""
        return self.answered_in_sitting >= self.cap

    @property
    def current(self) -> tuple[int, np.ndarray] | None:
        """The request on screen, or None (nothing queued, or resting)."""
        return None if self.resting or not self.queue else self.queue[0]

    def pressed(self, buttons: Sequence[int]) -> str | None:
        """The command a new button press gives: 'answer', 'skip', 'more' or None."""
        result = None
        for name, index in self.buttons.items():
            down = 0 <= index < len(buttons) and bool(buttons[index])
            if down and not self._was[name] and result is None:
                result = name
            self._was[name] = down
        return result

    def act(self, command: str | None) -> tuple[int, str] | None:
        """Apply a command; return (query id, 'answer' or 'skip') when one was consumed."""
        if command == 'more':
            self.answered_in_sitting = 0
            return None
        current = self.current
        if command not in ('answer', 'skip') or current is None:
            return None
        self.queue.pop(0)
        if command == 'answer':
            self.answered_in_sitting += 1
            self.answered += 1
        return current[0], command
