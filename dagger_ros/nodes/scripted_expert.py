"""Scripted expert: a core expert (planner, controller or saved policy) on the loop's topics.

With ``answer_mode: always`` it answers every ``observation`` on ``expert/action`` (tagged with the
observation's seq); with ``on_query`` only the states the gate sends on ``expert/query``
(the answer carries the query's id). Queries are answered in both modes. An expert that fails
on a state logs it and stays silent: the gate's watchdog then commands the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.errors import ConfigError, DaggerError, InputError
from dagger_ros.core.evaluation import make_env
from dagger_ros.core.experts import make_expert
from dagger_ros.core.experts.policy_file import PolicyFileExpert
from dagger_ros.core.spec import EnvSpec
from dagger_ros.nodes.common import (
    main_for, now_s, read_vector, single_threaded_torch, Throttle, warn_bad_input)
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import tagged_msg
from dagger_ros.ros.params import declare_config

MODES = ('always', 'on_query')


@dataclass(frozen=True)
class ExpertConfig:
    """Parameters of the scripted expert node."""

    env_id: str = field(default='Pendulum-v1', metadata={
        'description': 'gymnasium env id whose scripted expert labels', 'read_only': True})
    answer_mode: str = field(default='always', metadata={
        'description': 'always: answer every observation; on_query: only expert/query',
        'read_only': True})
    policy_file: str = field(default='', metadata={
        'description': 'a saved policy checkpoint to use as the expert instead of the '
                       "task's scripted one", 'read_only': True})

    def __post_init__(self) -> None:
        if self.answer_mode not in MODES:
            raise ConfigError(f'answer_mode must be one of {MODES}, got {self.answer_mode!r}')


def build_expert(cfg: ExpertConfig) -> tuple[Any, EnvSpec]:
    """The expert and the spaces it labels for; ConfigError when there is none."""
    env = make_env(cfg.env_id)
    try:
        spec = EnvSpec.from_env(env, cfg.env_id)
    finally:
        env.close()
    try:
        if cfg.policy_file:
            return PolicyFileExpert(cfg.policy_file, expected_spec=spec), spec
        return make_expert(cfg.env_id), spec
    except DaggerError as err:
        raise ConfigError(f'no expert for {cfg.env_id}: {err}') from err


class ScriptedExpertNode(Node):
    """Labels observations with a scripted expert."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('scripted_expert', **kwargs)
        single_threaded_torch()
        self.cfg = declare_config(self, ExpertConfig)
        self.expert, self.spec = build_expert(self.cfg)
        self.throttle = Throttle()
        self.answered = 0
        self.action_pub = self.create_publisher(Float64MultiArray, topics.EXPERT_ACTION,
                                                qos.for_topic(topics.EXPERT_ACTION))
        self.query_answer_pub = self.create_publisher(Float64MultiArray, topics.EXPERT_ANSWER,
                                                      qos.for_topic(topics.EXPERT_ANSWER))
        self.observation_sub = None
        if self.cfg.answer_mode == 'always':
            self.observation_sub = self.create_subscription(
                Float64MultiArray, topics.OBSERVATION, self.on_observation,
                qos.for_topic(topics.OBSERVATION))
        self.create_subscription(Float64MultiArray, topics.EXPERT_QUERY, self.on_query,
                                 qos.for_topic(topics.EXPERT_QUERY))
        self.get_logger().info(f'{type(self.expert).__name__} labels {self.cfg.env_id} '
                               f'({self.cfg.answer_mode})')

    def label(self, msg: Float64MultiArray, what: str) -> tuple[np.ndarray, dict] | None:
        """The expert's action for a message's observation, or None (logged) on bad input."""
        try:
            obs = read_vector(msg, self.spec.obs_dim, what, now_s(self))
            return np.asarray(self.expert(obs.values), dtype=np.float64), obs.tags
        except InputError as err:
            warn_bad_input(self, self.throttle, what, err)
        except Exception as err:  # noqa: BLE001 - a failing expert must not kill the node
            warn_bad_input(self, self.throttle, 'expert failure', InputError(repr(err)))
        return None

    def on_observation(self, msg: Float64MultiArray) -> None:
        """Answer one observation (always mode)."""
        reply = self.respond(msg)
        if reply is not None:
            self.publish(reply)

    def respond(self, msg: Float64MultiArray) -> Float64MultiArray | None:
        """The expert's action message for an observation; None (logged) on bad input."""
        result = self.label(msg, 'observation')
        if result is None:
            return None
        action, tags = result
        keep = {name: tags[name] for name in ('seq', 'episode', 'step') if name in tags}
        return tagged_msg(action, 'action', keep)

    def publish(self, reply: Float64MultiArray) -> None:
        """Send an action message on expert/action."""
        self.action_pub.publish(reply)

    def on_query(self, msg: Float64MultiArray) -> None:
        """Answer one query; the answer carries the query's id."""
        result = self.label(msg, 'query')
        if result is not None and 'query' in result[1]:
            action, tags = result
            self.query_answer_pub.publish(tagged_msg(action, 'action', {'query': tags['query']}))
            self.answered += 1


def main(args: Any = None) -> int:
    """Console script ``scripted_expert_node``."""
    return main_for(ScriptedExpertNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
