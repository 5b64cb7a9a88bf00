"""Gamepad node: a pad read through SDL (pygame), published as ``sensor_msgs/Joy`` on ``joy``.

It behaves like the ROS 2 ``joy`` package's nodes, so anything written for them works here:
the same parameters (``device_id``, ``device_name``, ``deadzone``, ``autorepeat_rate``,
``coalesce_interval_ms``), axes in [-1, 1] with SDL's signs flipped (stick left and up
positive), the deadzone rescaled so the output stays continuous, buttons as 0/1, stamped now
with frame ``joy``. A pad SDL knows as a game controller is published in SDL's game-controller
layout (as ``game_controller_node``: 6 axes, then A, B, X, Y, back, guide, start, sticks,
shoulders, d-pad...), so the presets in ``config/gamepads`` fit any such pad; another device is
published in its raw joystick order, hats as axis pairs after the axes (as ``joy_node``).

Unlike the joy nodes, losing the pad publishes one released state (all axes 0, all buttons up)
before going quiet, so a subscriber holding a deadman sees it let go at once rather than only
when the state goes stale; the node then waits for the pad to come back, as it does when none
is plugged in at start. SDL is polled from a timer in the node's own thread; every decision
(which device, whether to publish, axis values) is a small function of this module. SDL's event
queue is one per process, so run one gamepad node per process (its own executable does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import os
import time
from types import ModuleType
from typing import Any, NamedTuple, Sequence

from rclpy.node import Node
from sensor_msgs.msg import Joy

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.nodes.common import main_for
from dagger_ros.ros import qos, topics
from dagger_ros.ros.params import declare_config

AXIS_MAX = 32767
"""SDL's largest axis value; -32768 is read as -32767 so that both ends give 1.0."""
CONTROLLER_AXES = 6
"""SDL_CONTROLLER_AXIS_MAX: left x/y, right x/y, left and right trigger."""
FRAME_ID = 'joy'


@dataclass(frozen=True)
class GamepadConfig:
    """Parameters of the gamepad node: the joy node's, plus how often SDL is polled."""

    device_id: int = field(default=0, metadata=_meta(
        'SDL device index of the pad (0: the first one plugged in)', '', 0))
    device_name: str = field(default='', metadata=_meta(
        "the pad's SDL name; when set it wins over device_id"))
    deadzone: float = field(default=0.05, metadata=_meta(
        'axis values within +-deadzone of centre publish 0; the rest is rescaled', '', 0.0,
        1.0))
    autorepeat_rate: float = field(default=20.0, metadata=_meta(
        'republish an unchanged state at this rate; 0 publishes on change only', 'Hz', 0.0,
        1000.0))
    coalesce_interval_ms: int = field(default=1, metadata=_meta(
        'gather axis changes this long before publishing them', 'ms', 0, 10000))
    poll_rate_hz: float = field(default=100.0, metadata=_meta(
        'how often SDL is read; also the finest publish timing', 'Hz', 1.0, 1000.0))

    def __post_init__(self) -> None:
        if not 0.0 <= self.deadzone < 1.0:
            raise ConfigError(f'deadzone must be in [0, 1), got {self.deadzone!r}')
        if not 0.0 <= self.autorepeat_rate <= 1000.0:
            raise ConfigError(f'autorepeat_rate must be in [0, 1000] Hz, got '
                              f'{self.autorepeat_rate!r}')
        if self.coalesce_interval_ms < 0 or self.device_id < 0:
            raise ConfigError(f'coalesce_interval_ms and device_id must be >= 0, got '
                              f'{self.coalesce_interval_ms!r} and {self.device_id!r}')
        if not 1.0 <= self.poll_rate_hz <= 1000.0:
            raise ConfigError(f'poll_rate_hz must be in [1, 1000], got {self.poll_rate_hz!r}')


class PadState(NamedTuple):
    """One reading of a pad: axes and hat axes in Joy's convention, buttons as 0/1."""

    axes: tuple[float, ...]
    buttons: tuple[int, ...]
    hats: tuple[float, ...] = ()

    def released(self) -> PadState:
        """The same layout with every axis centred and every button up."""
        return PadState((0.0,) * len(self.axes), (0,) * len(self.buttons),
                        (0.0,) * len(self.hats))


def axis_to_ros(raw: int, deadzone: float) -> float:
    """Return an SDL axis value (-32768..32767) as the joy node does.

    The deadzone is cut out and the rest rescaled so that the output starts at 0 at its edge
    and reaches +-1 at the ends; the sign is flipped, since SDL reports left and up as negative
    and ROS wants them positive.
    """
    value = float(max(int(raw), -AXIS_MAX))
    dead = AXIS_MAX * deadzone
    if -dead <= value <= dead:
        return 0.0
    shifted = value - dead if value > 0 else value + dead
    return min(1.0, max(-1.0, -shifted / (1.0 - deadzone) / AXIS_MAX))


def raw_axis(value: float) -> int:
    """Return pygame's joystick axis (SDL's value / 32768) as SDL's integer again."""
    return int(min(AXIS_MAX, max(-AXIS_MAX - 1, round(value * (AXIS_MAX + 1)))))


def hat_to_axes(hat: Sequence[int]) -> tuple[float, float]:
    """Return a pygame hat (x right-positive, y up-positive) as joy's pair (left, up positive)."""
    x, y = hat
    return float(-x), float(y)


def choose_device(names: Sequence[str], device_id: int, device_name: str) -> int | None:
    """Return the index of the pad to open among the devices SDL lists, or None.

    A device_name picks the first device of that name (joy's rule: name before id).
    """
    if device_name:
        return names.index(device_name) if device_name in names else None
    return device_id if device_id < len(names) else None


CHANGE_NONE, CHANGE_AXES, CHANGE_BUTTONS = 'none', 'axes', 'buttons'


def classify_change(old: PadState | None, new: PadState) -> str:
    """Return what changed between two readings: buttons (hats, a new pad too), axes or none."""
    if old is None or old.buttons != new.buttons or old.hats != new.hats:
        return CHANGE_BUTTONS
    return CHANGE_AXES if old.axes != new.axes else CHANGE_NONE


@dataclass(frozen=True)
class PublishTiming:
    """When the node last published and since when an axis change waits (monotonic s)."""

    last_s: float = -math.inf
    pending_since_s: float | None = None


def next_publish(timing: PublishTiming, change: str, now_s: float, cfg: GamepadConfig,
                 poll_period_s: float) -> tuple[bool, PublishTiming]:
    """Decide whether to publish now, as the joy node does; return the decision and new timing.

    Buttons and hats publish at once; axis changes are gathered for coalesce_interval_ms (a
    poll period already gathers that long, so a shorter interval publishes at once); an
    unchanged state is repeated at autorepeat_rate, within half a poll period.
    """
    published = PublishTiming(now_s, None)
    coalesce_s = cfg.coalesce_interval_ms / 1000.0
    if change == CHANGE_BUTTONS or (change == CHANGE_AXES and coalesce_s <= poll_period_s):
        return True, published
    pending = timing.pending_since_s
    if change == CHANGE_AXES and pending is None:
        pending = now_s
    if pending is not None and now_s - pending >= coalesce_s:
        return True, published
    if cfg.autorepeat_rate > 0:
        if now_s - timing.last_s >= 1.0 / cfg.autorepeat_rate - poll_period_s / 2:
            return True, published
    return False, PublishTiming(timing.last_s, pending)


def load_pygame() -> ModuleType:
    """Import pygame (or pygame-ce, which installs as the same module) ready for joysticks.

    SDL's event queue belongs to its video subsystem, so the video driver is started too;
    with no driver named it is SDL's dummy one, which needs no display.

    Raises:
        ConfigError: when pygame is missing or SDL does not start.
    """
    os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
    os.environ.setdefault('PYGAME_HIDE_SUPPORT_PROMPT', '1')
    # A node has no window, so it is never "in the foreground"; read the pad regardless.
    os.environ.setdefault('SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS', '1')
    try:
        import pygame
    except ImportError as err:
        raise ConfigError(f'the gamepad node needs pygame ({err}); install it with '
                          f'pip install pygame') from err
    try:
        pygame.display.init()
        pygame.joystick.init()
    except pygame.error as err:
        raise ConfigError(f'SDL did not start: {err}; without a display set '
                          f'SDL_VIDEODRIVER=dummy') from err
    return pygame


def load_controller_api(pygame: ModuleType) -> ModuleType | None:
    """Return pygame's SDL game-controller module, started, or None where it is missing."""
    try:
        from pygame._sdl2 import controller
        controller.init()
    except (ImportError, AttributeError, pygame.error):  # an older or trimmed pygame build
        return None
    return controller


def controller_button_count(pygame: ModuleType) -> int:
    """SDL_CONTROLLER_BUTTON_MAX of the SDL pygame runs on (paddles and touchpad since 2.0.14)."""
    return 21 if tuple(pygame.get_sdl_version()) >= (2, 0, 14) else 15


def device_events(pygame: ModuleType) -> list[tuple[str, int]]:
    """Drain SDL's event queue; return ('added', device index) and ('removed', instance id)."""
    result = []
    for event in pygame.event.get():
        if event.type == pygame.JOYDEVICEADDED:
            result.append(('added', int(event.device_index)))
        elif event.type == pygame.JOYDEVICEREMOVED:
            result.append(('removed', int(event.instance_id)))
    return result


def device_names(pygame: ModuleType) -> list[str]:
    """Names of the devices SDL lists, by device index (opening a device is how pygame tells)."""
    return [pygame.joystick.Joystick(i).get_name() for i in range(pygame.joystick.get_count())]


class SdlPad:
    """One opened SDL device, read in the game-controller layout where SDL knows the pad.

    Raises:
        pygame.error: when SDL cannot open the device.
    """

    def __init__(self, pygame: ModuleType, controller_api: ModuleType | None,
                 index: int) -> None:
        self.index = index
        self.joystick = pygame.joystick.Joystick(index)
        self.joystick.init()
        self.instance_id = int(self.joystick.get_instance_id())
        self.name = str(self.joystick.get_name())
        self.controller = None
        if controller_api is not None and controller_api.is_controller(index):
            self.controller = controller_api.Controller(index)
        self._buttons = controller_button_count(pygame)

    @property
    def layout(self) -> str:
        """'game-controller' (SDL's standard order) or 'joystick' (the device's own order)."""
        return 'joystick' if self.controller is None else 'game-controller'

    def read(self, deadzone: float) -> PadState:
        """The pad's current state in Joy's convention."""
        if self.controller is not None:
            return PadState(
                tuple(axis_to_ros(self.controller.get_axis(i), deadzone)
                      for i in range(CONTROLLER_AXES)),
                tuple(int(bool(self.controller.get_button(i))) for i in range(self._buttons)))
        js = self.joystick
        hats = [value for h in range(js.get_numhats()) for value in hat_to_axes(js.get_hat(h))]
        return PadState(
            tuple(axis_to_ros(raw_axis(js.get_axis(i)), deadzone)
                  for i in range(js.get_numaxes())),
            tuple(int(bool(js.get_button(i))) for i in range(js.get_numbuttons())),
            tuple(hats))

    def close(self) -> None:
        """Let go of the device (it may be gone already)."""
        if self.controller is not None:
            self.controller.quit()
        self.joystick.quit()


class GamepadNode(Node):
    """Publishes a gamepad's state on ``joy`` (sensor_msgs/Joy), like the ROS joy node."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('gamepad', **kwargs)
        self.cfg = declare_config(self, GamepadConfig)
        self._pygame = load_pygame()
        self._controller_api = load_controller_api(self._pygame)
        self._pub = self.create_publisher(Joy, topics.JOY, qos.for_topic(topics.JOY))
        self._period_s = 1.0 / self.cfg.poll_rate_hz
        self.pad: SdlPad | None = None
        self._last: PadState | None = None
        self._timing = PublishTiming()
        # Hotplug events from before this node are covered by the scan just below.
        self._pygame.event.clear()
        if not self._try_open():
            self.get_logger().info(f'no gamepad {self._wanted()} (SDL lists '
                                   f'{self._pygame.joystick.get_count()} devices); waiting for '
                                   f'one to be plugged in')
        self.timer = self.create_timer(self._period_s, self._on_tick)

    def _wanted(self) -> str:
        if self.cfg.device_name:
            return f'named {self.cfg.device_name!r}'
        return f'at device_id {self.cfg.device_id}'

    def _try_open(self) -> bool:
        """Open the configured pad if SDL lists it; True when it is open."""
        names = (device_names(self._pygame) if self.cfg.device_name
                 else [''] * self._pygame.joystick.get_count())
        index = choose_device(names, self.cfg.device_id, self.cfg.device_name)
        if index is None:
            return False
        try:
            self.pad = SdlPad(self._pygame, self._controller_api, index)
        except self._pygame.error as err:
            self.get_logger().warning(f'could not open gamepad {index}: {err}; waiting')
            return False
        self.get_logger().info(
            f"opened gamepad '{self.pad.name}' (device_id {index}, {self.pad.layout} layout); "
            f'deadzone {self.cfg.deadzone}, autorepeat {self.cfg.autorepeat_rate} Hz')
        return True

    def _on_tick(self) -> None:
        for kind, which in device_events(self._pygame):
            if kind == 'removed' and self.pad is not None and which == self.pad.instance_id:
                self._on_lost()
            elif kind == 'added' and self.pad is None:
                self._try_open()
        if self.pad is not None:
            self._poll()

    def _poll(self) -> None:
        try:
            state = self.pad.read(self.cfg.deadzone)
        except self._pygame.error as err:  # closed under us: treat as unplugged
            self.get_logger().warning(f'reading the gamepad failed: {err}')
            self._on_lost()
            return
        change = classify_change(self._last, state)
        publish, self._timing = next_publish(self._timing, change, time.monotonic(),
                                             self.cfg, self._period_s)
        self._last = state
        if publish:
            self._publish(state)

    def _on_lost(self) -> None:
        """The pad went away: publish it released once, then wait for it."""
        name = self.pad.name
        self._close_pad()
        self.get_logger().warning(
            f"gamepad '{name}' is gone (unplugged, out of range or out of battery): published "
            f'it released (axes 0, buttons up); waiting for it to come back')

    def _close_pad(self) -> None:
        if self._last is not None:
            self._publish(self._last.released())
        self.pad.close()
        self.pad = None
        self._last = None
        self._timing = PublishTiming()

    def _publish(self, state: PadState) -> None:
        msg = Joy()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = FRAME_ID
        msg.axes = [float(value) for value in state.axes + state.hats]
        msg.buttons = [int(value) for value in state.buttons]
        self._pub.publish(msg)

    def shutdown(self) -> None:
        """On the way out: publish the pad released once, so no deadman stays held."""
        if self.pad is not None:
            self._close_pad()


def main(args: Sequence[str] | None = None) -> int:
    """Run the gamepad node until Ctrl-C or SIGTERM; return 0, or 2 for a bad parameter."""
    return main_for(GamepadNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
