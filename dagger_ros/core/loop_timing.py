"""Observation → command round trips as the world sees them, and missed control deadlines.

The world (the sim bridge, or a robot driver) notes when it sends the observation of step
``seq`` and when the first command tagged with that ``seq`` comes back. The difference is the
whole control path: every node, every DDS hop and every queue between them. A world that
steps on a clock, as hardware does, also checks at each tick whether the command for the
observation it sent at the previous tick arrived in time; one that did not is a missed deadline
(the world then acts on an older command, or on the fallback).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

# observations still waiting for their command; older ones are forgotten (never answered)
MAX_PENDING = 256


@dataclass(frozen=True)
class TimingReport:
    """Round trips and deadlines since the previous report.

    Attributes:
        round_trips_s: each answered observation's round trip, in arrival order.
        ticks: deadlines checked (clocked worlds; 0 for one that waits for each command).
        missed: those whose command had not come back in time.
    """

    round_trips_s: tuple[float, ...]
    ticks: int
    missed: int

    def percentile_ms(self, q: float) -> float:
        """A percentile of the round trips in milliseconds (NaN when there are none)."""
        if not self.round_trips_s:
            return float('nan')
        return float(np.percentile(self.round_trips_s, q)) * 1e3


class RoundTrips:
    """Keeps send times per seq, matches commands to them, counts missed deadlines."""

    def __init__(self) -> None:
        self._sent: OrderedDict[int, float] = OrderedDict()
        self._answered: OrderedDict[int, None] = OrderedDict()
        self._round_trips: list[float] = []
        self._ticks = 0
        self._missed = 0

    def sent(self, seq: int, t: float) -> None:
        """The observation of seq went out at t; a re-send keeps the first time."""
        if seq in self._sent or seq in self._answered:
            return
        self._sent[seq] = t
        while len(self._sent) > MAX_PENDING:
            self._sent.popitem(last=False)

    def answered(self, seq: int, t: float) -> float | None:
        """A command for seq came at t; its round trip in s, None for an unknown or repeat seq."""
        start = self._sent.pop(seq, None)
        if start is None:
            return None
        self._answered[seq] = None
        if len(self._answered) > MAX_PENDING:
            self._answered.popitem(last=False)
        round_trip = max(t - start, 0.0)
        self._round_trips.append(round_trip)
        return round_trip

    def tick(self, seq: int) -> bool:
        """A clocked world's deadline for the observation of seq; True when its command is late."""
        self._ticks += 1
        late = seq not in self._answered
        self._missed += int(late)
        return late

    def report(self) -> TimingReport:
        """What happened since the previous report; starts a new interval."""
        report = TimingReport(tuple(self._round_trips), self._ticks, self._missed)
        self._round_trips, self._ticks, self._missed = [], 0, 0
        return report
