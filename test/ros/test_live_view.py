"""The live view in a real X window on a virtual screen (Xvfb), fed over DDS.

A probe stands in for the gate (it publishes gate/decision messages); the screenshot is taken
from the X server, so it shows what a person at the desk would see.
"""

import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.types import Source
from dagger_ros.nodes.live_view import DRIVER_COLOURS, key_joy, REQUEST_COLOUR
from dagger_ros.ros import topics
from dagger_ros.ros.conversions import fields_to_msg, msg_tags, tagged_msg
from dagger_ros.ros.testing import Probe, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(90)]

WIDTH, HEIGHT = 900, 560
BANNER = (int(WIDTH * 0.6) + 5, 5)


@pytest.fixture
def display():
    assert shutil.which('Xvfb'), 'Xvfb is needed (apt install xvfb; scripts/test.sh does it)'
    number = random.randint(200, 900)
    server = subprocess.Popen(['Xvfb', f':{number}', '-screen', '0', '1024x768x24',
                               '-nolisten', 'tcp'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(f'/tmp/.X11-unix/X{number}') and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f':{number}'
    server.terminate()
    server.wait(5)


def screenshot(display):
    """The window's pixels, cut out of the whole (black) virtual screen."""
    from PIL import ImageGrab
    screen = np.asarray(ImageGrab.grab(xdisplay=display).convert('RGB'))
    rows, cols = np.nonzero(screen.sum(axis=2))
    if rows.size == 0:
        return np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    return screen[rows.min():rows.min() + HEIGHT, cols.min():cols.min() + WIDTH]


def decision(actor, reason):
    return fields_to_msg([float(actor), 1.0, 0.0, 1.0],
                         [('actor', 1), ('labeled', 1), ('seq', 1), ('round', 1),
                          (f'reason:{reason}', 0)])


def test_live_view_shows_who_drives(display, ros_ctx, executor, tmp_path):
    domain = ros_ctx.get_domain_id()
    env = {**os.environ, 'DISPLAY': display, 'SDL_VIDEODRIVER': 'x11',
           'ROS_DOMAIN_ID': str(domain)}
    view = subprocess.Popen([sys.executable, '-m', 'dagger_ros.nodes.live_view', '--ros-args',
                             '-p', 'keyboard:=false'], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    probe = Probe(ros_ctx, publishes={topics.GATE_DECISION: Float64MultiArray,
                                      topics.OBSERVATION: Float64MultiArray})
    executor.add_node(probe)
    try:
        assert spin_until(executor, probe.is_connected, 30), 'the live view never subscribed'
        shots = {}
        for actor in (Source.POLICY, Source.HUMAN, Source.NONE):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                probe.publish(topics.GATE_DECISION, decision(actor, 'takeover'))
                probe.publish(topics.OBSERVATION, tagged_msg([1.0, -2.0, 3.0], 'obs', {}))
                spin_until(executor, lambda: False, 0.2)
                shots[actor] = screenshot(display)
                pixel = tuple(int(v) for v in shots[actor][BANNER[1], BANNER[0]])
                if pixel == DRIVER_COLOURS[actor]:
                    break
            assert pixel == DRIVER_COLOURS[actor], (actor, pixel)
        from PIL import Image
        for actor, shot in shots.items():
            Image.fromarray(shot).save(tmp_path / f'live_view_{actor.name.lower()}.png')
        banner = slice(0, 90), slice(BANNER[0], WIDTH)
        assert not np.array_equal(shots[Source.POLICY][banner], shots[Source.HUMAN][banner])
        assert view.poll() is None, 'the view keeps running'
    finally:
        view.terminate()
        output = view.communicate(timeout=10)[0]
    assert view.returncode == 0, output


def test_keyboard_is_a_gamepad_with_sdl_indices():
    import pygame

    pressed = dict.fromkeys((pygame.K_RIGHT, pygame.K_LEFT, pygame.K_UP, pygame.K_DOWN,
                             pygame.K_w, pygame.K_s, pygame.K_SPACE, pygame.K_RETURN,
                             pygame.K_BACKSPACE, pygame.K_TAB), False)
    pressed.update({pygame.K_RIGHT: True, pygame.K_UP: True, pygame.K_SPACE: True})
    axes, buttons = key_joy(pressed, pygame, takeover_button=9)
    assert axes == [-1.0, 1.0, 0.0, 0.0, 0.0, 0.0], 'right is negative, up positive, as joy'
    assert buttons[9] == 1 and sum(buttons) == 1


def test_label_requests_are_shown_restored_and_answered_with_the_pad(
        display, ros_ctx, executor):
    # GIVEN the live view answering queries, two per sitting, on Pendulum
    env = {**os.environ, 'DISPLAY': display, 'SDL_VIDEODRIVER': 'x11',
           'ROS_DOMAIN_ID': str(ros_ctx.get_domain_id())}
    view = subprocess.Popen([sys.executable, '-m', 'dagger_ros.nodes.live_view', '--ros-args',
                             '-p', 'keyboard:=false', '-p', 'requests:=true', '-p',
                             'requests_per_sitting:=2'], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    probe = Probe(ros_ctx, publishes={topics.EXPERT_QUERY: Float64MultiArray, topics.JOY: Joy},
                  collects={topics.EXPERT_ANSWER: Float64MultiArray})
    executor.add_node(probe)

    def pad(stick, button=None):
        buttons = [0] * 12
        if button is not None:
            buttons[button] = 1
        probe.publish(topics.JOY, Joy(axes=[stick, 0.0, 0.0, 0.0, 0.0, 0.0], buttons=buttons))
        spin_until(executor, lambda: False, 0.15)

    def answers():
        return [(msg_tags(m)['query'], m.data[0]) for m in probe.messages(topics.EXPERT_ANSWER)]

    try:
        assert spin_until(executor, probe.is_connected, 30)
        upright = [1.0, 0.0, 0.0]
        hanging = [-1.0, 0.0, 0.0]
        for qid, obs in enumerate([upright, hanging, upright]):
            probe.publish(topics.EXPERT_QUERY, tagged_msg(obs, 'observation', {'query': qid}))
        spin_until(executor, lambda: False, 1.0)
        shot_upright = screenshot(display)
        assert tuple(int(v) for v in shot_upright[BANNER[1], BANNER[0]]) == REQUEST_COLOUR

        # WHEN the person pushes the stick right and presses A, then left and A
        pad(-1.0)
        pad(-1.0, 0)
        assert spin_until(executor, lambda: len(answers()) == 1, 5)
        spin_until(executor, lambda: False, 0.5)
        shot_hanging = screenshot(display)
        pad(0.5)
        pad(0.5, 0)
        assert spin_until(executor, lambda: len(answers()) == 2, 5)

        # THEN each answer carries its query and the stick's action (right = +2 at full)
        assert answers() == [(0.0, 2.0), (1.0, -1.0)]
        # AND the restored simulation showed the queried states (pendulum up, then down)
        world = slice(0, HEIGHT), slice(0, int(WIDTH * 0.6))
        assert not np.array_equal(shot_upright[world], shot_hanging[world])
        # AND after two answers the sitting is over: A does nothing until Start
        pad(0.0)
        pad(0.0, 0)
        spin_until(executor, lambda: False, 0.5)
        assert len(answers()) == 2
        pad(0.0, 6)
        pad(0.0)
        pad(0.0, 0)
        assert spin_until(executor, lambda: len(answers()) == 3, 5)
    finally:
        view.terminate()
        output = view.communicate(timeout=10)[0]
    assert view.returncode == 0, output
