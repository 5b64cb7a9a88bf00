"""The gamepad node end to end, from an SDL device to sensor_msgs/Joy on ``joy``.

SDL's virtual joystick stands in for a physical pad. It is a real SDL device: SDL lists it,
opens it, maps it as a game controller and sends its hotplug and motion events exactly as for
a USB pad, so everything from SDL onwards is the code a person's pad goes through. It is made
through ctypes on the SDL library pygame loaded, and it exists only inside that one SDL
instance, so the node runs in this process, on the test's private context, and a Probe on the
same domain receives what it publishes.
"""

import ctypes
import glob
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Joy

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.joy_mapping import JoyMapping, load_preset, preset_path
from dagger_ros.nodes.gamepad import (
    axis_to_ros, CHANGE_AXES, CHANGE_BUTTONS, CHANGE_NONE, choose_device, classify_change,
    GamepadConfig, GamepadNode, hat_to_axes, load_pygame, next_publish, PadState,
    PublishTiming)
from dagger_ros.ros import topics
from dagger_ros.ros.params import declare_config
from dagger_ros.ros.testing import free_domain_id, Probe, spin_for, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]

REPO = Path(__file__).resolve().parents[2]
SDL_JOYSTICK_TYPE_GAMECONTROLLER, SDL_JOYSTICK_TYPE_FLIGHT_STICK = 1, 4
SDL_HAT_UP, SDL_HAT_LEFT = 1, 8
FULL = 32767
LEFT_X, LEFT_Y, RIGHT_TRIGGER = 0, 1, 5
BUTTON_A, LEFT_SHOULDER = 0, 9
SDL_CONTROLLER_AXES = 6
WAIT_S = 3.0


def _sdl_library() -> ctypes.CDLL:
    """The SDL that pygame runs on: its wheel's copy, else whichever this process loaded."""
    pygame = load_pygame()
    site = Path(pygame.__file__).resolve().parents[1]
    bundled = sorted(glob.glob(str(site / 'pygame*.libs' / 'libSDL2-2*.so*')))
    if bundled:
        return ctypes.CDLL(bundled[0])
    with open('/proc/self/maps', encoding='utf-8') as maps:
        loaded = [line.split()[-1] for line in maps if '/libSDL2-2' in line]
    assert loaded, 'found no SDL library in the pygame wheel or in this process'
    return ctypes.CDLL(loaded[0])


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    assert hasattr(lib, 'SDL_JoystickAttachVirtual'), 'virtual joysticks need SDL >= 2.0.14'
    lib.SDL_JoystickAttachVirtual.argtypes = [ctypes.c_int] * 4
    lib.SDL_JoystickOpen.restype = ctypes.c_void_p
    lib.SDL_JoystickOpen.argtypes = [ctypes.c_int]
    lib.SDL_JoystickClose.argtypes = [ctypes.c_void_p]
    lib.SDL_JoystickSetVirtualAxis.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int16]
    lib.SDL_JoystickSetVirtualButton.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    lib.SDL_JoystickSetVirtualHat.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    lib.SDL_JoystickDetachVirtual.argtypes = [ctypes.c_int]
    return lib


class VirtualPad:
    """A virtual SDL game controller (6 axes, 12 buttons, 1 hat): plug, set, unplug."""

    def __init__(self, sdl: ctypes.CDLL) -> None:
        self._sdl = sdl
        self._index = -1
        self._handle = None

    def plug(self, kind: int = SDL_JOYSTICK_TYPE_GAMECONTROLLER, axes: int = 6,
             buttons: int = 12, hats: int = 1) -> None:
        self._index = self._sdl.SDL_JoystickAttachVirtual(kind, axes, buttons, hats)
        assert self._index >= 0, 'SDL_JoystickAttachVirtual failed'
        self._handle = self._sdl.SDL_JoystickOpen(self._index)
        assert self._handle, 'SDL_JoystickOpen failed on the virtual pad'

    def unplug(self) -> None:
        if self._handle is not None:
            self._sdl.SDL_JoystickClose(self._handle)
            self._sdl.SDL_JoystickDetachVirtual(self._index)
            self._handle = None

    def axis(self, axis: int, value: int) -> None:
        assert self._sdl.SDL_JoystickSetVirtualAxis(self._handle, axis, value) == 0

    def button(self, button: int, pressed: bool) -> None:
        assert self._sdl.SDL_JoystickSetVirtualButton(self._handle, button, int(pressed)) == 0

    def hat(self, hat: int, value: int) -> None:
        assert self._sdl.SDL_JoystickSetVirtualHat(self._handle, hat, value) == 0


@pytest.fixture(scope='module')
def sdl():
    """The SDL library of pygame, with the virtual-joystick calls declared."""
    return _declare(_sdl_library())


@pytest.fixture
def pad(sdl):
    """A virtual pad, not plugged in yet; unplugged after the test."""
    pad = VirtualPad(sdl)
    yield pad
    pad.unplug()


@pytest.fixture
def probe(ros_ctx, executor):
    """Records every Joy on the test's domain."""
    probe = Probe(ros_ctx, collects={topics.JOY: Joy})
    executor.add_node(probe)
    return probe


@pytest.fixture
def start_gamepad(ros_ctx, executor):
    """Start a gamepad node on the test's context (parameters as keywords); stop it after."""
    nodes = []

    def start(**params):
        node = GamepadNode(context=ros_ctx, parameter_overrides=[
            Parameter(name, value=value) for name, value in params.items()])
        executor.add_node(node)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.shutdown()
        executor.remove_node(node)
        node.destroy_node()


def _is_released(msg: Joy) -> bool:
    return not any(msg.axes) and not any(msg.buttons)


def _wait_for(executor, probe, predicate, timeout_s: float = WAIT_S) -> Joy:
    """Spin until a recorded Joy satisfies predicate; return it."""
    def found():
        return any(predicate(msg) for msg in probe.messages(topics.JOY))
    assert spin_until(executor, found, timeout_s), (
        f'no matching Joy within {timeout_s} s; got {len(probe.messages(topics.JOY))}, last '
        f'{probe.last(topics.JOY)}')
    return next(msg for msg in probe.messages(topics.JOY) if predicate(msg))


def test_axes_and_buttons_reach_joy_with_the_joy_nodes_conventions(
        pad, probe, start_gamepad, executor):
    pad.plug()
    start_gamepad()
    first = _wait_for(executor, probe, lambda msg: True)
    # SDL's game-controller layout: 6 axes, then every controller button
    assert len(first.axes) == SDL_CONTROLLER_AXES and len(first.buttons) >= 15
    assert _is_released(first) and first.header.frame_id == 'joy'
    assert first.header.stamp.sec > 0

    pad.axis(LEFT_X, FULL)          # full right: SDL positive, Joy negative
    pad.axis(LEFT_Y, -FULL // 2)    # half up: SDL negative, Joy positive, deadzone rescaled
    pad.axis(RIGHT_TRIGGER, FULL)
    pad.button(LEFT_SHOULDER, True)
    msg = _wait_for(executor, probe, lambda m: m.buttons[LEFT_SHOULDER] and m.axes[LEFT_X] < 0
                    and m.axes[LEFT_Y] > 0 and m.axes[RIGHT_TRIGGER] < 0)
    assert msg.axes[LEFT_X] == -1.0 and msg.axes[RIGHT_TRIGGER] == -1.0
    assert msg.axes[LEFT_Y] == pytest.approx(axis_to_ros(-FULL // 2, 0.05), abs=1e-6)
    assert 0.45 < msg.axes[LEFT_Y] < 0.5
    assert sum(msg.buttons) == 1


def test_deadzone_parameter_zeroes_small_deflections(pad, probe, start_gamepad, executor):
    pad.plug()
    start_gamepad(deadzone=0.2)
    pad.axis(LEFT_X, -FULL // 10)   # 10 % left: inside the deadzone
    pad.button(BUTTON_A, True)
    msg = _wait_for(executor, probe, lambda m: m.buttons[BUTTON_A] == 1)
    assert msg.axes[LEFT_X] == 0.0


def test_unplug_publishes_one_released_state_and_replug_resumes(
        pad, probe, start_gamepad, executor, capfd):
    # GIVEN a person holding the deadman with the stick pushed
    pad.plug()
    start_gamepad()
    pad.axis(LEFT_X, FULL)
    pad.button(LEFT_SHOULDER, True)
    _wait_for(executor, probe, lambda m: m.buttons[LEFT_SHOULDER] == 1)
    # WHEN the pad is unplugged
    pad.unplug()
    assert spin_until(executor, lambda: any(map(_is_released, probe.messages(topics.JOY))),
                      WAIT_S), 'no released Joy after the pad went away'
    spin_for(executor, 0.5)
    # THEN a released state arrived and nothing stale followed it
    messages = probe.messages(topics.JOY)
    first_released = next(i for i, msg in enumerate(messages) if _is_released(msg))
    after = messages[first_released:]
    assert all(map(_is_released, after)), 'a non-zero Joy followed the release'
    assert len(after) == 1, f'expected one released Joy and then silence, got {len(after)}'
    assert 'is gone' in capfd.readouterr().err
    # WHEN it comes back THEN its values flow again
    pad.plug()
    pad.button(BUTTON_A, True)
    _wait_for(executor, probe, lambda m: m.buttons[BUTTON_A] == 1)


def test_no_pad_at_start_waits_without_publishing_then_picks_it_up(
        pad, probe, start_gamepad, executor, capfd):
    node = start_gamepad()
    spin_for(executor, 0.3)
    assert node.pad is None and probe.count(topics.JOY) == 0
    assert 'waiting for one to be plugged in' in capfd.readouterr().err
    pad.plug()
    pad.button(BUTTON_A, True)
    _wait_for(executor, probe, lambda m: m.buttons[BUTTON_A] == 1)


def test_device_name_selects_the_pad_and_waits_for_a_missing_one(
        pad, probe, start_gamepad, executor, capfd):
    pad.plug()
    name = load_pygame().joystick.Joystick(0).get_name()
    node = start_gamepad(device_name='Some Other Pad', device_id=0)
    spin_for(executor, 0.3)
    assert node.pad is None and probe.count(topics.JOY) == 0
    assert "no gamepad named 'Some Other Pad'" in capfd.readouterr().err
    start_gamepad(device_name=name, device_id=5)
    _wait_for(executor, probe, lambda m: True)


@pytest.mark.parametrize('rate, low, high', [(20.0, 6, 14), (0.0, 0, 0)])
def test_unchanged_state_repeats_at_the_autorepeat_rate(
        rate, low, high, pad, probe, start_gamepad, executor):
    pad.plug()
    start_gamepad(autorepeat_rate=rate)
    _wait_for(executor, probe, lambda m: True)   # the state at opening
    probe.clear()
    spin_for(executor, 0.5)
    assert low <= probe.count(topics.JOY) <= high


def test_a_device_sdl_has_no_layout_for_is_published_in_its_own_order(
        pad, probe, start_gamepad, executor):
    # A flight stick is no game controller: raw axes, then each hat as a (left, up) axis pair.
    pad.plug(SDL_JOYSTICK_TYPE_FLIGHT_STICK, axes=3, buttons=4, hats=1)
    start_gamepad()
    pad.axis(2, -FULL)
    pad.hat(0, SDL_HAT_UP | SDL_HAT_LEFT)
    pad.button(3, True)
    msg = _wait_for(executor, probe, lambda m: len(m.buttons) == 4 and m.buttons[3] == 1
                    and m.axes[3] != 0.0)
    assert list(msg.axes) == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert list(msg.buttons) == [0, 0, 0, 1]


def test_bad_parameter_is_refused_before_sdl_starts(ros_ctx):
    with pytest.raises(ConfigError, match=r'deadzone must be in \[0, 1\), got 1.0'):
        GamepadNode(context=ros_ctx, parameter_overrides=[Parameter('deadzone', value=1.0)])


@pytest.mark.parametrize('name', ['xbox', 'ps4', 'generic'])
def test_preset_is_a_params_file_for_the_mapping_parameters(name, ros_ctx):
    node = Node('expert_gate', context=ros_ctx,
                cli_args=['--ros-args', '--params-file', str(preset_path(name))])
    try:
        assert declare_config(node, JoyMapping, 'mapping') == JoyMapping(**load_preset(name))
    finally:
        node.destroy_node()


@pytest.mark.timeout(90)
def test_process_without_pad_waits_and_exits_0_on_sigterm():
    env = {'ROS_DOMAIN_ID': str(free_domain_id()), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
           'SDL_VIDEODRIVER': 'dummy', 'SDL_AUDIODRIVER': 'dummy', 'PYTHONUNBUFFERED': '1',
           'RCUTILS_LOGGING_BUFFERED_STREAM': '0'}
    proc = subprocess.Popen(
        [sys.executable, '-m', 'dagger_ros.nodes.gamepad'], cwd=REPO, text=True,
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output = _read_until(proc, 'waiting for one to be plugged in', timeout_s=60.0)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, output + rest
    assert 'Traceback' not in output + rest


def _read_until(proc: subprocess.Popen, text: str, timeout_s: float) -> str:
    """Read the process' output lines until one contains text; return what was read."""
    deadline = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return ''.join(lines)
    raise AssertionError(f'{text!r} never appeared; output:\n{"".join(lines)}')


@pytest.mark.parametrize('raw, deadzone, expected', [
    (-32768, 0.05, 1.0),           # SDL's extra negative step still reads as exactly 1
    (-32767, 0.05, 1.0),
    (32767, 0.05, -1.0),
    (0, 0.05, 0.0),
    (1638, 0.05, 0.0),             # inside the deadzone
    (16384, 0.0, -16384 / 32767),
])
def test_axis_to_ros_like_the_joy_node(raw, deadzone, expected):
    assert axis_to_ros(raw, deadzone) == pytest.approx(expected, abs=1e-9)


def test_axis_to_ros_is_continuous_across_the_deadzone_edge():
    values = [axis_to_ros(raw, 0.1) for raw in range(3000, 3600)]
    assert max(abs(a - b) for a, b in zip(values, values[1:])) < 1e-4


def test_hat_to_axes_uses_left_and_up_positive():
    assert hat_to_axes((-1, 1)) == (1.0, 1.0) and hat_to_axes((1, -1)) == (-1.0, -1.0)


@pytest.mark.parametrize('names, device_id, device_name, expected', [
    ([], 0, '', None),
    (['pad a'], 0, '', 0),
    (['pad a', 'pad b'], 1, '', 1),
    (['pad a'], 1, '', None),
    (['pad a', 'pad b'], 0, 'pad b', 1),     # the name wins over the id
    (['pad a'], 0, 'pad b', None),
])
def test_choose_device(names, device_id, device_name, expected):
    assert choose_device(names, device_id, device_name) == expected


def test_classify_change():
    state = PadState((0.0, 0.5), (0, 1))
    assert classify_change(None, state) == CHANGE_BUTTONS
    assert classify_change(state, state) == CHANGE_NONE
    assert classify_change(state, PadState((0.1, 0.5), (0, 1))) == CHANGE_AXES
    assert classify_change(state, PadState((0.1, 0.5), (1, 1))) == CHANGE_BUTTONS
    assert classify_change(state, PadState((0.0, 0.5), (0, 1), (1.0, 0.0))) == CHANGE_BUTTONS


PERIOD = 0.01
COALESCING = GamepadConfig(autorepeat_rate=20.0, coalesce_interval_ms=30)


@pytest.mark.parametrize('timing, change, now, cfg, expected', [
    (PublishTiming(1.0), CHANGE_BUTTONS, 1.001, COALESCING, True),     # buttons: at once
    (PublishTiming(1.0), CHANGE_AXES, 1.01, COALESCING, False),        # axes: gathered...
    (PublishTiming(1.0, 1.01), CHANGE_NONE, 1.03, COALESCING, False),
    (PublishTiming(1.0, 1.01), CHANGE_AXES, 1.04, COALESCING, True),   # ...for 30 ms
    (PublishTiming(1.0), CHANGE_AXES, 1.01, GamepadConfig(), True),    # 1 ms < one poll
    (PublishTiming(1.0), CHANGE_NONE, 1.04, COALESCING, False),
    (PublishTiming(1.0), CHANGE_NONE, 1.0451, COALESCING, True),       # 20 Hz repeat
    (PublishTiming(1.0), CHANGE_NONE, 9.0, GamepadConfig(autorepeat_rate=0.0), False),
])
def test_next_publish(timing, change, now, cfg, expected):
    publish, after = next_publish(timing, change, now, cfg, PERIOD)
    assert publish is expected
    if publish:
        assert after == PublishTiming(now, None)
