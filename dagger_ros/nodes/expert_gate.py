"""Expert gate: the one place that decides who drives, and the safety layer around it.

Inputs: ``observation``, ``policy/action`` (executor), ``expert/action`` (expert, every step),
``expert/answer`` (answers to ``expert/query``), ``estop`` (std_msgs/Bool, latched) and
``policy/weights`` (the networks the rule consults). Outputs: ``command`` (the only topic the
robot listens to), ``gate/decision`` (who drove and why, per step), ``labels`` (what the trainer
stores), ``expert/query`` and ``gate/round`` (one summary per round). Every decision is
:class:`dagger_ros.core.live_gate.LiveGate`'s; this node keeps time and converts messages.

Lockstep mode decides as soon as the inputs for the current observation are in (matched by
seq) and, with ``sync_rounds``, holds between rounds until the new policy version is running,
as the offline loop does. Realtime mode decides at ``rate_hz`` with the freshest inputs; an
input older than ``safety.stale_timeout_s`` counts as silent, so a dead executor or expert
makes the command the fallback within two periods. The e-stop is latched: True zeroes the
command at once and until a False arrives.

In a composed process (``composed_node --inline``) the gate asks the executor and the expert
of its own process directly on each observation instead of waiting for their topics.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
import traceback
from typing import Any, Callable

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import Bool, Float64MultiArray, UInt8MultiArray

from dagger_ros.core.algorithms.config import RunConfig
from dagger_ros.core.bundle import unpack_bundle
from dagger_ros.core.checkpoint import warm_up
from dagger_ros.core.errors import CheckpointError, ConfigError, InputError, SpecMismatchError
from dagger_ros.core.human_input import JoyHuman
from dagger_ros.core.live_gate import (
    GateStep, LiveGate, PolicyInput, Query, QUERY_ALGORITHMS, RoundSummary)
from dagger_ros.core.safety import is_stale, SafetyConfig
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.core.wire import encode_sample, WireSample
from dagger_ros.nodes.common import (
    main_for, now_s, read_vector, single_threaded_torch, SpaceConfig, spec_from_config,
    Stamped, Throttle, warn_bad_input)
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import fields_to_msg, msg_to_bundle, tagged_msg
from dagger_ros.ros.params import declare_config

MODES = ('lockstep', 'realtime')
HUMAN_INPUTS = ('scripted', 'joy')


@dataclass(frozen=True)
class GateConfig:
    """Timing parameters of the gate node."""

    mode: str = field(default='lockstep', metadata=_meta(
        'lockstep: decide when the inputs for the current observation are in; realtime: '
        'decide at rate_hz with the freshest inputs'))
    rate_hz: float = field(default=50.0, metadata=_meta(
        'control rate (realtime) or watchdog check rate (lockstep)', 'Hz', 0.1, 10000.0))
    lockstep_timeout_s: float = field(default=2.0, metadata=_meta(
        'lockstep: command the fallback when an input for the observation is this late', 's',
        0.001))
    sync_rounds: bool = field(default=True, metadata=_meta(
        'lockstep: hold between rounds until the executor runs the new policy version'))
    sync_timeout_s: float = field(default=300.0, metadata=_meta(
        'give up waiting for the new version after this long', 's', 0.0))
    human_input: str = field(default='scripted', metadata=_meta(
        'hg_dagger: scripted (a stand-in that compares with the expert) or joy (a person: '
        'sensor_msgs/Joy on joy, mapped by the mapping.* parameters)'))
    joy_timeout_s: float = field(default=0.25, metadata=_meta(
        'a Joy state older than this releases the takeover', 's', 0.001))
    mapping_preset: str = field(default='', metadata=_meta(
        'gamepad preset of config/gamepads (xbox, ps4, generic) whose values replace the '
        'mapping.* defaults; mapping.* parameters set explicitly still win'))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {self.mode!r}')
        if self.human_input not in HUMAN_INPUTS:
            raise ConfigError(f'human_input must be one of {HUMAN_INPUTS}, got '
                              f'{self.human_input!r}')


def _finite(metrics: dict[str, float]) -> list[tuple[str, float]]:
    return [(name, float(value)) for name, value in metrics.items() if np.isfinite(value)]


def with_preset(mapping: Any, preset: str) -> Any:
    """mapping with the preset's values wherever it still holds the dataclass default."""
    if not preset:
        return mapping
    import dataclasses

    from dagger_ros.core.joy_mapping import JoyMapping, load_preset
    default = JoyMapping()
    values = {name: value for name, value in load_preset(preset).items()
              if getattr(mapping, name) == getattr(default, name)}
    return dataclasses.replace(mapping, **values)


def round_msg(summary: RoundSummary) -> Float64MultiArray:
    """A round summary as named fields."""
    values = [('round', summary.round), ('steps', summary.steps), ('labels', summary.labels),
              ('expert_steps', summary.expert_steps), ('fallback_steps', summary.fallback_steps),
              ('switches', summary.switches), ('policy_version', summary.policy_version),
              ('queries', summary.queries)]
    values += _finite(summary.metrics)
    return fields_to_msg([v for _, v in values], [(name, 1) for name, _ in values])


def decision_msg(step: GateStep, seq: float, round_index: int) -> Float64MultiArray:
    """One step's decision: who drove (Source value), labeled or not, seq, round; the reason."""
    values = [float(step.actor), float(step.label is not None), seq, float(round_index)]
    fields = [('actor', 1), ('labeled', 1), ('seq', 1), ('round', 1), (f'reason:{step.reason}', 0)]
    return fields_to_msg(values, fields)


def label_msg(sample: WireSample) -> Float64MultiArray:
    """A labeled sample for the trainer."""
    vector, fields = encode_sample(sample)
    return fields_to_msg(vector, fields)


class ExpertGate(Node):
    """Decides who drives each control step and publishes the one safe command."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('expert_gate', **kwargs)
        single_threaded_torch()
        self.run_cfg = declare_config(self, RunConfig)
        self.spec = spec_from_config(self.run_cfg.env_id, declare_config(self, SpaceConfig))
        self.cfg = declare_config(self, GateConfig)
        self.safety = declare_config(self, SafetyConfig, 'safety')
        self.estop_button = -1
        self.human = self.make_human()
        self.human_held = False
        self.gate = LiveGate(self.run_cfg, self.spec, self.safety, human=self.human)
        self.throttle = Throttle()
        self.obs: Stamped | None = None
        self.policy: Stamped | None = None
        self.expert: Stamped | None = None
        self.estopped = False
        self.decided_seq: float | None = None
        self.last_command = self.gate.fallback(now_s(self), False)
        self.round_ended_s: float | None = None
        self.round_end_version = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._weights: concurrent.futures.Future | None = None
        warm_up()
        self.inline: list[tuple[Any, Callable[[Float64MultiArray], None]]] = []
        self._make_publishers()
        self._make_subscriptions()
        self.timer = self.create_timer(1.0 / self.cfg.rate_hz, self.on_timer)
        self.silent_since_decision = False
        if self.cfg.mode == 'realtime':
            self.watchdog = self.create_timer(0.25 / self.cfg.rate_hz, self.on_watchdog)
        self.get_logger().info(f'{self.run_cfg.algorithm} gate, {self.cfg.mode} mode, '
                               f'round 0: {self.run_cfg.demo_steps} demonstration steps')

    def make_human(self) -> JoyHuman | None:
        """A person on a gamepad when human_input is joy (hg_dagger), else None."""
        if self.cfg.human_input != 'joy' or self.run_cfg.algorithm in QUERY_ALGORITHMS:
            return None  # budgeted/async: the person answers queries in the live view
        if self.run_cfg.algorithm != 'hg_dagger':
            raise ConfigError(f'human_input joy needs algorithm hg_dagger (a takeover), or '
                              f'budgeted/async (queries), got {self.run_cfg.algorithm!r}')
        from dagger_ros.core.joy_mapping import joy_to_action, JoyMapping, Takeover
        mapping = with_preset(declare_config(self, JoyMapping, 'mapping'),
                              self.cfg.mapping_preset)
        if len(mapping.axes) != self.spec.act_dim:
            raise ConfigError(f'mapping.axes has {len(mapping.axes)} entries, expected one per '
                              f'action dimension ({self.spec.act_dim})')
        low, high = self.spec.low, self.spec.high
        self.estop_button = mapping.estop_button
        return JoyHuman(lambda axes: joy_to_action(axes, mapping, low, high), Takeover(mapping),
                        self.cfg.joy_timeout_s)

    def _make_publishers(self) -> None:
        def pub(msg_type: Any, topic: str) -> Any:
            return self.create_publisher(msg_type, topic, qos.for_topic(topic))
        self.command_pub = pub(Float64MultiArray, topics.COMMAND)
        self.decision_pub = pub(Float64MultiArray, topics.GATE_DECISION)
        self.label_pub = pub(Float64MultiArray, topics.LABELS)
        self.query_pub = pub(Float64MultiArray, topics.EXPERT_QUERY)
        self.round_pub = pub(Float64MultiArray, topics.GATE_ROUND)

    def _make_subscriptions(self) -> None:
        def sub(msg_type: Any, topic: str, callback: Any) -> None:
            self.create_subscription(msg_type, topic, callback, qos.for_topic(topic))
        sub(Float64MultiArray, topics.OBSERVATION, self.on_observation)
        sub(Float64MultiArray, topics.POLICY_ACTION, self.on_policy)
        sub(Float64MultiArray, topics.EXPERT_ACTION, self.on_expert)
        sub(Float64MultiArray, topics.EXPERT_ANSWER, self.on_answer)
        sub(Bool, topics.ESTOP, self.on_estop)
        sub(UInt8MultiArray, topics.WEIGHTS, self.on_weights)
        if self.human is not None:
            sub(Joy, topics.JOY, self.on_joy)

    # -- inputs ------------------------------------------------------------------------------
    def _read(self, msg: Float64MultiArray, dim: int, what: str) -> Stamped | None:
        try:
            return read_vector(msg, dim, what, now_s(self))
        except InputError as err:
            warn_bad_input(self, self.throttle, what, err)
            return None

    def on_observation(self, msg: Float64MultiArray) -> None:
        """A new (or re-sent) observation."""
        obs = self._read(msg, self.spec.obs_dim, 'observation')
        if obs is None:
            return
        self.obs = obs
        if self.cfg.mode == 'lockstep' and 'seq' not in obs.tags:
            warn_bad_input(self, self.throttle, 'observation', InputError(
                'lockstep needs the seq tag the sim bridge adds; a robot runs with mode '
                'realtime'))
            return
        if self.cfg.mode == 'lockstep' and obs.tag('seq') == self.decided_seq:
            self._publish_command(self.last_command, obs.tag('seq'))  # re-sent: same answer
            return
        self.ask_inline(msg)
        self.try_decide()

    def link_inline(self, policy: Any = None, expert: Any = None) -> None:
        """Ask these nodes of the same process directly on every observation, not over DDS.

        Each has ``respond(msg)`` (the answer message or None) and ``publish(reply)``. The
        command goes out first; their answers are published after it, for other listeners.
        """
        self.inline = [(node, handler) for node, handler in
                       ((policy, self.on_policy), (expert, self.on_expert)) if node is not None]

    def ask_inline(self, msg: Float64MultiArray) -> None:
        """Get the linked nodes' answers to an observation, decide, then publish them."""
        replies = []
        for node, handler in self.inline:
            try:
                reply = node.respond(msg)
            except Exception as err:  # noqa: BLE001 - a missing input becomes the fallback
                warn_bad_input(self, self.throttle, f'{node.get_name()} failure',
                               InputError(repr(err)))
                continue
            if reply is not None:
                handler(reply)
                replies.append((node, reply))
        for node, reply in replies:
            node.publish(reply)

    def on_policy(self, msg: Float64MultiArray) -> None:
        """The executor's action for some observation."""
        policy = self._read(msg, self.spec.act_dim, 'policy action')
        if policy is not None:
            self.policy = policy
            self.try_decide()

    def on_expert(self, msg: Float64MultiArray) -> None:
        """The expert's action for some observation."""
        expert = self._read(msg, self.spec.act_dim, 'expert action')
        if expert is not None:
            self.expert = expert
            self.try_decide()

    def on_answer(self, msg: Float64MultiArray) -> None:
        """The expert's label of a queried state."""
        answer = self._read(msg, self.spec.act_dim, 'expert answer')
        if answer is None or 'query' not in answer.tags:
            return
        sample = self.gate.answer(int(answer.tags['query']), answer.values, now_s(self))
        if sample is not None:
            self.label_pub.publish(label_msg(sample))

    def on_joy(self, msg: Joy) -> None:
        """The person's gamepad state: a takeover or release acts at once, not a period later."""
        axes = [float(a) if np.isfinite(a) else 0.0 for a in msg.axes]
        buttons = list(msg.buttons)
        if self.estop_button >= 0 and self.estop_button < len(buttons) and buttons[
                self.estop_button]:
            self.on_estop(Bool(data=True))
        held = self.human.update(axes, buttons, now_s(self))
        if held != self.human_held:
            self.get_logger().info('human takeover' if held else 'human released')
            self.human_held = held
            if self.cfg.mode == 'realtime':
                self.decide()

    def on_estop(self, msg: Bool) -> None:
        """Latch or release the e-stop; engaging it commands zero at once."""
        if bool(msg.data) != self.estopped:
            self.get_logger().warning('E-STOP engaged' if msg.data else 'e-stop released')
        self.estopped = bool(msg.data)
        if self.estopped:
            self.last_command = self.gate.fallback(now_s(self), True)
            self._publish_command(self.last_command, -1.0)

    def on_weights(self, msg: UInt8MultiArray) -> None:
        """Load the networks the rule consults, off the control path."""
        data, fields = msg_to_bundle(msg)
        self._weights = self._pool.submit(unpack_bundle, data, fields, self.spec)

    def _take_weights(self) -> None:
        if self._weights is None or not self._weights.done():
            return
        future, self._weights = self._weights, None
        try:
            parts = future.result()
        except (CheckpointError, SpecMismatchError) as err:
            self.get_logger().error(f'refused new weights: {err}')
            return
        learner = self.gate.learner
        learner.policy = parts['policy'][0]
        if 'safety' in parts and learner.safety is not None:
            learner.safety = parts['safety'][0]
            learner.safety_trained = True

    # -- deciding ----------------------------------------------------------------------------
    def _fresh(self, item: Stamped | None, seq: float | None) -> Stamped | None:
        """item when it answers this observation (lockstep) or is recent enough (realtime)."""
        if item is None:
            return None
        if self.cfg.mode == 'lockstep':
            return item if seq is not None and item.tag('seq') == seq else None
        stale = is_stale(now_s(self), item.received_s, self.safety.stale_timeout_s)
        return None if stale else item

    def _inputs_ready(self, seq: float) -> bool:
        needs_policy = self.gate.needs_policy and self._fresh(self.policy, seq) is None
        needs_expert = self.gate.needs_expert and self._fresh(self.expert, seq) is None
        return not (needs_policy or needs_expert)

    def try_decide(self) -> None:
        """Lockstep: decide the current observation once every input for it is in."""
        if self.cfg.mode != 'lockstep' or self.obs is None:
            return
        seq = self.obs.tag('seq')
        if seq == self.decided_seq or self.holding_for_round():
            return
        if self._inputs_ready(seq):
            self.decide()

    def on_timer(self) -> None:
        """Realtime: decide every period. Lockstep: the watchdog for late inputs."""
        self._take_weights()
        if self.cfg.mode == 'realtime':
            self.holding_for_round()
            self.decide()
            return
        if self.obs is None or self.obs.tag('seq') == self.decided_seq:
            return
        if self.holding_for_round():
            return
        if self._inputs_ready(self.obs.tag('seq')):
            self.decide()
        elif now_s(self) - self.obs.received_s > self.cfg.lockstep_timeout_s:
            self.decide()  # whatever is missing becomes the fallback

    def silent_input(self) -> str:
        """Realtime: which needed input went silent ('' when none did)."""
        now = now_s(self)
        timeout = self.safety.stale_timeout_s
        if self.obs is None or is_stale(now, self.obs.received_s, timeout):
            return 'observation_silent'
        if self.gate.needs_policy and self._fresh(self.policy, None) is None:
            return 'policy_silent'
        if self.gate.needs_expert and self._fresh(self.expert, None) is None:
            return 'expert_silent'
        return ''

    def on_watchdog(self) -> None:
        """Realtime, four times per period: command the fallback as soon as an input dies.

        With stale_timeout_s = 1.5 periods the fallback goes out at most 1.75 periods after the
        last message of a silent input, inside the two-period bound, instead of at the next
        control tick.
        """
        reason = self.silent_input()
        if not reason or self.silent_since_decision:
            return
        self.silent_since_decision = True
        self.last_command = self.gate.fallback(now_s(self), self.estopped)
        self._publish_command(self.last_command, -1.0)
        values = [0.0, 0.0, -1.0, float(self.gate.round_index)]
        fields = [('actor', 1), ('labeled', 1), ('seq', 1), ('round', 1), (f'reason:{reason}', 0)]
        self.decision_pub.publish(fields_to_msg(values, fields))

    def holding_for_round(self) -> bool:
        """Between rounds: start the next one now, or (lockstep sync) once its policy runs."""
        if not self.gate.awaiting_round:
            return False
        if self.cfg.mode == 'lockstep' and self.cfg.sync_rounds:
            self._take_weights()
            waited = now_s(self) - (self.round_ended_s or now_s(self))
            policy_version = self.policy.tag('version', 0) if self.policy else 0
            ready = (self.gate.learner.version > self.round_end_version
                     and policy_version > self.round_end_version)
            if not ready and waited < self.cfg.sync_timeout_s:
                return True
            if not ready:
                self.get_logger().warning('no new policy version after the round; going on')
        self.gate.begin_round()
        self.get_logger().info(f'round {self.gate.round_index} starts')
        return False

    def decide(self) -> None:
        """One control step; a fault in it commands the fallback instead of ending the node."""
        try:
            self._decide()
        except Exception:  # noqa: BLE001 - the control loop must keep commanding safely
            self.get_logger().error(f'gate step failed; commanding the fallback:\n'
                                    f'{traceback.format_exc()}')
            self.last_command = self.gate.fallback(now_s(self), self.estopped)
            self._publish_command(self.last_command, -1.0)

    def _decide(self) -> None:
        obs = self.obs
        now = now_s(self)
        if obs is None or (self.cfg.mode == 'realtime' and is_stale(
                now, obs.received_s, self.safety.stale_timeout_s)):
            self.last_command = self.gate.fallback(now, self.estopped)
            self._publish_command(self.last_command, -1.0)
            return
        seq = obs.tag('seq')
        policy = self._fresh(self.policy, seq if self.cfg.mode == 'lockstep' else None)
        expert = self._fresh(self.expert, seq if self.cfg.mode == 'lockstep' else None)
        if self.human is not None:
            self.human.set_time(now)
        policy_input = None if policy is None else PolicyInput(
            policy.values, policy.tag('doubt', float('nan')), int(policy.tag('version', 0)))
        step = self.gate.step(obs.values, int(obs.tag('episode', 0)), int(obs.tag('step', 0)),
                              policy_input, None if expert is None else expert.values, now,
                              self.estopped)
        self.decided_seq = seq
        self.silent_since_decision = step.actor == 0
        self.last_command = step.command
        self._publish_command(step.command, seq)
        self._publish_step(step, seq)

    def _publish_command(self, command: np.ndarray, seq: float) -> None:
        tags = {} if seq < 0 else {'seq': seq}
        self.command_pub.publish(tagged_msg(command, 'command', tags))

    def _publish_step(self, step: GateStep, seq: float) -> None:
        round_index = self.gate.round_index - (step.round_end is not None)
        self.decision_pub.publish(decision_msg(step, seq, round_index))
        for sample in (step.late_label, step.label):
            if sample is not None:
                self.label_pub.publish(label_msg(sample))
        for query in step.queries:
            self._publish_query(query)
        if step.round_end is not None:
            self._end_round(step.round_end)

    def _publish_query(self, query: Query) -> None:
        self.query_pub.publish(tagged_msg(query.obs, 'observation', {'query': query.query_id}))

    def _end_round(self, summary: RoundSummary) -> None:
        self.round_pub.publish(round_msg(summary))
        self.round_ended_s = now_s(self)
        self.round_end_version = max(self.gate.learner.version, summary.policy_version)
        self.get_logger().info(
            f'round {summary.round} done: {summary.steps} steps, {summary.labels} labels, '
            f'expert drove {summary.expert_share:.0%}, {summary.switches} switches, '
            f'{summary.fallback_steps} fallback steps'
            + ''.join(f', {name} {value:.4g}' for name, value in _finite(summary.metrics)))

    def shutdown(self) -> None:
        """Leave the robot with one safe command."""
        command = self.gate.fallback(now_s(self), True)
        self._publish_command(command, -1.0)
        self._pool.shutdown(wait=False, cancel_futures=True)


def main(args: Any = None) -> int:
    """Console script ``expert_gate_node``."""
    return main_for(ExpertGate, args)


if __name__ == '__main__':
    raise SystemExit(main())
