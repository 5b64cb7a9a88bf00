"""Policy executor: observation in, the learned policy's action (and its doubt) out.

Answers every ``observation`` on ``policy/action``, tagged with the observation's seq, episode
and step, the policy version and the doubt (ensemble disagreement; NaN for a single network);
the doubt also goes to ``policy/doubt``. New weights arrive on ``policy/weights`` (latched, so
a restarted executor gets the newest at once); they are checked (hash, kind, spaces) and built
in a worker thread, and swapped in between two observations: inference never waits for them.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray, UInt8MultiArray

from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.algorithms.rules import RULES
from dagger_ros.core.bundle import unpack_bundle
from dagger_ros.core.checkpoint import load_checkpoint, warm_up
from dagger_ros.core.errors import CheckpointError, ConfigError, InputError, SpecMismatchError
from dagger_ros.core.policies import make_policy, PolicyConfig
from dagger_ros.nodes.common import (
    main_for, now_s, read_vector, single_threaded_torch, SpaceConfig, spec_from_config,
    Throttle, warn_bad_input)
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import msg_tags, msg_to_bundle, tagged_msg
from dagger_ros.ros.params import declare_config


@dataclass(frozen=True)
class ExecutorConfig:
    """Parameters of the executor beyond the run's settings."""

    initial_weights: str = field(default='', metadata={
        'description': 'checkpoint (stem or file) to act with until the trainer sends weights; '
                       'empty: an untrained network', 'read_only': True})


class PolicyExecutor(Node):
    """Runs the newest policy on every observation."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('policy_executor', **kwargs)
        single_threaded_torch()
        self.run_cfg = declare_config(self, RunConfig)
        self.spec = spec_from_config(self.run_cfg.env_id, declare_config(self, SpaceConfig))
        self.cfg = declare_config(self, ExecutorConfig)
        self.policy = self.initial_policy()
        warm_up()
        self.throttle = Throttle()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._pending: concurrent.futures.Future | None = None
        self.action_pub = self.create_publisher(Float64MultiArray, topics.POLICY_ACTION,
                                                qos.for_topic(topics.POLICY_ACTION))
        self.doubt_pub = self.create_publisher(Float64MultiArray, topics.POLICY_DOUBT,
                                               qos.for_topic(topics.POLICY_DOUBT))
        self.observation_sub = self.create_subscription(
            Float64MultiArray, topics.OBSERVATION, self.on_observation,
            qos.for_topic(topics.OBSERVATION))
        self.create_subscription(UInt8MultiArray, topics.WEIGHTS, self.on_weights,
                                 qos.for_topic(topics.WEIGHTS))
        self.get_logger().info(f'acting with policy version {self.policy.version}')

    def initial_policy(self) -> Any:
        """The checkpoint given as initial_weights, else an untrained network (version 0)."""
        if self.cfg.initial_weights:
            try:
                return load_checkpoint(self.cfg.initial_weights, self.spec)[0]
            except (CheckpointError, SpecMismatchError) as err:
                raise ConfigError(f'initial_weights: {err}') from err
        size = self.run_cfg.ensemble_size if RULES[self.run_cfg.algorithm].needs_ensemble else 1
        return make_policy(self.spec, PolicyConfig(hidden_sizes=self.run_cfg.hidden_sizes,
                                                   ensemble_size=size))

    def on_weights(self, msg: UInt8MultiArray) -> None:
        """Check and build new weights off the control path."""
        data, fields = msg_to_bundle(msg)
        self._pending = self._pool.submit(unpack_bundle, data, fields, self.spec, 'cpu',
                                          ('policy',))

    def swap_if_ready(self) -> None:
        """Take finished new weights (a safe point: between two observations)."""
        if self._pending is None or not self._pending.done():
            return
        future, self._pending = self._pending, None
        try:
            policy = future.result()['policy'][0]
        except (CheckpointError, SpecMismatchError) as err:
            self.get_logger().error(f'refused new weights, keeping version '
                                    f'{self.policy.version}: {err}')
            return
        if policy.version < self.policy.version:
            self.get_logger().warning(f'ignored weights version {policy.version}, older than '
                                      f'{self.policy.version}')
            return
        self.policy = policy
        self.get_logger().info(f'now acting with policy version {policy.version}')

    def on_observation(self, msg: Float64MultiArray) -> None:
        """Answer one observation with the policy's action."""
        reply = self.respond(msg)
        if reply is not None:
            self.publish(reply)

    def respond(self, msg: Float64MultiArray) -> Float64MultiArray | None:
        """The action message answering an observation; None (logged) on bad input."""
        self.swap_if_ready()
        try:
            obs = read_vector(msg, self.spec.obs_dim, 'observation', now_s(self))
        except InputError as err:
            warn_bad_input(self, self.throttle, 'observation', err)
            return None
        action, doubt = self.policy.act_with_doubt(obs.values)
        action = np.asarray(action, dtype=np.float64)
        if not np.all(np.isfinite(action)):
            warn_bad_input(self, self.throttle, 'policy output',
                           InputError('the policy returned a non-finite action'))
            return None
        tags = {name: obs.tags[name] for name in ('seq', 'episode', 'step') if name in obs.tags}
        tags.update(version=self.policy.version, doubt=float(doubt))
        return tagged_msg(action, 'action', tags)

    def publish(self, reply: Float64MultiArray) -> None:
        """Send an action message, and its doubt when the policy has one."""
        self.action_pub.publish(reply)
        tags = msg_tags(reply)
        if np.isfinite(tags.get('doubt', float('nan'))):
            self.doubt_pub.publish(tagged_msg([tags['doubt']], 'doubt', tags))

    def shutdown(self) -> None:
        """Stop the weights worker."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def main(args: Any = None) -> int:
    """Console script ``policy_executor_node``."""
    return main_for(PolicyExecutor, args)


if __name__ == '__main__':
    raise SystemExit(main())
