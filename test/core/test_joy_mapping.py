"""A person's gamepad as an action: presets, deadzone, inversion, bounds and the deadman."""

import dataclasses
import math

import numpy as np
import pytest

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.joy_mapping import (
    apply_deadzone, estop_pressed, gamepads_dir, joy_to_action, JoyMapping, load_preset,
    preset_names, preset_path, Takeover)

# Joy's signs (ROS convention): a stick pushed left or up is positive, right or down negative.
LEFT_STICK_FULL_RIGHT = [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
PENDULUM = ([-2.0], [2.0])
LEFT_SHOULDER = 9


def buttons(*pressed, count=15):
    return [1 if i in pressed else 0 for i in range(count)]


def test_the_three_presets_are_there():
    assert {'xbox', 'ps4', 'generic'} <= set(preset_names())
    assert preset_path('xbox').parent == gamepads_dir()


@pytest.mark.parametrize('name', ['xbox', 'ps4', 'generic'])
@pytest.mark.parametrize('axes, expected', [
    (LEFT_STICK_FULL_RIGHT, 2.0),      # full deflection reaches the bound
    ([1.0], -2.0),                     # full left
    ([0.0, 1.0, 1.0, 1.0], 0.0),       # other sticks move nothing
    ([], 0.0),                         # a pad with no axes: centred
])
def test_preset_turns_left_stick_x_into_the_action(name, axes, expected):
    mapping = JoyMapping(**load_preset(name))
    np.testing.assert_allclose(joy_to_action(axes, mapping, *PENDULUM), [expected])


@pytest.mark.parametrize('name', ['xbox', 'ps4', 'generic'])
def test_preset_deadman_is_the_left_shoulder_held(name):
    mapping = JoyMapping(**load_preset(name))
    assert (mapping.takeover_button, mapping.takeover_mode) == (LEFT_SHOULDER, 'hold')
    takeover = Takeover(mapping)
    assert takeover.update(buttons(LEFT_SHOULDER))
    assert not takeover.update(buttons())


def test_preset_values_are_tuples_ready_for_the_dataclass():
    values = load_preset('xbox')
    assert values['axes'] == (0,) and values['inverted'] == (True,)
    assert JoyMapping(**values) == dataclasses.replace(JoyMapping(), deadzone=values['deadzone'],
                                                       scale=(1.0,), offset=(0.0,))


def test_unknown_preset_names_the_ones_there_are():
    with pytest.raises(ConfigError, match=r"no gamepad preset 'nope'.*'xbox'"):
        load_preset('nope')


def test_deadzone_output_is_continuous_and_reaches_one():
    # GIVEN a 0.2 deadzone, WHEN the axis sweeps finely across its edge and the ends
    values = np.linspace(-1.0, 1.0, 4001)
    out = apply_deadzone(values, 0.2)
    # THEN there is no jump: neighbouring inputs give neighbouring outputs
    slope = 1.0 / 0.8
    assert np.max(np.abs(np.diff(out))) <= slope * (values[1] - values[0]) + 1e-12
    assert out[0] == -1.0 and out[-1] == 1.0
    assert np.all(out[np.abs(values) <= 0.2] == 0.0)
    np.testing.assert_allclose(apply_deadzone(np.array([0.6, -0.6]), 0.2), [0.5, -0.5])


def test_deadzone_applies_in_joy_to_action():
    mapping = JoyMapping(axes=(0,), inverted=(False,), deadzone=0.5)
    assert joy_to_action([0.4], mapping, [-1.0], [1.0])[0] == 0.0
    np.testing.assert_allclose(joy_to_action([0.75], mapping, [-1.0], [1.0]), [0.5])


@pytest.mark.parametrize('inverted, expected', [((False,), [0.5]), ((True,), [-0.5])])
def test_inversion_flips_the_sign(inverted, expected):
    mapping = JoyMapping(axes=(0,), inverted=inverted)
    np.testing.assert_allclose(joy_to_action([0.5], mapping, [-1.0], [1.0]), expected)


def test_scale_and_offset_are_fractions_of_the_half_range():
    # bounds [0, 4]: middle 2, half-range 2
    mapping = JoyMapping(axes=(0, 1), scale=(0.5, 1.0), offset=(0.0, 0.25),
                         inverted=(False, False))
    np.testing.assert_allclose(
        joy_to_action([1.0, 0.0], mapping, [0.0, 0.0], [4.0, 4.0]), [3.0, 2.5])


def test_action_is_clipped_to_the_bounds():
    mapping = JoyMapping(axes=(0, 1), scale=(3.0, 1.0), offset=(0.0, -5.0),
                         inverted=(False, False))
    np.testing.assert_allclose(joy_to_action([1.0, 0.0], mapping, [-1.0, 0.0], [1.0, 1.0]),
                               [1.0, 0.0])
    # out-of-range axes (from a node that is not joy) count as the end of their range
    np.testing.assert_allclose(
        joy_to_action([7.0, 0.0], JoyMapping(axes=(0, 1), inverted=(False, False)),
                      [-1.0, -1.0], [1.0, 1.0]), [1.0, 0.0])


def test_infinite_bounds_use_action_units():
    mapping = JoyMapping(axes=(0,), scale=(3.0,), offset=(1.0,), inverted=(False,))
    np.testing.assert_allclose(joy_to_action([0.5], mapping, [-np.inf], [np.inf]), [2.5])


@pytest.mark.parametrize('axes', [[], [0.3], [0.3, math.nan], [0.3, math.inf]])
def test_missing_or_nan_axis_counts_as_centred(axes):
    mapping = JoyMapping(axes=(0, 1, -1), inverted=(False, False, False),
                         offset=(0.0, 0.0, 0.5))
    action = joy_to_action(axes, mapping, [-1.0] * 3, [1.0] * 3)
    expected = [0.3 if axes else 0.0, 0.0, 0.5]   # -1 maps no axis: only the offset
    np.testing.assert_allclose(action, expected)


def test_bounds_must_match_the_mapping():
    with pytest.raises(ConfigError, match='1 and 1 values for a mapping of 2 axes'):
        joy_to_action([0.0], JoyMapping(axes=(0, 1), inverted=()), [-1.0], [1.0])
    with pytest.raises(ConfigError, match='low <= high'):
        joy_to_action([0.0], JoyMapping(), [1.0], [-1.0])


def test_hold_engages_only_while_held():
    takeover = Takeover(JoyMapping(takeover_button=2, takeover_mode='hold'))
    states = [buttons(), buttons(2), buttons(2), buttons(), buttons(2, 5), [1, 1]]
    assert [takeover.update(b) for b in states] == [False, True, True, False, True, False]


def test_toggle_switches_on_each_press_edge():
    takeover = Takeover(JoyMapping(takeover_button=2, takeover_mode='toggle'))
    states = [buttons(), buttons(2), buttons(2), buttons(), buttons(2), buttons(), buttons()]
    engaged = [takeover.update(b) for b in states]
    assert engaged == [False, True, True, True, False, False, False]


def test_toggle_ignores_a_press_held_before_the_first_state():
    takeover = Takeover(JoyMapping(takeover_button=2, takeover_mode='toggle'))
    assert not takeover.update(buttons(2))
    assert not takeover.update(buttons())
    assert takeover.update(buttons(2))


@pytest.mark.parametrize('mode', ['hold', 'toggle'])
def test_disconnect_releases_and_a_toggle_needs_a_fresh_press(mode):
    takeover = Takeover(JoyMapping(takeover_button=0, takeover_mode=mode))
    takeover.update(buttons())
    assert takeover.update(buttons(0))
    # WHEN the pad is lost with the button down
    assert not takeover.update(buttons(0), connected=False)
    assert not takeover.engaged
    # THEN on return a held button engages hold mode, but toggle mode waits for a new press
    assert takeover.update(buttons(0)) is (mode == 'hold')
    takeover.update(buttons())
    assert takeover.update(buttons(0))


def test_a_pad_without_the_takeover_button_never_engages():
    takeover = Takeover(JoyMapping(takeover_button=LEFT_SHOULDER))
    assert not takeover.update([1, 1, 1])


def test_estop_button():
    mapping = JoyMapping(estop_button=1)
    assert estop_pressed(buttons(1), mapping)
    assert not estop_pressed(buttons(0), mapping)
    assert not estop_pressed(buttons(*range(15)), JoyMapping())   # -1: none


def test_empty_per_dimension_lists_mean_defaults():
    mapping = JoyMapping(axes=(3, 4), scale=[], offset=[], inverted=[])
    assert mapping.scale == (1.0, 1.0) and mapping.offset == (0.0, 0.0)
    assert mapping.inverted == (False, False) and mapping.dim == 2


@pytest.mark.parametrize('changes, message', [
    ({'axes': ()}, r'mapping.axes is empty; expected one axis index'),
    ({'axes': (0, -2), 'inverted': ()}, r'mapping.axes has -2; expected whole numbers >= -1'),
    ({'axes': (0.5,)}, r'mapping.axes has 0.5; expected whole numbers'),
    ({'axes': 'x'}, r"mapping.axes must be a list, got 'x'"),
    ({'scale': (1.0, 2.0)}, r'mapping.scale has 2 values for 1 axes; expected 1'),
    ({'offset': (math.nan,)}, r'mapping.offset has \[nan\]; expected finite numbers'),
    ({'inverted': (True, False)}, r'mapping.inverted is \[True, False\] for 1 axes'),
    ({'inverted': (1,)}, r'expected 1 true/false values'),
    ({'deadzone': 1.0}, r'mapping.deadzone must be in \[0, 1\), got 1.0'),
    ({'deadzone': -0.1}, r'got -0.1'),
    ({'takeover_button': -1}, r'mapping.takeover_button has -1; expected whole numbers >= 0'),
    ({'takeover_mode': 'press'}, r"takeover_mode must be one of \('hold', 'toggle'\), got "
                                 r"'press'"),
    ({'estop_button': -2}, r'mapping.estop_button has -2; expected whole numbers >= -1'),
    ({'estop_button': 9}, r'both 9; expected different buttons'),
])
def test_bad_configs_are_refused_with_what_was_got_and_expected(changes, message):
    with pytest.raises(ConfigError, match=message):
        JoyMapping(**changes)


def test_a_preset_file_with_a_wrong_key_is_refused(tmp_path, monkeypatch):
    (tmp_path / 'odd.yaml').write_text(
        '/**:\n  ros__parameters:\n    mapping:\n      axis: [0]\n')
    (tmp_path / 'plain.yaml').write_text('mapping:\n  axes: [0]\n')
    monkeypatch.setattr('dagger_ros.core.joy_mapping.gamepads_dir', lambda: tmp_path)
    with pytest.raises(ConfigError, match=r"mapping keys \['axis'\] are not expected"):
        load_preset('odd')
    with pytest.raises(ConfigError, match='no "/\\*\\*: ros__parameters:" section'):
        load_preset('plain')
