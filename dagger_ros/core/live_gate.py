"""The expert gate of the live loop, free of ROS: one call per control step.

:class:`LiveGate` runs the same per-step rules as the offline loop
(:mod:`dagger_ros.core.algorithms.rules`) on inputs that arrive from other processes: the
policy's action and doubt from the executor, the expert's action from the expert node. Either
may be missing (silent, stale or invalid); then the safety layer (:func:`core.safety.make_safe`)
commands the fallback instead of a stale value. Rounds are counted in control steps; at each
round's end the gate reports the round's figures and, for budgeted queries, which states to ask
the expert about. The ROS node only converts messages and keeps time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import logging
from typing import Any

import numpy as np

from dagger_ros.core import gating
from dagger_ros.core.algorithms.base import PolicyView, StepOutcome
from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.learner import Learner
from dagger_ros.core.algorithms.rules import HGDAggerRule, Rule, RULES
from dagger_ros.core.errors import ConfigError
from dagger_ros.core.safety import make_safe, SafetyConfig
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, Source
from dagger_ros.core.wire import WireSample

log = logging.getLogger(__name__)

QUERY_ALGORITHMS = ('budgeted', 'async')
"""Algorithms whose expert answers only the states it is asked about."""
OFFLINE_ONLY = {'thrifty_dagger': 'its risk model (a Q-function over rollouts) is not sent '
                                  'over the wire yet; use it with `dagger-ros run`'}


class ExpertUnavailable(Exception):
    """The rule asked for the expert's action and none is fresh."""


@dataclass(frozen=True)
class PolicyInput:
    """The executor's output for the current observation."""

    action: np.ndarray
    doubt: float = float('nan')
    version: int = 0


@dataclass(frozen=True)
class Query:
    """A state the expert is asked to label after it was executed."""

    query_id: int
    obs: np.ndarray
    action: np.ndarray
    round: int
    episode: int
    step: int
    policy_version: int
    reason: str


@dataclass(frozen=True)
class RoundSummary:
    """One finished round as the gate saw it."""

    round: int
    steps: int
    labels: int
    expert_steps: int
    fallback_steps: int
    switches: int
    policy_version: int
    metrics: dict[str, float] = field(default_factory=dict)
    queries: int = 0
    """Label queries of this round (asked during it or at its end); their labels come later."""

    @property
    def expert_share(self) -> float:
        """Share of the round's steps an expert or human drove."""
        return self.expert_steps / self.steps if self.steps else 0.0


@dataclass(frozen=True)
class GateStep:
    """What the gate did at one step."""

    command: np.ndarray
    actor: Source
    reason: str
    label: WireSample | None = None
    queries: tuple[Query, ...] = ()
    round_end: RoundSummary | None = None
    late_label: WireSample | None = None
    """A person's label held back one step, so that the last one of an intervention can carry
    the INTERVENTION_END mark (the release is only known at the next step)."""


@dataclass
class _RoundTally:
    steps: int = 0
    labels: int = 0
    expert_steps: int = 0
    fallback_steps: int = 0
    switches: int = 0
    queries: int = 0
    last_actor: Source | None = None
    last_episode: int | None = None
    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    doubts: list[float] = field(default_factory=list)
    where: list[tuple[int, int, int]] = field(default_factory=list)
    label_obs: list[np.ndarray] = field(default_factory=list)
    label_actions: list[np.ndarray] = field(default_factory=list)

    def count(self, actor: Source, episode: int) -> None:
        self.steps += 1
        self.expert_steps += actor in (Source.EXPERT, Source.HUMAN)
        self.fallback_steps += actor == Source.NONE
        if self.last_episode == episode and self.last_actor not in (None, actor):
            self.switches += 1
        self.last_actor, self.last_episode = actor, episode


def check_live_algorithm(algorithm: str) -> str:
    """Return algorithm if the live gate runs it.

    Raises:
        ConfigError: for an unknown algorithm or one that only runs offline, with the reason.
    """
    if algorithm not in RULES:
        raise ConfigError(f'unknown algorithm {algorithm!r}; expected one of {sorted(RULES)}')
    if algorithm in OFFLINE_ONLY:
        raise ConfigError(f'{algorithm} does not run live: {OFFLINE_ONLY[algorithm]}')
    return algorithm


class LiveGate:
    """Who drives, what is labeled and what is commanded, one control step at a time.

    Args:
        cfg: the run's settings (algorithm and its thresholds, round lengths, seed).
        spec: observation and action spaces.
        safety: limits applied to every command.
        learner: the networks the rule consults (safety net, ensemble thresholds); the node
            loads each new weights version into it.
        human: for HG-DAgger, an object with engaged(obs, policy_action) and action(obs); the
            scripted stand-in (which reads the expert's action) when None.
    """

    def __init__(self, cfg: RunConfig, spec: EnvSpec, safety: SafetyConfig,
                 learner: Learner | None = None, human: Any | None = None) -> None:
        rule_cls = RULES[check_live_algorithm(cfg.algorithm)]
        self.cfg = cfg
        self.spec = spec
        self.safety = safety
        self.learner = learner or Learner(spec, cfg, rule_cls)
        self.uses_queries = cfg.algorithm in QUERY_ALGORITHMS
        self._expert_now: np.ndarray | None = None
        self.human_gated = human is not None
        self.demo = Rule(cfg, spec, self._expert)
        if self.uses_queries:  # the policy drives; the queries are the gate's own work
            self.rule = Rule(cfg, spec, self._expert)
        elif rule_cls is HGDAggerRule:
            self.rule = HGDAggerRule(cfg, spec, self._expert, human)
        else:
            self.rule = rule_cls(cfg, spec, self._expert)
        if self.human_gated:  # a person demonstrates by taking over, from the first step on
            self.demo = self.rule
        self.round_index = 0
        self.awaiting_round = False
        self._last_actor = Source.NONE
        self._handover_from: np.ndarray | None = None
        self._handover_left = 0
        self._held: WireSample | None = None
        self._tally = _RoundTally()
        self._episode: int | None = None
        self._previous: np.ndarray | None = None
        self._previous_time: float | None = None
        self._next_query = 0
        self._queries: dict[int, Query] = {}
        self._stride = max(1, cfg.steps_per_round // max(cfg.query_budget, 1))
        self.demo.begin_round(0, self.learner)

    # -- what the node asks ------------------------------------------------------------------
    @property
    def active_rule(self) -> Rule:
        """The demonstration rule in round 0, the algorithm's rule after."""
        return self.demo if self.round_index == 0 else self.rule

    @property
    def round_steps(self) -> int:
        """Length of the current round in control steps."""
        return self.cfg.demo_steps if self.round_index == 0 else self.cfg.steps_per_round

    @property
    def needs_policy(self) -> bool:
        """The policy's action is needed (after the demonstration round, or a person gates)."""
        return self.round_index > 0 or self.human_gated

    @property
    def needs_expert(self) -> bool:
        """The expert's per-step action may be needed for this step."""
        if self.human_gated:
            return False
        return self.round_index == 0 or not self.uses_queries

    @property
    def finished(self) -> bool:
        """Every configured round is done."""
        return self.round_index > self.cfg.rounds

    def begin_round(self) -> None:
        """Start the next round's collection with the learner as it is now."""
        self.awaiting_round = False
        self.active_rule.begin_round(self.round_index, self.learner)
        if self._episode is not None:
            self.active_rule.begin_episode()

    # -- one step ----------------------------------------------------------------------------
    def step(self, obs: np.ndarray, episode: int, step: int, policy: PolicyInput | None,
             expert: np.ndarray | None, now_s: float, estopped: bool = False) -> GateStep:
        """Decide, make safe and account one control step.

        Args:
            obs: the current observation (already checked).
            episode: the episode the observation belongs to.
            step: its step within the episode.
            policy: the executor's fresh output for obs, or None when silent/stale/invalid.
            expert: the expert's fresh action for obs, or None.
            now_s: the node's clock, for rate limits and sample times.
            estopped: the latched e-stop is set.
        """
        late = None
        if episode != self._episode:
            late = self._release_held(Event.INTERVENTION_END)  # the attempt ended with it
            self._episode = episode
            self.active_rule.begin_episode()
        self._expert_now = expert
        outcome, reason = self._decide(obs, policy)
        outcome = self._smooth_handover(outcome)
        dt = 0.0 if self._previous_time is None else now_s - self._previous_time
        wanted = None if outcome is None else outcome.action
        safe = make_safe(wanted, self._previous, self.spec, self.safety, dt, estopped)
        self._previous, self._previous_time = safe.action, now_s
        actor = Source.NONE if outcome is None or safe.reason == 'estop' else outcome.actor
        reason = reason if outcome is None else outcome.reason
        if safe.reason in ('estop', 'invalid_input'):
            reason = 'estop' if safe.reason == 'estop' else reason
        version = policy.version if policy is not None else self.learner.version
        doubt = policy.doubt if policy is not None else float('nan')
        label = None
        if outcome is not None and outcome.label is not None and actor != Source.NONE:
            label = WireSample(obs, np.asarray(outcome.label, dtype=np.float64), safe.action,
                               outcome.actor, outcome.labeler, outcome.reason, self.round_index,
                               episode, step, version, now_s, doubt, outcome.event)
        queries = self._account(obs, safe.action, actor, label, doubt, episode, step, version)
        human_label = label is not None and label.labeler == Source.HUMAN
        if outcome is not None and outcome.event == Event.INTERVENTION_END:
            late = late or self._release_held(Event.INTERVENTION_END)
        elif self._held is not None:
            # a takeover that ends without a release (stale pad, missing input) ends here too
            late = late or self._release_held(None if human_label else Event.INTERVENTION_END)
        if human_label:
            self._held, label = label, None
        round_end = self._maybe_end_round(version)
        if round_end is not None:
            queries += self._budget_queries(version)
            late = late or self._release_held()
            round_end = replace(round_end, queries=self._ended.queries + sum(
                q.reason == 'budget_query' for q in queries))
        return GateStep(safe.action, actor, reason, label, tuple(queries), round_end, late)

    def _release_held(self, event: Event | None = None) -> WireSample | None:
        """The held human label, marked with event when given (INTERVENTION_END)."""
        held, self._held = self._held, None
        if held is not None and event is not None and held.event != Event.INTERVENTION_START:
            held = replace(held, event=event)
        return held

    def _decide(self, obs: np.ndarray, policy: PolicyInput | None) -> tuple[Any, str]:
        """The rule's outcome, or (None, why) when an input it needs is missing."""
        if self.needs_policy and policy is None:
            return None, 'policy_silent'
        if self.round_index > 0 and self.uses_queries:
            return StepOutcome(policy.action, None, Source.POLICY, Source.NONE, 'policy'), ''
        view = (PolicyView(np.asarray(policy.action, dtype=np.float64), float(policy.doubt))
                if policy is not None else PolicyView(np.zeros(self.spec.act_dim)))
        try:
            return self.active_rule.step(obs, view), ''
        except ExpertUnavailable:
            return None, 'expert_silent'

    def _smooth_handover(self, outcome: StepOutcome | None) -> StepOutcome | None:
        """After a person releases the takeover, blend from their last command to the policy.

        The command moves in handover_steps equal steps instead of jumping; the steps are not
        labeled (the person no longer drives).
        """
        steps = self.safety.handover_steps
        actor = Source.NONE if outcome is None else outcome.actor
        if actor == Source.POLICY and self._last_actor == Source.HUMAN and steps:
            self._handover_from, self._handover_left = self._previous, steps
        if actor != Source.POLICY or self._handover_from is None:
            self._handover_left = 0
        self._last_actor = actor
        if self._handover_left <= 0:
            return outcome
        weight = self._handover_left / (steps + 1)
        self._handover_left -= 1
        blended = weight * self._handover_from + (1 - weight) * np.asarray(outcome.action)
        return replace(outcome, action=blended, reason='handover')

    def _expert(self, obs: np.ndarray) -> np.ndarray:
        if self._expert_now is None:
            raise ExpertUnavailable('no fresh expert action for this observation')
        return self._expert_now

    # -- bookkeeping -------------------------------------------------------------------------
    def _account(self, obs: np.ndarray, action: np.ndarray, actor: Source,
                 label: WireSample | None, doubt: float, episode: int, step: int,
                 version: int) -> list[Query]:
        tally = self._tally
        tally.count(actor, episode)
        tally.obs.append(obs)
        tally.actions.append(action)
        tally.doubts.append(doubt)
        tally.where.append((episode, step, version))
        if label is not None:
            tally.labels += 1
            tally.label_obs.append(obs)
            tally.label_actions.append(label.label)
        due = (self.cfg.algorithm == 'async' and self.round_index > 0
               and (tally.steps - 1) % self._stride == 0)
        tally.queries += due
        return [self._query(obs, action, episode, step, version, 'async_query')] if due else []

    def _maybe_end_round(self, version: int) -> RoundSummary | None:
        tally = self._tally
        if tally.steps < self.round_steps:
            return None
        summary = RoundSummary(self.round_index, tally.steps, tally.labels, tally.expert_steps,
                               tally.fallback_steps, tally.switches, version,
                               self.active_rule.metrics() if self.round_index else {})
        if tally.label_obs:
            self.learner.remember_recent(
                {'obs': np.asarray(tally.label_obs), 'label': np.asarray(tally.label_actions),
                 'round': np.full(len(tally.label_obs), self.round_index)}, self.round_index)
        self._ended = tally
        self._tally = _RoundTally()
        self.round_index += 1
        self.awaiting_round = True
        return summary

    def _budget_queries(self, version: int) -> list[Query]:
        tally = self._ended
        if self.cfg.algorithm != 'budgeted' or self.round_index - 1 == 0:
            return []
        chosen = gating.select_queries(np.asarray(tally.doubts, dtype=np.float64),
                                       self.cfg.query_budget, self.cfg.query_mode,
                                       np.random.default_rng([self.cfg.seed, self.round_index]))
        queries = []
        for index in chosen:
            episode, step, acted = tally.where[int(index)]
            queries.append(self._query(tally.obs[int(index)], tally.actions[int(index)],
                                       episode, step, acted, 'budget_query',
                                       self.round_index - 1))
        return queries

    def _query(self, obs: np.ndarray, action: np.ndarray, episode: int, step: int,
               version: int, reason: str, round_index: int | None = None) -> Query:
        query = Query(self._next_query, obs, action,
                      self.round_index if round_index is None else round_index,
                      episode, step, version, reason)
        self._queries[query.query_id] = query
        self._next_query += 1
        return query

    # -- answers to queries ------------------------------------------------------------------
    @property
    def open_queries(self) -> list[Query]:
        """Queries sent and not answered yet, oldest first."""
        return list(self._queries.values())

    def answer(self, query_id: int, label: np.ndarray, now_s: float) -> WireSample | None:
        """The labeled sample for an answered query; None for an unknown or repeated id."""
        query = self._queries.pop(int(query_id), None)
        if query is None:
            return None
        return WireSample(query.obs, np.asarray(label, dtype=np.float64), query.action,
                          Source.POLICY, Source.EXPERT, query.reason, query.round,
                          query.episode, query.step, query.policy_version, now_s,
                          float('nan'), Event.NONE)

    def fallback(self, now_s: float, estopped: bool) -> np.ndarray:
        """The safe command when no observation is fresh (or on e-stop), recorded as previous."""
        safe = make_safe(None, self._previous, self.spec, self.safety, 0.0, estopped)
        self._previous, self._previous_time = safe.action, now_s
        return safe.action
