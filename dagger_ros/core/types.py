"""Small value types shared by the dataset, the gating rules and the algorithms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Source(IntEnum):
    """Who produced an action: who drove (actor) or who gave the label (labeler)."""

    NONE = 0
    POLICY = 1
    EXPERT = 2
    HUMAN = 3


class Event(IntEnum):
    """Marks on a sample: the start or end of an intervention, or a plain step."""

    NONE = 0
    INTERVENTION_START = 1
    INTERVENTION_END = 2


@dataclass(frozen=True)
class GateDecision:
    """What a gating rule decided for one step.

    Attributes:
        expert_drives: the expert's action is executed (else the policy's).
        label: the expert is asked for (or gives) a label of this state.
        reason: a short lower_snake word for logs and the dataset (``beta``, ``takeover``…).
    """

    expert_drives: bool
    label: bool
    reason: str
