"""What a rule sees at each step and what it returns; the per-round record of a collection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dagger_ros.core.types import Event, Source

ExpertFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PolicyView:
    """The learner's output at one state: its action and the ensemble's doubt (NaN if unknown)."""

    action: np.ndarray
    doubt: float = float('nan')


@dataclass(frozen=True)
class StepOutcome:
    """What one step of a rule produced.

    Attributes:
        action: the action executed on the robot/sim.
        label: the expert's (or human's) action for this state, or None when unlabeled.
        actor: who drove.
        labeler: who labeled (Source.NONE when unlabeled).
        reason: the gate's reason word.
        event: intervention start/end mark.
    """

    action: np.ndarray
    label: np.ndarray | None
    actor: Source
    labeler: Source
    reason: str
    event: Event = Event.NONE


@dataclass(frozen=True)
class LateLabel:
    """A label that arrives after its step was executed (budgeted or asynchronous queries)."""

    obs: np.ndarray
    outcome: StepOutcome
    episode: int
    step: int
    round_index: int = -1
    policy_version: int = -1


@dataclass
class RoundRecord:
    """Everything seen in one round, kept in memory for the rule's end-of-round work."""

    obs: list[np.ndarray] = field(default_factory=list)
    next_obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)
    outcomes: list[StepOutcome] = field(default_factory=list)
    doubts: list[float] = field(default_factory=list)
    episodes: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)

    def add(self, obs: np.ndarray, view: PolicyView, out: StepOutcome, next_obs: np.ndarray,
            failed: bool, episode: int, step: int) -> None:
        """Append one step."""
        self.obs.append(obs)
        self.next_obs.append(next_obs)
        self.actions.append(out.action)
        self.failed.append(failed)
        self.outcomes.append(out)
        self.doubts.append(view.doubt)
        self.episodes.append(episode)
        self.steps.append(step)

    def __len__(self) -> int:
        return len(self.obs)

    def expert_share(self) -> float:
        """Share of steps an expert or human drove."""
        if not self.outcomes:
            return 0.0
        return float(np.mean([o.actor != Source.POLICY for o in self.outcomes]))

    def context_switches(self) -> int:
        """Number of changes of driver between consecutive steps of the same episode."""
        count = 0
        for i in range(1, len(self.outcomes)):
            same_episode = self.episodes[i] == self.episodes[i - 1]
            if same_episode and self.outcomes[i].actor != self.outcomes[i - 1].actor:
                count += 1
        return count
