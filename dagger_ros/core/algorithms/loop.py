"""The round loop of every algorithm: collect with the rule, aggregate, retrain, evaluate."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
import time
from typing import Any, Callable

import numpy as np

from dagger_ros.core import evaluation
from dagger_ros.core.algorithms.async_labeler import ThreadedLabeler
from dagger_ros.core.algorithms.base import (
    ExpertFn, LateLabel, PolicyView, RoundRecord, StepOutcome)
from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.learner import Learner
from dagger_ros.core.algorithms.rules import AsyncRule, HGDAggerRule, Rule, RULES
from dagger_ros.core.checkpoint import load_checkpoint, save_checkpoint
from dagger_ros.core.dataset import Dataset, load_demonstrations
from dagger_ros.core.errors import ConfigError
from dagger_ros.core.experts import make_expert
from dagger_ros.core.label_queue import LabelQueue
from dagger_ros.core.plots import plot_learning_curves
from dagger_ros.core.spec import EnvSpec
from dagger_ros.core.types import Source

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a finished run leaves: its metrics rows and the baselines they are scored on."""

    run_dir: Path
    metrics: list[dict[str, Any]]
    expert_return: float
    random_return: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def final_normalized(self) -> float:
        """Normalized return after the last round."""
        return float(self.metrics[-1]['normalized']) if self.metrics else float('nan')


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(json.dumps(data, indent=2, default=float))
    os.replace(tmp, path)


class Run:
    """One run directory: config, dataset, checkpoints, metrics, state for --resume."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path, expert: ExpertFn | None = None,
                 human: Any | None = None) -> None:
        self.cfg = cfg
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env = evaluation.make_env(cfg.env_id, cfg.max_episode_steps)
        self.eval_env = evaluation.make_env(cfg.env_id, cfg.max_episode_steps)
        self.spec = EnvSpec.from_env(self.env, cfg.env_id)
        self.expert = expert or make_expert(cfg.env_id)
        self.dataset = Dataset.open_or_create(self.dir / 'dataset', self.spec)
        rule_cls = RULES[cfg.algorithm]
        self.learner = Learner(self.spec, cfg, rule_cls)
        self.labeler: ThreadedLabeler | None = None
        self.rule = self._make_rule(rule_cls, human)
        self.demo_rule = Rule(cfg, self.spec, self.expert)
        self.metrics: list[dict[str, Any]] = []
        self.episode = -1
        self._obs: np.ndarray | None = None
        self._step_index = 0
        self._return = 0.0
        self._episode_rule: Rule | None = None

    def _make_rule(self, rule_cls: type[Rule], human: Any | None) -> Rule:
        if rule_cls is AsyncRule:
            queue = LabelQueue(self.dir / 'label_queue', self.spec)
            self.labeler = ThreadedLabeler(queue, self.expert, self.cfg.label_delay_s)
            return AsyncRule(self.cfg, self.spec, self.expert, queue, self.labeler)
        if rule_cls is HGDAggerRule:
            return HGDAggerRule(self.cfg, self.spec, self.expert, human)
        return rule_cls(self.cfg, self.spec, self.expert)

    # -- baselines ---------------------------------------------------------------------------
    def baselines(self) -> tuple[float, float]:
        """Expert and random returns on the evaluation seeds, measured once per run dir."""
        path = self.dir / 'baselines.json'
        if path.exists():
            data = json.loads(path.read_text())
            return float(data['expert_return']), float(data['random_return'])
        seeds = evaluation.episode_seeds(self.cfg.seed, self.cfg.eval_episodes)
        expert = evaluation.evaluate(self.eval_env, self.expert, seeds)
        rand = evaluation.evaluate(
            self.eval_env, evaluation.random_policy(self.eval_env, self.cfg.seed), seeds)
        _write_json(path, {'expert_return': float(expert.mean()),
                           'expert_std': float(expert.std()),
                           'random_return': float(rand.mean()), 'seeds': seeds})
        return float(expert.mean()), float(rand.mean())

    # -- the loop ----------------------------------------------------------------------------
    def run(self, resume: bool = False,
            on_round: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
        """Run (or continue) every round; call on_round with each round's metrics row."""
        _write_json(self.dir / 'config.json', self.cfg.to_dict())
        expert_return, random_return = self.baselines()
        first = self._resume() if resume else 0
        if self.labeler is not None:
            self.labeler.start()
        try:
            for round_index in range(first, self.cfg.rounds + 1):
                row = self._round(round_index, expert_return, random_return)
                self.metrics.append(row)
                if on_round is not None:
                    on_round(row)
        finally:
            if self.labeler is not None:
                self.labeler.stop()
            self.dataset.flush()
        self.plot(expert_return, random_return)
        return RunResult(self.dir, self.metrics, expert_return, random_return)

    def _round(self, round_index: int, expert_return: float, random_return: float
               ) -> dict[str, Any]:
        start = time.monotonic()
        labels_before = len(self.dataset)
        if round_index == 0:
            record = self._demonstrate()
        else:
            self.rule.begin_round(round_index, self.learner)
            record = self._collect(self.rule, round_index, self.cfg.steps_per_round)
            self._append_late(self.rule.end_round(record, self.learner), round_index)
        self.dataset.flush()
        collect_s = time.monotonic() - start
        figures = self.learner.train(self.dataset.arrays(), round_index, record)
        checkpoint = self._save_checkpoint(round_index)
        returns = evaluation.evaluate(self.eval_env, self.learner.policy.act,
                                      evaluation.episode_seeds(self.cfg.seed,
                                                               self.cfg.eval_episodes))
        row = {'round': round_index, 'labels': len(self.dataset),
               'labels_round': len(self.dataset) - labels_before, 'steps_round': len(record),
               'expert_share': record.expert_share(),
               'context_switches': record.context_switches(),
               'return_mean': float(returns.mean()), 'return_std': float(returns.std()),
               'normalized': evaluation.normalized(float(returns.mean()), random_return,
                                                   expert_return),
               'policy_version': self.learner.version, 'collect_seconds': collect_s,
               'checkpoint': checkpoint.name, 'time': time.time(), **figures}
        if round_index > 0:
            row.update(self.rule.metrics())
        self._commit_round(row)
        return row

    def _demonstrate(self) -> RoundRecord:
        """Round 0: recorded demonstrations, then expert-driven steps, all labeled."""
        if self.cfg.demos_path and len(self.dataset) == 0:
            obs, actions = load_demonstrations(self.cfg.demos_path, self.spec)
            self.dataset.append(obs, actions, actor=Source.EXPERT, labeler=Source.EXPERT,
                                reason='demo', round=0, episode=-1, step=-1, policy_version=0)
        return self._collect(self.demo_rule, 0, self.cfg.demo_steps)

    def _collect(self, rule: Rule, round_index: int, steps: int) -> RoundRecord:
        """Run ``steps`` env steps under ``rule``, appending every label.

        An episode in progress carries over into the next round, as on a robot that keeps
        going while new weights arrive: short rounds still see whole episodes.
        """
        record = RoundRecord()
        if self._obs is not None and self._episode_rule is not rule:
            rule.begin_episode()  # the episode carries over from another rule's round
            self._episode_rule = rule
        while len(record) < steps:
            if self._obs is None:
                self._start_episode(rule)
            self._step(rule, round_index, record)
        return record

    def _start_episode(self, rule: Rule) -> None:
        self.episode += 1
        obs, _ = self.env.reset(seed=int(1000 * self.cfg.seed + self.episode))
        self._obs, self._step_index, self._return = obs, 0, 0.0
        self._episode_rule = rule
        rule.begin_episode()

    def _step(self, rule: Rule, round_index: int, record: RoundRecord) -> None:
        obs = self._obs
        view = self.learner.view(obs) if round_index > 0 else _blind_view(self.spec)
        out = rule.step(obs, view)
        next_obs, reward, terminated, truncated, _ = self.env.step(out.action)
        record.add(obs, view, out, next_obs, bool(terminated), self.episode, self._step_index)
        self._append(obs, out, round_index, self.episode, self._step_index, view.doubt)
        self._return += float(reward)
        self._step_index += 1
        self._obs = next_obs
        if terminated or truncated:
            record.returns.append(self._return)
            self._obs = None

    def _append(self, obs: np.ndarray, out: StepOutcome, round_index: int, episode: int,
                step: int, doubt: float, version: int | None = None) -> None:
        if out.label is None:
            return
        self.dataset.append(
            obs, out.label, out.action, actor=out.actor, labeler=out.labeler, reason=out.reason,
            round=round_index, episode=episode, step=step, doubt=doubt, event=out.event,
            policy_version=self.learner.version if version is None else version)

    def _append_late(self, late: list[LateLabel], round_index: int) -> None:
        for item in late:
            version = item.policy_version if item.policy_version >= 0 else None
            self._append(item.obs, item.outcome, round_index, item.episode, item.step,
                         float('nan'), version)

    # -- persistence -------------------------------------------------------------------------
    def _save_checkpoint(self, round_index: int) -> Path:
        folder = self.dir / 'checkpoints'
        folder.mkdir(exist_ok=True)
        stem = folder / f'policy-v{self.learner.version:06d}'
        extra = {'round': round_index, 'labels': len(self.dataset),
                 'algorithm': self.cfg.algorithm}
        path = save_checkpoint(stem, self.learner.policy, extra)
        if self.learner.safety is not None:
            save_checkpoint(folder / f'safety-v{self.learner.version:06d}', self.learner.safety,
                            extra)
        return Path(path)

    def _commit_round(self, row: dict[str, Any]) -> None:
        """Metrics line, then state: a crash between them re-runs at most this round."""
        with open(self.dir / 'metrics.jsonl', 'a', encoding='utf-8') as f:
            f.write(json.dumps(row, default=float) + '\n')
        _write_json(self.dir / 'state.json', {'round': row['round'], 'episode': self.episode,
                                              'checkpoint': row['checkpoint'],
                                              'labels': row['labels']})

    def _resume(self) -> int:
        """Reload the last finished round's weights; return the next round to run."""
        path = self.dir / 'state.json'
        if not path.exists():
            return 0
        state = json.loads(path.read_text())
        folder = self.dir / 'checkpoints'
        policy, _ = load_checkpoint(folder / state['checkpoint'], expected_spec=self.spec,
                                    kind='ensemble')
        self.learner.policy = policy
        safety = folder / state['checkpoint'].replace('policy-', 'safety-')
        if self.learner.safety is not None and safety.exists():
            self.learner.safety, _ = load_checkpoint(safety, expected_spec=self.spec,
                                                     kind='classifier')
            self.learner.safety_trained = True
        self.learner.remember_recent(self.dataset.arrays(), int(state['round']))
        self.metrics = _read_metrics(self.dir / 'metrics.jsonl', int(state['round']))
        self.episode = int(state['episode'])
        log.info('resuming %s after round %d with %d labels', self.dir, state['round'],
                 len(self.dataset))
        return int(state['round']) + 1

    def plot(self, expert_return: float, random_return: float) -> Path:
        """Write learning_curve.png for this run."""
        title = f'{self.cfg.algorithm} on {self.cfg.env_id} (seed {self.cfg.seed})'
        return plot_learning_curves({self.cfg.algorithm: self.metrics}, expert_return,
                                    random_return, self.dir / 'learning_curve.png', title)

    def close(self) -> None:
        """Flush and close the dataset and the envs."""
        self.dataset.close()
        self.env.close()
        self.eval_env.close()


def _blind_view(spec: EnvSpec) -> PolicyView:
    """Round 0 has no policy yet: a mid-range action and unknown doubt stand in."""
    return PolicyView((spec.low + spec.high) / 2, float('nan'))


def _read_metrics(path: Path, last_round: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row for row in rows if row['round'] <= last_round]


def run_experiment(cfg: RunConfig, run_dir: str | Path, expert: ExpertFn | None = None,
                   human: Any | None = None, resume: bool = False,
                   on_round: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    """Run one algorithm end to end in ``run_dir``; see :class:`Run`."""
    if cfg.demo_steps == 0 and not cfg.demos_path:
        raise ConfigError('demo_steps is 0 and no demos_path is given: the first policy would '
                          'have nothing to learn from; set demo_steps > 0 or demos_path')
    run = Run(cfg, run_dir, expert, human)
    try:
        return run.run(resume=resume, on_round=on_round)
    finally:
        run.close()


__all__ = ['Run', 'RunResult', 'run_experiment']
