"""Aggregator and trainer: stores every label, retrains after each round, publishes weights.

Labels from ``labels`` are appended to the durable dataset in ``run_dir/dataset`` and flushed
every ``flush_period_s``; labels the gate re-sends (the topic is transient-local, so a restarted
trainer gets the gate's last 1000 again) are recognised by (round, episode, step, reason) and
stored once. Each ``gate/round`` summary starts a retraining of the learner on every label so
far, in a worker thread (CUDA when present); the node keeps storing labels meanwhile. The new
networks go out on ``policy/weights`` (latched, hash-checked safetensors, never pickles), are
saved under ``run_dir/checkpoints``, scored on the simulation when the task is a gymnasium env,
and reported on ``trainer/progress`` and in ``run_dir/metrics.jsonl``. A restarted trainer
reopens the dataset, loads the newest checkpoint and publishes it again.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray, UInt8MultiArray

from dagger_ros.core import evaluation
from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.learner import Learner
from dagger_ros.core.algorithms.rules import RULES
from dagger_ros.core.bundle import pack_bundle
from dagger_ros.core.checkpoint import load_checkpoint, save_checkpoint
from dagger_ros.core.dataset import Dataset
from dagger_ros.core.errors import CheckpointError, DaggerError, InputError, SpecMismatchError
from dagger_ros.core.experts import KNOWN_EXPERTS, make_expert
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.core.wire import decode_sample, WireSample
from dagger_ros.nodes.common import (
    main_for, now_s, single_threaded_torch, SpaceConfig, spec_from_config, Throttle,
    warn_bad_input)
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import bundle_to_msg, fields_to_msg, msg_to_fields
from dagger_ros.ros.params import declare_config


@dataclass(frozen=True)
class TrainerConfig:
    """Parameters of the trainer node beyond the run's settings."""

    run_dir: str = field(default='runs/live', metadata=_meta(
        'folder of the dataset, checkpoints and metrics; reopened on restart'))
    flush_period_s: float = field(default=0.1, metadata=_meta(
        'how often received labels are written to disk', 's', 0.001, 10.0))
    evaluate: bool = field(default=True, metadata=_meta(
        'score each new policy on the gymnasium env (eval_episodes episodes)'))
    background: bool = field(default=True, metadata=_meta(
        'run every thread of the trainer at niceness 10 (training itself on SCHED_IDLE), so '
        'that a control path sharing its cores comes first; labels wait in DDS meanwhile'))


LABEL_WAIT_S = 2.0
"""How long a round summary waits for the round's labels before training goes ahead."""


def _key(round_index: int, episode: int, step: int, reason: str) -> tuple:
    return (int(round_index), int(episode), int(step), reason)


def latest_checkpoint(folder: Path, prefix: str = 'policy') -> Path | None:
    """The newest ``<prefix>-vNNNNNN.json`` in folder, or None."""
    found = sorted(folder.glob(f'{prefix}-v*.json'))
    return found[-1] if found else None


class Trainer(Node):
    """Stores labels durably and turns each finished round into a new policy version."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('trainer', **kwargs)
        single_threaded_torch()
        self.run_cfg = declare_config(self, RunConfig)
        self.spec = spec_from_config(self.run_cfg.env_id, declare_config(self, SpaceConfig))
        self.cfg = declare_config(self, TrainerConfig)
        self.dir = Path(self.cfg.run_dir)
        (self.dir / 'checkpoints').mkdir(parents=True, exist_ok=True)
        self.dataset = Dataset.open_or_create(self.dir / 'dataset', self.spec)
        self.keys = self.stored_keys()
        self.learner = Learner(self.spec, self.run_cfg, RULES[self.run_cfg.algorithm])
        self.throttle = Throttle()
        self.dirty = False
        self.duplicates = 0
        self.rounds: dict[int, dict[str, float]] = {}
        self.per_round = {int(r): int(n) for r, n in zip(
            *np.unique(self.dataset.arrays()['round'], return_counts=True))}
        self.round_seen_s: dict[int, float] = {}
        self.queued: int | None = None
        self.trained_round = -1
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._job: concurrent.futures.Future | None = None
        self.baselines: tuple[float, float] | None = None
        self._baselines = self._pool.submit(self.measure_baselines) if self.evaluating else None
        self.weights_pub = self.create_publisher(UInt8MultiArray, topics.WEIGHTS,
                                                 qos.for_topic(topics.WEIGHTS))
        self.progress_pub = self.create_publisher(Float64MultiArray, topics.TRAINER_PROGRESS,
                                                  qos.for_topic(topics.TRAINER_PROGRESS))
        self.create_subscription(Float64MultiArray, topics.LABELS, self.on_label,
                                 qos.for_topic(topics.LABELS))
        self.create_subscription(Float64MultiArray, topics.GATE_ROUND, self.on_round,
                                 qos.for_topic(topics.GATE_ROUND))
        self.timer = self.create_timer(self.cfg.flush_period_s, self.on_timer)
        if self.cfg.background:
            lower_process_priority()
        self.resume()

    @property
    def evaluating(self) -> bool:
        """New policies are scored on the simulation (a gymnasium task, evaluate set)."""
        return self.cfg.evaluate and self.run_cfg.env_id in evaluation.gym.registry

    def stored_keys(self) -> set[tuple]:
        """Keys of the samples already on disk, so re-sent labels are stored once."""
        data = self.dataset.arrays()
        names = self.dataset.reason_names
        return {_key(r, e, s, names[c]) for r, e, s, c in zip(
            data['round'], data['episode'], data['step'], data['reason'])}

    def resume(self) -> None:
        """Load the newest checkpoint (a restart) and publish it for the executor and gate."""
        path = latest_checkpoint(self.dir / 'checkpoints')
        if path is None:
            self.get_logger().info(f'new run in {self.dir} ({len(self.dataset)} samples)')
            return
        try:
            self.learner.policy, meta = load_checkpoint(path, self.spec)
            self.trained_round = int(meta.get('extra', {}).get('round', -1))
            safety = latest_checkpoint(self.dir / 'checkpoints', 'safety')
            if safety is not None and self.learner.safety is not None:
                self.learner.safety = load_checkpoint(safety, self.spec)[0]
                self.learner.safety_trained = True
        except (CheckpointError, SpecMismatchError) as err:
            self.get_logger().error(f'cannot resume from {path}: {err}; starting afresh')
            return
        self.get_logger().info(f'resumed: {len(self.dataset)} samples, policy version '
                               f'{self.learner.version} of round {self.trained_round} from '
                               f'{path.name}')
        self.publish_weights({'resumed': 1})

    # -- labels ------------------------------------------------------------------------------
    def on_label(self, msg: Float64MultiArray) -> None:
        """Store one labeled sample (once)."""
        try:
            vector, fields = msg_to_fields(msg, 'labeled sample')
            sample = decode_sample(vector, fields, self.spec)
        except InputError as err:
            warn_bad_input(self, self.throttle, 'labeled sample', err)
            return
        key = _key(sample.round, sample.episode, sample.step, sample.reason)
        if key in self.keys:
            self.duplicates += 1
            return
        self.append(sample)
        self.keys.add(key)
        self.per_round[sample.round] = self.per_round.get(sample.round, 0) + 1

    def append(self, sample: WireSample) -> None:
        """Append to the dataset; written to disk at the next flush."""
        self.dataset.append(
            sample.obs, sample.label, sample.action, actor=sample.actor, labeler=sample.labeler,
            reason=sample.reason, round=sample.round, episode=sample.episode, step=sample.step,
            policy_version=sample.policy_version, time=sample.time, doubt=sample.doubt,
            event=sample.event)
        self.dirty = True

    def flush(self) -> None:
        """Write received labels to the file (page cache: they survive a kill -9)."""
        if self.dirty:
            self.dataset.flush(fsync=False)
            self.dirty = False

    # -- rounds ------------------------------------------------------------------------------
    def on_round(self, msg: Float64MultiArray) -> None:
        """A finished round: retrain now, or right after the retraining under way."""
        try:
            vector, fields = msg_to_fields(msg, 'round summary')
        except InputError as err:
            warn_bad_input(self, self.throttle, 'round summary', err)
            return
        summary = {name: float(value) for (name, _), value in zip(fields, vector)}
        round_index = int(summary['round'])
        if round_index <= self.trained_round:
            return  # re-sent to a restarted trainer; its checkpoint covers it
        self.rounds[round_index] = summary
        self.round_seen_s[round_index] = now_s(self)
        self.queued = round_index if self.queued is None else max(self.queued, round_index)
        self.start_training()

    def start_training(self) -> None:
        """Retrain on a snapshot of every label so far, in the worker thread."""
        if self.queued is None or self._job is not None or not self.labels_in(self.queued):
            return
        self.flush()
        if len(self.dataset) == 0:
            return
        round_index, self.queued = self.queued, None
        data = self.dataset.arrays()
        self._job = self._pool.submit(self.train, data, round_index)

    def labels_in(self, round_index: int) -> bool:
        """Every label of the round is stored, or LABEL_WAIT_S passed since its summary.

        Labels and round summaries travel on different topics, so the summary may overtake the
        round's last labels; waiting for them makes a lockstep run train on the same data every
        time. The answers to the round's label queries count too (a slow person's answers
        that miss the wait go into the next retraining).
        """
        summary = self.rounds.get(round_index, {})
        expected = int(summary.get('labels', 0) + summary.get('queries', 0))
        waited = now_s(self) - self.round_seen_s.get(round_index, now_s(self))
        return self.per_round.get(round_index, 0) >= expected or waited > LABEL_WAIT_S

    def train(self, data: dict[str, np.ndarray], round_index: int) -> dict[str, Any]:
        """Worker thread: retrain, score and checkpoint; return the round's metrics row."""
        lower_thread_priority()
        start = time.monotonic()
        figures = self.learner.train(data, round_index)
        row: dict[str, Any] = {'round': round_index, 'labels': int(len(data['obs'])),
                               'policy_version': self.learner.version, **figures}
        row.update(self.score())
        stem = self.dir / 'checkpoints' / f'policy-v{self.learner.version:06d}'
        extra = {'round': round_index, 'labels': row['labels'],
                 'algorithm': self.run_cfg.algorithm}
        save_checkpoint(stem, self.learner.policy, extra)
        if self.learner.safety is not None and self.learner.safety_trained:
            save_checkpoint(self.dir / 'checkpoints' / f'safety-v{self.learner.version:06d}',
                            self.learner.safety, extra)
        row['seconds'] = time.monotonic() - start
        return row

    def score(self) -> dict[str, float]:
        """Mean return of the policy alone on the evaluation starts, raw and normalized."""
        if not self.evaluating:
            return {}
        expert_return, random_return = self._baselines.result()
        env = evaluation.make_env(self.run_cfg.env_id, self.run_cfg.max_episode_steps)
        try:
            seeds = evaluation.episode_seeds(self.run_cfg.seed, self.run_cfg.eval_episodes)
            returns = evaluation.evaluate(env, self.learner.policy.act, seeds)
        finally:
            env.close()
        value = float(np.mean(returns))
        row = {'return': value, 'random_return': random_return}
        if np.isfinite(expert_return):
            row.update(normalized=evaluation.normalized(value, random_return, expert_return),
                       expert_return=expert_return)
        return row

    def measure_baselines(self) -> tuple[float, float]:
        """Expert and random returns on the evaluation starts (cached in run_dir).

        A task without a scripted expert (a person is the expert) has no expert return: NaN.
        """
        path = self.dir / 'baselines.json'
        if path.exists():
            data = json.loads(path.read_text())
            return float(data['expert_return']), float(data['random_return'])
        env = evaluation.make_env(self.run_cfg.env_id, self.run_cfg.max_episode_steps)
        try:
            seeds = evaluation.episode_seeds(self.run_cfg.seed, self.run_cfg.eval_episodes)
            rand = evaluation.evaluate(env, evaluation.random_policy(env, self.run_cfg.seed),
                                       seeds)
            expert = float('nan')
            if self.run_cfg.env_id in KNOWN_EXPERTS:
                expert = float(evaluation.evaluate(env, make_expert(self.run_cfg.env_id),
                                                   seeds).mean())
        finally:
            env.close()
        result = {'expert_return': expert, 'random_return': float(rand.mean())}
        _write_json(path, result)
        return result['expert_return'], result['random_return']

    def on_timer(self) -> None:
        """Flush labels; publish a finished retraining; start a queued one."""
        self.flush()
        if self._job is not None and self._job.done():
            job, self._job = self._job, None
            try:
                row = job.result()
            except (DaggerError, RuntimeError, ValueError) as err:
                self.get_logger().error(f'retraining failed, keeping version '
                                        f'{self.learner.version}: {err}')
            else:
                self.finish_round(row)
        self.start_training()

    def finish_round(self, row: dict[str, Any]) -> None:
        """Publish the new weights, the progress and the metrics row."""
        self.trained_round = max(self.trained_round, int(row['round']))
        gate = self.rounds.get(int(row['round']), {})
        steps = gate.get('steps', 0.0)
        row['expert_share'] = gate.get('expert_steps', 0.0) / steps if steps else float('nan')
        row['switches'] = gate.get('switches', float('nan'))
        row['round_labels'] = gate.get('labels', float('nan'))
        row['duplicates_dropped'] = self.duplicates
        skip = {'round', 'steps', 'labels', 'expert_steps', 'switches', 'policy_version',
                'queries'}
        row.update({f'gate_{name}': value for name, value in gate.items() if name not in skip})
        self.publish_weights({'round': int(row['round']), 'labels': row['labels']})
        with open(self.dir / 'metrics.jsonl', 'a', encoding='utf-8') as f:
            f.write(json.dumps(row, default=float) + '\n')
        names = ('round', 'labels', 'policy_version', 'return', 'normalized', 'expert_share',
                 'switches', 'train_loss', 'seconds')
        present = [(name, float(row[name])) for name in names
                   if name in row and np.isfinite(float(row[name]))]
        self.progress_pub.publish(fields_to_msg([v for _, v in present],
                                                [(name, 1) for name, _ in present]))
        self.get_logger().info(
            f"round {row['round']}: version {row['policy_version']} on {row['labels']} labels, "
            f"return {row.get('return', float('nan')):.1f} "
            f"({row.get('normalized', float('nan')):.0%} of expert), "
            f"{row['seconds']:.1f} s")

    def publish_weights(self, extra: dict[str, Any]) -> None:
        """Send the policy (and safety net) as one checked bundle."""
        parts = {'policy': self.learner.policy}
        if self.learner.safety is not None and self.learner.safety_trained:
            parts['safety'] = self.learner.safety
        data, fields = pack_bundle(parts, extra)
        self.weights_pub.publish(bundle_to_msg(data, fields))

    def shutdown(self) -> None:
        """Flush with fsync and let a running retraining finish."""
        self.dataset.flush(fsync=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.dataset.close()


TRAINING_NICENESS = 10
"""Niceness of the trainer's threads, and of training where SCHED_IDLE is not available."""


def lower_thread_priority() -> None:
    """Make the calling thread yield the CPU to the control path.

    Linux SCHED_IDLE runs the thread only on CPU time nothing else wants, so a control
    callback waking up preempts it at once; a niceness of 10 is the fallback.
    """
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        _renice(tid)


def lower_process_priority() -> None:
    """Give every thread of this process (DDS's included) the training niceness (Linux)."""
    try:
        tids = [int(name) for name in os.listdir('/proc/self/task')]
    except OSError:  # not Linux
        return
    for tid in tids:
        _renice(tid)


def _renice(tid: int) -> None:
    """Raise one thread's niceness to TRAINING_NICENESS (never lower it); skip where refused."""
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < TRAINING_NICENESS:
            os.setpriority(os.PRIO_PROCESS, tid, TRAINING_NICENESS)
    except (AttributeError, OSError):  # not Linux, not permitted, or the thread ended
        pass


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def main(args: Any = None) -> int:
    """Console script ``trainer_node``."""
    return main_for(Trainer, args)


if __name__ == '__main__':
    raise SystemExit(main())
