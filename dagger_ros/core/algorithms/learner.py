"""The learner's networks for one run: policy (or ensemble), safety net and risk model."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dagger_ros.core import gating
from dagger_ros.core.algorithms.base import PolicyView, RoundRecord
from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.risk import RiskModel
from dagger_ros.core.policies import make_policy, PolicyConfig, SafetyClassifier
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.training import train_classifier, train_policy, TrainConfig

log = logging.getLogger(__name__)


class Learner:
    """Trains and queries the networks a rule needs; keeps the last round's data for thresholds."""

    def __init__(self, spec: EnvSpec, cfg: RunConfig, rule_cls: Any) -> None:
        self.spec = spec
        self.cfg = cfg
        size = cfg.ensemble_size if rule_cls.needs_ensemble else 1
        self.policy = make_policy(spec, PolicyConfig(hidden_sizes=cfg.hidden_sizes,
                                                     ensemble_size=size))
        self.safety = SafetyClassifier(spec) if rule_cls.needs_safety else None
        self.safety_trained = False
        self.risk_model = RiskModel(spec, seed=cfg.seed) if rule_cls.needs_risk else None
        self.train_cfg = TrainConfig(
            epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience,
            warm_start=cfg.warm_start, seed=cfg.seed, max_updates=cfg.max_updates)
        self._recent_obs = np.zeros((0, spec.obs_dim))
        self._recent_labels = np.zeros((0, spec.act_dim))
        self._transitions: list[RoundRecord] = []

    @property
    def version(self) -> int:
        """Version of the current policy weights."""
        return int(self.policy.version)

    def view(self, obs: np.ndarray) -> PolicyView:
        """Policy action and doubt at one state."""
        action, doubt = self.policy.act_with_doubt(obs)
        return PolicyView(np.asarray(action, dtype=np.float64), float(doubt))

    def train(self, data: dict[str, np.ndarray], round_index: int,
              record: RoundRecord | None = None) -> dict[str, float]:
        """Retrain on every label so far; return training figures."""
        obs, labels = data['obs'].astype(np.float64), data['label'].astype(np.float64)
        self.remember_recent(data, round_index)
        policy_rows = self._policy_rows(len(obs), round_index)
        stats = train_policy(self.policy, obs[policy_rows], labels[policy_rows], self.train_cfg,
                             device=self.cfg.device)
        figures = {'train_loss': float(stats.train_loss), 'val_loss': float(stats.val_loss),
                   'train_seconds': float(stats.seconds), 'updates': float(stats.updates)}
        if self.safety is not None:
            figures.update(self._train_safety(obs[~policy_rows], labels[~policy_rows]))
        if self.risk_model is not None and record is not None:
            figures['risk_loss'] = self._train_risk(record)
        return figures

    def prob_unsafe(self, obs: np.ndarray) -> float:
        """Safety net's probability that the policy deviates beyond τ here (1 if untrained)."""
        if self.safety is None or not self.safety_trained:
            return 1.0
        return float(self.safety.prob_unsafe(obs))

    def doubts_and_errors(self) -> tuple[np.ndarray, np.ndarray]:
        """Doubt and action error (fraction of range) on the last round's labeled states."""
        actions, doubts = self.policy.act_with_doubt(self._recent_obs)
        errors = np.max(np.abs(actions - self._recent_labels) / (self.spec.high - self.spec.low),
                        axis=1)
        return np.asarray(doubts, dtype=np.float64), errors

    def recent_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """The policy's actions and the expert's labels on the last round's states (for DART)."""
        return self.policy.act(self._recent_obs), self._recent_labels

    def risks(self) -> np.ndarray:
        """Risk of the policy's own actions on the last round's states."""
        actions = self.policy.act(self._recent_obs)
        return 1.0 - self.risk_model.q(self._recent_obs, actions)

    def risk(self, obs: np.ndarray, action: np.ndarray) -> float:
        """Risk of one state-action pair (0 when there is no risk model)."""
        return 0.0 if self.risk_model is None else self.risk_model.risk(obs, action)

    def remember_recent(self, data: dict[str, np.ndarray], round_index: int) -> None:
        """Keep the round's labeled states: thresholds for the next round come from them."""
        rows = data['round'] == round_index
        if not np.any(rows):
            rows = np.ones(len(data['obs']), dtype=bool)
        self._recent_obs = data['obs'][rows].astype(np.float64)
        self._recent_labels = data['label'][rows].astype(np.float64)

    def _policy_rows(self, count: int, round_index: int) -> np.ndarray:
        """Rows the policy trains on; SafeDAgger keeps a fixed share out for its safety net."""
        if self.safety is None:
            return np.ones(count, dtype=bool)
        # one draw per row from a fixed stream, so a row's side never changes as data grows
        draws = np.random.default_rng([self.cfg.seed, 99]).random(count)
        return draws >= self.cfg.holdout_fraction

    def _train_safety(self, obs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        if len(obs) < 2:
            return {}
        deviation = np.linalg.norm(self.policy.act(obs) - labels, axis=1)
        tau = self.cfg.safety_tau or float(np.quantile(deviation, 1 - self.cfg.target_rate))
        targets = np.array([gating.safety_target(p, e, tau)
                            for p, e in zip(self.policy.act(obs), labels)])
        self.safety.balance_classes(targets)
        stats = train_classifier(self.safety, obs, targets, self.train_cfg,
                                 device=self.cfg.device)
        self.safety_trained = True
        return {'safety_tau': tau, 'safety_unsafe_share': float(np.mean(targets)),
                'safety_loss': float(stats.val_loss)}

    def _train_risk(self, record: RoundRecord) -> float:
        self._transitions.append(record)
        recs = self._transitions
        stack = [np.asarray(sum((getattr(r, name) for r in recs), []))
                 for name in ('obs', 'actions', 'next_obs', 'failed')]
        return self.risk_model.fit(*stack, policy=self.policy.act)
