"""Sim bridge: a gymnasium env as a robot on the loop's topics.

Publishes ``observation`` (tagged with seq, episode and step), ``reward`` and ``episode`` events,
and applies ``command``. Lockstep mode steps when the command for the current observation
arrives (matched by its seq tag), so runs are deterministic whatever the machine's load; it
re-sends the observation every ``resend_s`` until then, since observations travel best-effort.
Real-time mode steps at ``rate_hz`` with the newest command, like hardware; a command older
than ``command_timeout_s`` is replaced by zero (clipped into the bounds). With
``publish_clock`` the bridge publishes /clock in simulated time (one step = 1/rate_hz s).

Every ``timing_period_s`` it reports on ``loop_timing`` what the robot side of the loop sees:
each observation's round trip to the first command tagged with its seq and, in real-time mode,
the ticks whose command had not come back in time (missed deadlines; logged as a warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import time
from typing import Any

from builtin_interfaces.msg import Time
import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.loop_timing import RoundTrips, TimingReport
from dagger_ros.core.safety import is_stale
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.core.sim import SimStep, SimStepper
from dagger_ros.nodes.common import (
    main_for, now_s, read_vector, single_threaded_torch, Stamped, Throttle, warn_bad_input)
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import fields_to_msg, msg_to_fields, s_to_stamp, tagged_msg
from dagger_ros.ros.params import declare_config

MODES = ('lockstep', 'realtime')


@dataclass(frozen=True)
class SimBridgeConfig:
    """Parameters of the sim bridge node."""

    env_id: str = field(default='Pendulum-v1', metadata=_meta('gymnasium env id to simulate'))
    seed: int = field(default=0, metadata=_meta('seed of the episode resets', '', 0))
    max_episode_steps: int = field(default=0, metadata=_meta(
        'episode cut-off; 0 keeps the env default', 'steps', 0))
    mode: str = field(default='lockstep', metadata=_meta(
        'lockstep: step when the command for the current observation arrives; realtime: step '
        'at rate_hz with the newest command'))
    rate_hz: float = field(default=50.0, metadata=_meta(
        'control rate in realtime mode; sim time per step in both modes', 'Hz', 0.1, 10000.0))
    resend_s: float = field(default=0.1, metadata=_meta(
        'lockstep: re-send the observation when no command came for this long', 's',
        0.001, 60.0))
    command_timeout_s: float = field(default=0.1, metadata=_meta(
        'realtime: a command older than this is replaced by zero', 's', 0.0))
    publish_clock: bool = field(default=False, metadata=_meta(
        'publish /clock in simulated time (for nodes with use_sim_time)'))
    render_hz: float = field(default=0.0, metadata=_meta(
        'publish the rendered frame (sensor_msgs/Image, rgb8) on image at this rate; 0: never',
        'Hz', 0.0, 60.0))
    timing_period_s: float = field(default=1.0, metadata=_meta(
        'report round trips and missed deadlines on loop_timing this often; 0: never', 's',
        0.0))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f'mode must be one of {MODES}, got {self.mode!r}')


class SimBridge(Node):
    """Steps a gymnasium env from command messages and publishes what it observes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('sim_bridge', **kwargs)
        single_threaded_torch()
        self.cfg = declare_config(self, SimBridgeConfig)
        self.sim = SimStepper(self.cfg.env_id, self.cfg.seed, self.cfg.max_episode_steps,
                              render=self.cfg.render_hz > 0)
        self.spec = self.sim.spec
        self.seq = 0
        self.command: Stamped | None = None
        self.throttle = Throttle()
        self._sent_s = 0.0
        self.obs_pub = self.create_publisher(Float64MultiArray, topics.OBSERVATION,
                                             qos.for_topic(topics.OBSERVATION))
        self.reward_pub = self.create_publisher(Float64MultiArray, topics.REWARD,
                                                qos.for_topic(topics.REWARD))
        self.episode_pub = self.create_publisher(Float64MultiArray, topics.EPISODE,
                                                 qos.for_topic(topics.EPISODE))
        self.clock_pub = (self.create_publisher(Clock, topics.CLOCK, qos.for_topic(topics.CLOCK))
                          if self.cfg.publish_clock else None)
        self.create_subscription(Float64MultiArray, topics.COMMAND, self.on_command,
                                 qos.for_topic(topics.COMMAND))
        self.timing = RoundTrips()
        self.timing_pub = self.create_publisher(Float64MultiArray, topics.LOOP_TIMING,
                                                qos.for_topic(topics.LOOP_TIMING))
        if self.cfg.timing_period_s > 0:
            self.timing_timer = self.create_timer(self.cfg.timing_period_s, self.report_timing)
        period = (self.cfg.resend_s if self.cfg.mode == 'lockstep'
                  else 1.0 / self.cfg.rate_hz)
        self.timer = self.create_timer(period, self.on_timer)
        if self.cfg.render_hz > 0:
            self.image_pub = self.create_publisher(Image, 'image', qos.SENSOR)
            self.render_timer = self.create_timer(1.0 / self.cfg.render_hz, self.publish_frame)
        self.get_logger().info(
            f'{self.cfg.env_id} in {self.cfg.mode} mode: obs {self.spec.obs_dim}, action '
            f'{self.spec.act_dim} in [{self.spec.act_low}, {self.spec.act_high}]')
        self.publish_observation()

    def on_command(self, msg: Float64MultiArray) -> None:
        """Keep a valid command; in lockstep, step when it answers the current observation."""
        try:
            command = read_vector(msg, self.spec.act_dim, 'command', now_s(self))
        except InputError as err:
            warn_bad_input(self, self.throttle, 'command', err)
            return
        self.command = command
        seq = command_seq(command.tag('seq'))
        if seq is not None:
            self.timing.answered(seq, time.monotonic())
        if self.cfg.mode == 'lockstep' and seq == self.seq:
            self.advance(command.values)

    def on_timer(self) -> None:
        """Realtime: one step with the newest command. Lockstep: re-send a waiting observation."""
        if self.cfg.mode == 'realtime':
            self.timing.tick(self.seq)
            self.advance(self.realtime_action())
        elif now_s(self) - self._sent_s >= self.cfg.resend_s * 0.99:
            self.publish_observation()

    def realtime_action(self) -> np.ndarray:
        """The newest command, or zero (clipped into bounds) when it is missing or stale."""
        fresh = self.command is not None and not is_stale(
            now_s(self), self.command.received_s, self.cfg.command_timeout_s)
        if fresh:
            return self.command.values
        return self.spec.clip_action(np.zeros(self.spec.act_dim))

    def advance(self, action: np.ndarray) -> None:
        """Step the env, publish reward (and the episode's end), then the next observation."""
        result = self.sim.step(action)
        self.reward_pub.publish(tagged_msg([result.reward], 'reward', {'seq': self.seq}))
        if result.done:
            self.publish_episode_end(result)
            self.sim.reset()
        self.seq += 1
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=self.sim_time()))
        self.publish_observation()

    def sim_time(self) -> Time:
        """Simulated time of the current step."""
        return s_to_stamp(self.seq / self.cfg.rate_hz)

    def publish_observation(self) -> None:
        """Publish the current observation with its seq, episode and step tags."""
        tags = {'seq': self.seq, 'episode': self.sim.episode, 'step': self.sim.step_index}
        self.obs_pub.publish(tagged_msg(self.sim.obs, 'observation', tags))
        self.timing.sent(self.seq, time.monotonic())
        self._sent_s = now_s(self)

    def report_timing(self) -> None:
        """Publish the round trips and deadlines since the last report; warn about misses."""
        report = self.timing.report()
        self.timing_pub.publish(timing_msg(report))
        if report.missed:
            self.get_logger().warning(
                f'{report.missed} of {report.ticks} commands late in the last '
                f'{self.cfg.timing_period_s:g} s; round trip p50 {report.percentile_ms(50):.2f} '
                f'ms, p99 {report.percentile_ms(99):.2f} ms')

    def publish_episode_end(self, result: SimStep) -> None:
        """One event per finished episode: its index, length, return, and whether it failed."""
        values = [result.episode, result.step, result.episode_return, float(result.terminated)]
        fields = [('episode', 1), ('steps', 1), ('return', 1), ('terminated', 1)]
        self.episode_pub.publish(fields_to_msg(values, fields))
        self.get_logger().debug(f'episode {result.episode}: return {result.episode_return:.1f}')

    def publish_frame(self) -> None:
        """The current frame, for a live view (a few per second, off the step path)."""
        frame = self.sim.frame()
        if frame is None:
            return
        msg = Image(height=frame.shape[0], width=frame.shape[1], encoding='rgb8',
                    step=frame.shape[1] * 3)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.data = frame.tobytes()
        self.image_pub.publish(msg)

    def shutdown(self) -> None:
        """Close the simulation."""
        self.sim.close()


def command_seq(value: float) -> int | None:
    """The seq a command answers, None when it carries none (or a malformed one)."""
    if not math.isfinite(value) or value < 0 or value != int(value):
        return None
    return int(value)


def timing_msg(report: TimingReport) -> Float64MultiArray:
    """A report as labelled fields: ticks, missed, then each round trip in ms."""
    values = [report.ticks, report.missed, *(1e3 * rt for rt in report.round_trips_s)]
    return fields_to_msg(values, [('ticks', 1), ('missed', 1),
                                  ('round_trip_ms', len(report.round_trips_s))])


def read_timing_msg(msg: Float64MultiArray) -> TimingReport:
    """Inverse of :func:`timing_msg`; raises InputError for a message of other fields."""
    values, fields = msg_to_fields(msg, 'loop timing')
    if [name for name, _ in fields] != ['ticks', 'missed', 'round_trip_ms']:
        raise InputError(f'loop timing has fields {fields}, expected ticks, missed, '
                         f'round_trip_ms')
    return TimingReport(tuple(values[2:] / 1e3), int(values[0]), int(values[1]))


def main(args: Any = None) -> int:
    """Console script ``sim_bridge_node``."""
    return main_for(SimBridge, args)


if __name__ == '__main__':
    raise SystemExit(main())
