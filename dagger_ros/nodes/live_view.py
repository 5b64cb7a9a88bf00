"""Live view: a pygame window for the person in the loop, and their keyboard as a gamepad.

Shows the simulation's frame (``image``, from the sim bridge's ``render_hz``) or, for a real
robot, a bar plot of the observation; who drives (policy, expert, human, or the fallback) and
why; the policy's doubt against the gate's threshold; interventions, labels and the label
budget; the episode's return and the policy version. It draws a few times per second, off the
control path; headless runs simply leave it out.

Keyboard fallback, read from this window (not global key hooks, which fail over SSH and on
Wayland): hold Space to take over, arrows move the left stick, W/S the right stick's vertical
axis; Enter, Backspace and Tab are A, B and Start. The keys are published as
``sensor_msgs/Joy`` on ``joy`` with SDL game-controller indices, exactly like the gamepad node,
so the gate cannot tell them apart; while no key is down the keyboard is silent and a gamepad
on the same topic keeps the say.

With ``requests`` set, the label queries of budgeted and asynchronous runs come here instead of
to a scripted expert: one at a time, in a simulation restored to the queried state (where the
observation determines it; a plot of the observation otherwise), answered with the stick and A
(or skipped with B), ``requests_per_sitting`` at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, Joy
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.errors import InputError
from dagger_ros.core.human_input import LabelRequests
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.core.types import Source
from dagger_ros.nodes.common import main_for
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import msg_to_array, msg_to_fields
from dagger_ros.ros.params import declare_config

DRIVER_COLOURS = {Source.POLICY: (40, 110, 220), Source.EXPERT: (230, 140, 30),
                  Source.HUMAN: (40, 170, 70), Source.NONE: (200, 40, 40)}
"""Banner colour of each driver (the fallback or e-stop is red)."""
REQUEST_COLOUR = (130, 60, 170)
"""Banner colour while a label request is on screen."""
DRIVER_NAMES = {Source.POLICY: 'POLICY', Source.EXPERT: 'EXPERT', Source.HUMAN: 'HUMAN',
                Source.NONE: 'FALLBACK'}
AXES = 6
BUTTONS = 12


@dataclass(frozen=True)
class LiveViewConfig:
    """Parameters of the live view."""

    width: int = field(default=900, metadata=_meta('window width', 'px', 320, 4096))
    height: int = field(default=560, metadata=_meta('window height', 'px', 240, 4096))
    fps: float = field(default=15.0, metadata=_meta('redraws per second', 'Hz', 1.0, 60.0))
    keyboard: bool = field(default=True, metadata=_meta(
        'publish the keyboard as sensor_msgs/Joy on joy (Space: takeover, arrows: stick)'))
    takeover_button: int = field(default=9, metadata=_meta(
        'Joy button index Space presses (the gate mapping takeover button)', '', 0, BUTTONS - 1))
    query_budget: int = field(default=0, metadata=_meta(
        'the label budget per round (the shared query_budget setting), shown against '
        'the labels given; 0: no budget', '', 0))
    env_id: str = field(default='Pendulum-v1', metadata=_meta(
        'gymnasium env id, to show label requests in a simulation restored to their state'))
    requests: bool = field(default=False, metadata=_meta(
        'answer the label queries of budgeted/async runs here, as a person, with the gamepad'))
    requests_per_sitting: int = field(default=20, metadata=_meta(
        'label requests shown before a break (Start begins the next sitting)', '', 1))
    answer_button: int = field(default=0, metadata=_meta('Joy button that answers (A)', '', 0))
    skip_button: int = field(default=1, metadata=_meta('Joy button that skips (B)', '', 0))
    sitting_button: int = field(default=6, metadata=_meta(
        'Joy button that starts a new sitting (Start)', '', 0))


@dataclass
class ViewState:
    """What the window shows; filled by the subscriptions, read by draw()."""

    actor: Source = Source.NONE
    reason: str = 'waiting for the gate'
    round: int = 0
    doubt: float = float('nan')
    doubt_threshold: float = float('nan')
    labels: int = 0
    round_labels: int = 0
    interventions: int = 0
    episode_return: float = 0.0
    last_return: float = float('nan')
    policy_version: int = 0
    frame: np.ndarray | None = None
    observation: np.ndarray | None = None

    def on_decision(self, values: dict[str, float], reason: str) -> None:
        """One gate decision."""
        actor = Source(int(values.get('actor', 0)))
        if actor == Source.HUMAN and self.actor != Source.HUMAN:
            self.interventions += 1
        round_index = int(values.get('round', self.round))
        if round_index != self.round:
            self.round, self.round_labels = round_index, 0
        labeled = int(values.get('labeled', 0))
        self.labels += labeled
        self.round_labels += labeled
        self.actor, self.reason = actor, reason


def reason_of(msg: Float64MultiArray) -> str:
    """The ``reason:<word>`` of a decision message."""
    return next((dim.label.split(':', 1)[1] for dim in msg.layout.dim
                 if dim.label.startswith('reason:')), '')


def key_joy(pressed: Any, keys: Any, takeover_button: int) -> tuple[list[float], list[int]]:
    """Axes and buttons of the virtual pad the keyboard makes (SDL game-controller layout)."""
    axes = [0.0] * AXES
    # the joy node's signs: a stick pushed left or up is positive
    axes[0] = float(pressed[keys.K_LEFT]) - float(pressed[keys.K_RIGHT])
    axes[1] = float(pressed[keys.K_UP]) - float(pressed[keys.K_DOWN])
    axes[3] = float(pressed[keys.K_w]) - float(pressed[keys.K_s])
    buttons = [0] * BUTTONS
    for key, index in ((keys.K_RETURN, 0), (keys.K_BACKSPACE, 1), (keys.K_TAB, 6)):
        buttons[index] = int(bool(pressed[key]))  # A, B and Start: label requests
    buttons[takeover_button] = int(bool(pressed[keys.K_SPACE]))
    return axes, buttons


class LiveView(Node):
    """The window, its subscriptions and the keyboard's Joy."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('live_view', **kwargs)
        self.cfg = declare_config(self, LiveViewConfig)
        self.state = ViewState()
        self._keys_active = False
        import pygame
        self.pygame = pygame
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode((self.cfg.width, self.cfg.height))
        pygame.display.set_caption('dagger_ros live view')
        self.font = pygame.font.Font(None, 26)
        self.big = pygame.font.Font(None, 48)
        self.joy_pub = (self.create_publisher(Joy, topics.JOY, qos.for_topic(topics.JOY))
                        if self.cfg.keyboard else None)
        self._subscribe()
        self.requests = self._make_requests() if self.cfg.requests else None
        self.timer = self.create_timer(1.0 / self.cfg.fps, self.on_frame)
        self.get_logger().info(f'live view on {os.environ.get("DISPLAY", "SDL default")}; '
                               f'Space: take over, arrows: drive')

    def _subscribe(self) -> None:
        def sub(msg_type: Any, topic: str, callback: Any, profile: Any = None) -> None:
            self.create_subscription(msg_type, topic, callback,
                                     profile or qos.for_topic(topic))
        sub(Float64MultiArray, topics.GATE_DECISION, self.on_decision)
        sub(Float64MultiArray, topics.POLICY_DOUBT, self.on_doubt)
        sub(Float64MultiArray, topics.GATE_ROUND, self.on_round)
        sub(Float64MultiArray, topics.TRAINER_PROGRESS, self.on_progress)
        sub(Float64MultiArray, topics.REWARD, self.on_reward)
        sub(Float64MultiArray, topics.EPISODE, self.on_episode)
        sub(Float64MultiArray, topics.OBSERVATION, self.on_observation)
        sub(Image, 'image', self.on_image, qos.SENSOR)

    def _make_requests(self) -> LabelRequests:
        """Label requests answered here: queue, the gamepad mapping, a sim to restore."""
        from dagger_ros.core.evaluation import make_env
        from dagger_ros.core.joy_mapping import joy_to_action, JoyMapping
        from dagger_ros.core.restore import can_restore
        from dagger_ros.core.spec import EnvSpec
        mapping = declare_config(self, JoyMapping, 'mapping')
        self.request_env = make_env(self.cfg.env_id, render_mode='rgb_array')
        spec = EnvSpec.from_env(self.request_env, self.cfg.env_id)
        self.restorable = can_restore(self.request_env)
        self.request_env.reset(seed=0)
        self.to_action = lambda axes: joy_to_action(axes, mapping, spec.low, spec.high)
        self.joy_axes: list[float] = []
        self.shown_query: int | None = None
        self.answer_pub = self.create_publisher(Float64MultiArray, topics.EXPERT_ANSWER,
                                                qos.for_topic(topics.EXPERT_ANSWER))
        self.create_subscription(Float64MultiArray, topics.EXPERT_QUERY, self.on_query,
                                 qos.for_topic(topics.EXPERT_QUERY))
        self.create_subscription(Joy, topics.JOY, self.on_joy, qos.for_topic(topics.JOY))
        return LabelRequests(self.cfg.requests_per_sitting, self.cfg.answer_button,
                             self.cfg.skip_button, self.cfg.sitting_button)

    def on_query(self, msg: Float64MultiArray) -> None:
        """A state the gate wants labeled: queue it for the person."""
        from dagger_ros.ros.conversions import msg_tags
        tags = msg_tags(msg)
        try:
            obs = msg_to_array(msg, None, 'query')
        except InputError:
            return
        if 'query' in tags:
            self.requests.add(int(tags['query']), obs)

    def on_joy(self, msg: Joy) -> None:
        """The person's pad: the stick is the label, buttons answer, skip or start a sitting."""
        self.joy_axes = [float(a) if np.isfinite(a) else 0.0 for a in msg.axes]
        current = self.requests.current
        done = self.requests.act(self.requests.pressed(list(msg.buttons)))
        if done is None or current is None:
            return
        query_id, how = done
        if how == 'answer':
            from dagger_ros.ros.conversions import tagged_msg
            self.answer_pub.publish(tagged_msg(self.to_action(self.joy_axes), 'action',
                                               {'query': query_id}))
            self.state.labels += 1
            self.state.round_labels += 1
        self.get_logger().info(f'label request {query_id}: {how} '
                               f'({len(self.requests.queue)} waiting)')

    def _request_frame(self) -> np.ndarray | None:
        """The restored simulation of the request on screen (None when not restorable)."""
        from dagger_ros.core.restore import restore
        current = self.requests.current
        if current is None or not self.restorable:
            return None
        if current[0] != self.shown_query:
            restore(self.request_env, current[1])
            self.shown_query = current[0]
            self.request_image = np.asarray(self.request_env.render(), dtype=np.uint8)
        return self.request_image

    # -- inputs ------------------------------------------------------------------------------
    @staticmethod
    def _fields(msg: Float64MultiArray) -> dict[str, float]:
        vector, names = msg_to_fields(msg, 'message')
        return {name: float(value) for (name, _), value in zip(names, vector)}

    def on_decision(self, msg: Float64MultiArray) -> None:
        """Who drives now, and why."""
        try:
            self.state.on_decision(self._fields(msg), reason_of(msg))
        except (InputError, ValueError):
            pass  # a malformed decision only costs one frame's text

    def on_doubt(self, msg: Float64MultiArray) -> None:
        """The policy's doubt."""
        if len(msg.data):
            self.state.doubt = float(msg.data[0])

    def on_round(self, msg: Float64MultiArray) -> None:
        """A round's thresholds (ensemble and learned HG-DAgger doubt)."""
        values = self._fields(msg)
        self.state.doubt_threshold = values.get('doubt_threshold', self.state.doubt_threshold)

    def on_progress(self, msg: Float64MultiArray) -> None:
        """A new policy version."""
        self.state.policy_version = int(self._fields(msg).get('policy_version', 0))

    def on_reward(self, msg: Float64MultiArray) -> None:
        """Accumulate the running episode's return."""
        if len(msg.data) and np.isfinite(msg.data[0]):
            self.state.episode_return += float(msg.data[0])

    def on_episode(self, msg: Float64MultiArray) -> None:
        """An episode ended."""
        self.state.last_return = self._fields(msg).get('return', float('nan'))
        self.state.episode_return = 0.0

    def on_observation(self, msg: Float64MultiArray) -> None:
        """The robot's state, plotted when there is no frame."""
        try:
            self.state.observation = msg_to_array(msg, None, 'observation')
        except InputError:
            pass

    def on_image(self, msg: Image) -> None:
        """A rendered frame (rgb8)."""
        if msg.encoding == 'rgb8' and len(msg.data) == msg.height * msg.width * 3:
            self.state.frame = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(
                msg.height, msg.width, 3)

    # -- window ------------------------------------------------------------------------------
    def on_frame(self) -> None:
        """Handle window events, publish the keyboard's Joy, redraw."""
        pygame = self.pygame
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.get_logger().info('window closed; the loop goes on without the view')
        if self.joy_pub is not None:
            self.publish_keys(*key_joy(pygame.key.get_pressed(), pygame,
                                       self.cfg.takeover_button))
        self.draw()
        pygame.display.flip()

    def publish_keys(self, axes: list[float], buttons: list[int]) -> None:
        """The keyboard's Joy while a key is down, and once when the last one goes up.

        Silent otherwise, so that a gamepad on the same topic is not overridden by an idle
        keyboard.
        """
        active = any(axes) or any(buttons)
        if not active and not self._keys_active:
            return
        self._keys_active = active
        msg = Joy(axes=axes, buttons=buttons)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = 'keyboard'
        self.joy_pub.publish(msg)

    def draw(self) -> None:
        """The whole window from the state; a pending label request takes it over."""
        if self.requests is not None and (self.requests.current or self.requests.resting):
            self.draw_request()
            return
        state, screen = self.state, self.screen
        screen.fill((24, 24, 28))
        split = int(self.cfg.width * 0.6)
        self._draw_world(split)
        colour = DRIVER_COLOURS[state.actor]
        self.pygame.draw.rect(screen, colour, (split, 0, self.cfg.width - split, 90))
        self._text(DRIVER_NAMES[state.actor], (split + 14, 10), self.big)
        self._text(f'why: {state.reason}', (split + 14, 58))
        lines = [f'round {state.round}   policy v{state.policy_version}',
                 f'interventions {state.interventions}',
                 f'labels {state.labels}' + (f'   this round {state.round_labels}/'
                                             f'{self.cfg.query_budget}'
                                             if self.cfg.query_budget else ''),
                 f'episode return {state.episode_return:.1f}',
                 f'last episode {state.last_return:.1f}']
        for i, line in enumerate(lines):
            self._text(line, (split + 14, 110 + 30 * i))
        self._draw_doubt(split + 14, 290, self.cfg.width - split - 28)

    def draw_request(self) -> None:
        """One label request: the restored state, the stick's action, the buttons."""
        requests, screen = self.requests, self.screen
        screen.fill((24, 24, 28))
        split = int(self.cfg.width * 0.6)
        current = requests.current
        frame = self._request_frame()
        if frame is not None:
            self._blit_frame(frame, split)
        elif current is not None:
            self.state.observation = current[1]
            self._draw_world(split)
        self.pygame.draw.rect(screen, REQUEST_COLOUR, (split, 0, self.cfg.width - split, 90))
        if current is None:
            self._text('SITTING DONE', (split + 14, 10), self.big)
            self._text(f'{len(requests.queue)} requests wait; Start for more',
                       (split + 14, 58))
            return
        self._text('LABEL REQUEST', (split + 14, 10), self.big)
        self._text(f'{requests.answered_in_sitting + 1} of {requests.cap} this sitting, '
                   f'{len(requests.queue)} queued', (split + 14, 58))
        action = self.to_action(self.joy_axes)
        lines = [f'query {current[0]}', 'stick: ' + ', '.join(f'{v:+.2f}' for v in action),
                 'A: answer with the stick', 'B: skip this state']
        for i, line in enumerate(lines):
            self._text(line, (split + 14, 110 + 30 * i))

    def _blit_frame(self, frame: np.ndarray, width: int) -> None:
        surface = self.pygame.surfarray.make_surface(frame.swapaxes(0, 1))
        side = min(width, self.cfg.height)
        self.screen.blit(self.pygame.transform.smoothscale(surface, (side, side)), (0, 0))

    def _draw_world(self, width: int) -> None:
        state = self.state
        if state.frame is not None:
            self._blit_frame(state.frame, width)
            return
        if state.observation is None:
            self._text('waiting for observations', (20, 20))
            return
        values = np.clip(state.observation, -5, 5) / 5
        bar = max(2, (width - 40) // max(1, len(values)))
        mid = self.cfg.height // 2
        for i, value in enumerate(values):
            height = int(value * (mid - 40))
            top = mid - max(height, 0)
            self.pygame.draw.rect(self.screen, (150, 150, 160),
                                  (20 + i * bar, top, bar - 2, abs(height)))
        self._text('observation (clipped to ±5)', (20, 20))

    def _draw_doubt(self, x: int, y: int, width: int) -> None:
        state = self.state
        self._text('policy doubt vs gate threshold', (x, y))
        self.pygame.draw.rect(self.screen, (70, 70, 80), (x, y + 30, width, 20))
        scale = max(1e-9, 2 * state.doubt_threshold if np.isfinite(state.doubt_threshold)
                    else max(state.doubt, 1e-3) * 2 if np.isfinite(state.doubt) else 1.0)
        if np.isfinite(state.doubt):
            fill = int(min(1.0, state.doubt / scale) * width)
            self.pygame.draw.rect(self.screen, (220, 200, 60), (x, y + 30, fill, 20))
        if np.isfinite(state.doubt_threshold):
            mark = x + int(state.doubt_threshold / scale * width)
            self.pygame.draw.line(self.screen, (240, 60, 60), (mark, y + 24), (mark, y + 56), 3)
        self._text(f'{state.doubt:.3g} / {state.doubt_threshold:.3g}', (x, y + 58))

    def _text(self, text: str, at: tuple[int, int], font: Any = None) -> None:
        self.screen.blit((font or self.font).render(text, True, (235, 235, 235)), at)

    def shutdown(self) -> None:
        """Close the window (and the request simulation)."""
        if self.requests is not None:
            self.request_env.close()
        self.pygame.display.quit()


def main(args: Any = None) -> int:
    """Console script ``live_view_node``."""
    return main_for(LiveView, args)


if __name__ == '__main__':
    raise SystemExit(main())
