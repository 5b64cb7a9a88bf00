"""Per-step rules of each algorithm: who drives, what is labeled, what is learned per round.

Every decision is made by a pure function of ``dagger_ros.core.gating``; a rule only keeps the
state the paper's procedure needs (who drove last, thresholds learned from the last round).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dagger_ros.core import gating, noise, schedules
from dagger_ros.core.algorithms.base import (
    ExpertFn, LateLabel, PolicyView, RoundRecord, StepOutcome)
from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.humans import ScriptedHuman
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Event, GateDecision, Source

log = logging.getLogger(__name__)


class Rule:
    """Base rule: the expert drives and labels every state (what round 0 and BC do)."""

    name = 'demo'
    needs_ensemble = False
    needs_safety = False
    needs_risk = False

    def __init__(self, cfg: RunConfig, spec: EnvSpec, expert: ExpertFn) -> None:
        self.cfg = cfg
        self.spec = spec
        self.expert = expert
        self.round_index = 0
        self.rng = np.random.default_rng(cfg.seed)

    def begin_round(self, round_index: int, learner: Any) -> None:
        """Called before a round's collection with the trained learner."""
        self.round_index = round_index
        self.rng = np.random.default_rng([self.cfg.seed, round_index, 7])
        self.learner = learner

    def begin_episode(self) -> None:
        """Called at every env reset."""

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        """Decide one step."""
        label = self.expert(obs)
        return StepOutcome(label, label, Source.EXPERT, Source.EXPERT, 'demo')

    def end_round(self, record: RoundRecord, learner: Any) -> list[LateLabel]:
        """Return labels that arrive after the steps (budgeted, async); update thresholds."""
        return []

    def metrics(self) -> dict[str, float]:
        """Rule-specific figures for the round's metrics line."""
        return {}

    def _drive(self, obs: np.ndarray, view: PolicyView, decision: GateDecision,
               labeler: Source = Source.EXPERT, expert_action: np.ndarray | None = None,
               event: Event = Event.NONE) -> StepOutcome:
        """Turn a gate decision into the executed action and the label."""
        needs_expert = decision.expert_drives or decision.label
        if needs_expert and expert_action is None:
            expert_action = self.expert(obs)
        action = expert_action if decision.expert_drives else view.action
        label = expert_action if decision.label else None
        actor = labeler if decision.expert_drives else Source.POLICY
        return StepOutcome(action, label, actor, labeler if decision.label else Source.NONE,
                           decision.reason, event)


class BCRule(Rule):
    """Behavioural cloning: every round is more expert demonstration."""

    name = 'bc'


class DAggerRule(Rule):
    """DAgger (Ross et al. 2011): execute π_i = β_i π* + (1-β_i) π̂_i, label every state."""

    name = 'dagger'

    def __init__(self, cfg: RunConfig, spec: EnvSpec, expert: ExpertFn) -> None:
        super().__init__(cfg, spec, expert)
        params = {'constant': {'beta': cfg.beta}, 'linear': {'start': cfg.beta, 'end': 0.0,
                                                             'rounds': cfg.rounds},
                  'exponential': {'p': cfg.beta_decay}, 'first_round_only': {}}
        self.schedule = schedules.make_beta_schedule(
            cfg.beta_schedule, **params[cfg.beta_schedule])
        self._episode_u = 1.0

    def begin_episode(self) -> None:
        self._episode_u = float(self.rng.random())

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        u = float(self.rng.random()) if self.cfg.mixing == 'step' else self._episode_u
        return self._drive(obs, view, gating.beta_mix(self.schedule(self.round_index), u))


class HGDAggerRule(Rule):
    """HG-DAgger (Kelly et al. 2019): the human gates; only takeover segments are labeled."""

    name = 'hg_dagger'
    needs_ensemble = True

    def __init__(self, cfg: RunConfig, spec: EnvSpec, expert: ExpertFn,
                 human: Any | None = None) -> None:
        super().__init__(cfg, spec, expert)
        self.human = human or ScriptedHuman(expert, spec, cfg.takeover_threshold)
        self._was_engaged = False
        self.takeover_doubts: list[float] = []
        self.doubt_threshold = float('nan')

    def begin_episode(self) -> None:
        self._was_engaged = False
        if hasattr(self.human, 'reset'):
            self.human.reset()

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        engaged = bool(self.human.engaged(obs, view.action))
        decision = gating.human_gate(engaged, self._was_engaged)
        event = Event.NONE
        if engaged and not self._was_engaged:
            event = Event.INTERVENTION_START
            self.takeover_doubts.append(view.doubt)
        elif self._was_engaged and not engaged:
            event = Event.INTERVENTION_END
        self._was_engaged = engaged
        human_action = self.human.action(obs) if decision.expert_drives else None
        return self._drive(obs, view, decision, Source.HUMAN, human_action, event)

    def end_round(self, record: RoundRecord, learner: Any) -> list[LateLabel]:
        doubts = np.asarray([d for d in self.takeover_doubts if np.isfinite(d)])
        if doubts.size:
            self.doubt_threshold = gating.hg_dagger_threshold(doubts)
            log.info('HG-DAgger doubt threshold learned from %d takeovers: %.4g',
                     doubts.size, self.doubt_threshold)
        return []

    def metrics(self) -> dict[str, float]:
        return {'doubt_threshold': self.doubt_threshold,
                'takeovers': float(len(self.takeover_doubts))}


class SafeDAggerRule(Rule):
    """SafeDAgger (Zhang & Cho 2017): predicted-unsafe states go to the expert.

    A learned safety net predicts where the policy deviates beyond τ; only those states are
    labeled.
    """

    name = 'safe_dagger'
    needs_safety = True

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        return self._drive(obs, view, gating.safe_dagger(
            self.learner.prob_unsafe(obs), self.cfg.safety_threshold))


class LazyDAggerRule(Rule):
    """LazyDAgger-style hysteresis over the safety net's score: fewer, longer interventions."""

    name = 'lazy_dagger'
    needs_safety = True

    def begin_episode(self) -> None:
        self._expert_driving = False

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        high = self.cfg.safety_threshold
        decision = gating.hysteresis(self.learner.prob_unsafe(obs), self._expert_driving,
                                     high, high * self.cfg.handback_ratio)
        self._expert_driving = decision.expert_drives
        return self._drive(obs, view, decision)


def _discrepancy(policy_action: np.ndarray, expert_action: np.ndarray, spec: EnvSpec) -> float:
    """Largest action error as a fraction of the action range (dimensionless)."""
    return float(np.max(np.abs(policy_action - expert_action) / (spec.high - spec.low)))


class EnsembleDAggerRule(Rule):
    """EnsembleDAgger (Menda et al. 2019): the novice acts where doubt and discrepancy are low.

    The expert, queried at every step, labels every state.
    """

    name = 'ensemble_dagger'
    needs_ensemble = True

    def begin_round(self, round_index: int, learner: Any) -> None:
        super().begin_round(round_index, learner)
        doubts, errors = learner.doubts_and_errors()
        self.doubt_threshold = gating.quantile_threshold(doubts, self.cfg.target_rate)
        self.discrepancy_threshold = gating.quantile_threshold(errors, self.cfg.target_rate)

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        expert_action = self.expert(obs)
        decision = gating.ensemble_dagger(
            view.doubt, _discrepancy(view.action, expert_action, self.spec),
            self.doubt_threshold, self.discrepancy_threshold)
        return self._drive(obs, view, decision, expert_action=expert_action)

    def metrics(self) -> dict[str, float]:
        return {'doubt_threshold': self.doubt_threshold,
                'discrepancy_threshold': self.discrepancy_threshold}


class ThriftyDAggerRule(Rule):
    """ThriftyDAgger (Hoque et al. 2021): robot-gated by novelty and risk.

    Novelty is the ensemble variance, risk is 1 - a learned success estimate; the entry
    thresholds are quantiles meeting a target rate. As in the authors' code, control returns
    to the robot once the squared action discrepancy (in half-ranges) is below its mean on the
    training data and the risk below its median.
    """

    name = 'thrifty_dagger'
    needs_ensemble = True
    needs_risk = True

    def begin_round(self, round_index: int, learner: Any) -> None:
        super().begin_round(round_index, learner)
        doubts, _ = learner.doubts_and_errors()
        risks = learner.risks()
        policy_actions, labels = learner.recent_predictions()
        self.novelty_threshold = gating.quantile_threshold(doubts, self.cfg.target_rate)
        self.risk_threshold = gating.quantile_threshold(risks, self.cfg.target_rate)
        self.discrepancy_back = float(np.mean(self._squared(policy_actions, labels)))
        # just above the median: with risk 0 everywhere (no failures) hand-back still happens
        self.risk_back = float(np.nextafter(np.median(risks), np.inf))

    def _squared(self, policy_action: np.ndarray, expert_action: np.ndarray) -> np.ndarray:
        half = (self.spec.high - self.spec.low) / 2
        return np.sum(((policy_action - expert_action) / half) ** 2, axis=-1)

    def begin_episode(self) -> None:
        self._expert_driving = False

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        risk = self.learner.risk(obs, view.action)
        expert_action = self.expert(obs) if self._expert_driving else None
        discrepancy = (float('inf') if expert_action is None
                       else float(self._squared(view.action, expert_action)))
        decision = gating.thrifty(
            view.doubt, risk, self._expert_driving, self.novelty_threshold, self.risk_threshold,
            discrepancy, self.discrepancy_back, self.risk_back)
        self._expert_driving = decision.expert_drives
        return self._drive(obs, view, decision, expert_action=expert_action)

    def metrics(self) -> dict[str, float]:
        return {'novelty_threshold': self.novelty_threshold, 'risk_threshold': self.risk_threshold,
                'discrepancy_back': self.discrepancy_back, 'risk_back': self.risk_back}


class DARTRule(Rule):
    """DART (Laskey et al. 2017): the expert drives with noise; labels are its clean actions.

    The Gaussian noise on the executed action is fitted to the learner's errors, never below
    ``noise_floor``, or follows a fixed or decaying level.
    """

    name = 'dart'

    def __init__(self, cfg: RunConfig, spec: EnvSpec, expert: ExpertFn) -> None:
        super().__init__(cfg, spec, expert)
        params = ({'level': cfg.noise_level} if cfg.noise_schedule == 'constant'
                  else {'start': cfg.noise_level, 'rate': cfg.noise_decay})
        self.level = (None if cfg.noise_schedule == 'estimated'
                      else schedules.make_noise_schedule(cfg.noise_schedule, **params))

    def begin_round(self, round_index: int, learner: Any) -> None:
        super().begin_round(round_index, learner)
        if self.level is None:
            policy_actions, expert_actions = learner.recent_predictions()
            floor = noise.level_covariance(self.cfg.noise_floor, self.spec.low, self.spec.high)
            self.cov = noise.with_floor(
                noise.estimate_dart_covariance(policy_actions, expert_actions), floor)
        else:  # round 1 is the first noisy round
            level = self.level(round_index - 1)
            self.cov = noise.level_covariance(level, self.spec.low, self.spec.high)

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        clean = self.expert(obs)
        executed = noise.dart_action(clean, self.cov, self.rng, self.spec.low, self.spec.high)
        return StepOutcome(executed, clean, Source.EXPERT, Source.EXPERT, 'dart_noise')

    def metrics(self) -> dict[str, float]:
        return {'noise_trace': float(np.trace(self.cov))}


class BudgetedRule(Rule):
    """Active queries: the policy drives; a label budget is spent after each round.

    The budget goes to the round's most uncertain (or random) states.
    """

    name = 'budgeted'
    needs_ensemble = True

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        return StepOutcome(view.action, None, Source.POLICY, Source.NONE, 'policy')

    def end_round(self, record: RoundRecord, learner: Any) -> list[LateLabel]:
        chosen = gating.select_queries(np.asarray(record.doubts), self.cfg.query_budget,
                                       self.cfg.query_mode, self.rng)
        return [_bought_label(record, int(i), self.expert(record.obs[int(i)]), 'budget_query')
                for i in sorted(chosen)]


def _bought_label(record: RoundRecord, index: int, label: np.ndarray, reason: str) -> LateLabel:
    """Label an already-executed step after the fact, keeping its executed action."""
    outcome = StepOutcome(record.actions[index], label, Source.POLICY, Source.EXPERT, reason)
    return LateLabel(record.obs[index], outcome, record.episodes[index], record.steps[index])


class AsyncRule(Rule):
    """Asynchronous labeling: visited states wait on disk for a slow expert.

    The policy drives; the expert works in its own thread; each round trains on what is
    labeled so far.
    """

    name = 'async'
    needs_ensemble = False

    def __init__(self, cfg: RunConfig, spec: EnvSpec, expert: ExpertFn, queue: Any,
                 labeler: Any) -> None:
        super().__init__(cfg, spec, expert)
        self.queue = queue
        self.labeler = labeler
        self.cursor = 0
        self._stride = max(1, cfg.steps_per_round // max(cfg.query_budget, 1))
        self._count = 0

    def step(self, obs: np.ndarray, view: PolicyView) -> StepOutcome:
        if self._count % self._stride == 0:
            version = int(getattr(self.learner, 'version', 0))
            self.labeler.submit(obs, {'round': self.round_index, 'policy_version': version})
        self._count += 1
        return StepOutcome(view.action, None, Source.POLICY, Source.NONE, 'policy')

    def end_round(self, record: RoundRecord, learner: Any) -> list[LateLabel]:
        answered, self.cursor = self.labeler.answered_since(self.cursor)
        return [LateLabel(obs, StepOutcome(label, label, Source.POLICY, Source.EXPERT,
                                           'async_query'),
                          -1, -1, int(meta.get('round', -1)),
                          int(meta.get('policy_version', -1)))
                for _, obs, label, meta in answered]

    def metrics(self) -> dict[str, float]:
        return {'queue_pending': float(self.labeler.pending_count())}


RULES: dict[str, type[Rule]] = {
    cls.name: cls for cls in (BCRule, DAggerRule, HGDAggerRule, SafeDAggerRule, LazyDAggerRule,
                              EnsembleDAggerRule, ThriftyDAggerRule, DARTRule, BudgetedRule,
                              AsyncRule)}
