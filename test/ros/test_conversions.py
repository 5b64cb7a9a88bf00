"""Message <-> NumPy conversions: round trips; bad input raises InputError with got/expected."""

from geometry_msgs.msg import Twist
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import numpy as np
import pytest
from sensor_msgs.msg import JointState
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.errors import InputError
from dagger_ros.ros import conversions as conv

pytestmark = pytest.mark.timeout(60)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=0, max_size=40))
def test_array_round_trip_is_exact(values):
    msg = conv.array_to_msg(values, label='obs')

    back = conv.msg_to_array(msg, len(values), 'obs')

    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, np.asarray(values, dtype=np.float64))
    assert [(d.label, d.size) for d in msg.layout.dim] == [('obs', len(values))]


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=1, max_size=20), st.integers(0, 19),
       st.sampled_from([np.nan, np.inf, -np.inf]))
def test_array_to_msg_rejects_any_non_finite_entry(values, index, bad):
    values[index % len(values)] = bad
    with pytest.raises(InputError, match='non-finite'):
        conv.array_to_msg(values)


@pytest.mark.parametrize('values', [[[1.0, 2.0]], 3.0, ['a', 'b'], None])
def test_array_to_msg_rejects_what_is_not_a_vector(values):
    with pytest.raises(InputError, match='expected'):
        conv.array_to_msg(values)


def test_msg_to_array_names_size_got_and_expected():
    msg = conv.array_to_msg([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r'observation has 3 values, expected 4'):
        conv.msg_to_array(msg, 4, 'observation')


def test_msg_to_array_rejects_nan_sent_by_a_foreign_publisher():
    msg = Float64MultiArray(data=[0.0, float('nan')])
    with pytest.raises(InputError, match=r'action has non-finite entries at \[1\]'):
        conv.msg_to_array(msg, 2, 'action')


def test_msg_to_array_honours_data_offset():
    msg = Float64MultiArray(data=[9.0, 1.0, 2.0])
    msg.layout.data_offset = 1
    np.testing.assert_array_equal(conv.msg_to_array(msg, 2, 'x'), [1.0, 2.0])


def test_fields_round_trip_and_size_mismatch():
    fields = [('obs', 2), ('label', 1), ('reason:takeover', 0)]
    msg = conv.fields_to_msg([1.0, 2.0, 3.0], fields)

    values, back = conv.msg_to_fields(msg, 'labels')

    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])
    assert back == fields
    with pytest.raises(InputError, match='add up to 2'):
        conv.fields_to_msg([1.0, 2.0, 3.0], [('obs', 2)])


def _joint_state():
    return JointState(name=['b', 'a', 'c'], position=[2.0, 1.0, 3.0],
                      velocity=[20.0, 10.0, 30.0], effort=[])


def test_joint_state_selects_names_in_the_given_order_field_major():
    obs = conv.joint_state_to_obs(_joint_state(), ['a', 'b'])
    np.testing.assert_array_equal(obs, [1.0, 2.0, 10.0, 20.0])


def test_joint_state_missing_name_is_named():
    with pytest.raises(InputError, match=r"lacks joints \['elbow'\]"):
        conv.joint_state_to_obs(_joint_state(), ['a', 'elbow'])


def test_joint_state_short_field_is_an_input_error():
    with pytest.raises(InputError, match=r'JointState.effort has 0 entries for 3 names'):
        conv.joint_state_to_obs(_joint_state(), ['a'], fields=('effort',))


def test_joint_state_unknown_field_is_a_config_error():
    with pytest.raises(ConfigError, match='torque'):
        conv.joint_state_to_obs(_joint_state(), ['a'], fields=('torque',))


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=2, max_size=2))
def test_twist_round_trip_leaves_unmapped_fields_zero(action):
    mapping = ('linear.x', 'angular.z')
    msg = conv.action_to_twist(action, mapping)

    np.testing.assert_array_equal(conv.twist_to_action(msg, mapping), action)
    assert (msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y) == (0.0, 0.0, 0.0, 0.0)


def test_twist_stamped_carries_stamp_and_twist():
    msg = conv.action_to_twist_stamped([0.5], ('angular.z',), conv.s_to_stamp(1.25), 'base')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 250_000_000)
    assert msg.header.frame_id == 'base'
    np.testing.assert_array_equal(conv.twist_to_action(msg, ('angular.z',)), [0.5])


@pytest.mark.parametrize('mapping', [(), ('linear.w',), ('linear.x', 'linear.x'), ('x',)])
def test_bad_twist_mapping_is_a_config_error(mapping):
    with pytest.raises(ConfigError, match='Twist mapping'):
        conv.action_to_twist([0.0] * max(len(mapping), 1), mapping)


def test_twist_action_of_wrong_length_is_an_input_error():
    with pytest.raises(InputError, match=r'has 3 values, expected 2'):
        conv.action_to_twist([1.0, 2.0, 3.0], ('linear.x', 'angular.z'))
    twist = Twist()
    twist.linear.x = float('inf')
    with pytest.raises(InputError, match='non-finite'):
        conv.twist_to_action(twist, ('linear.x',))


@pytest.mark.parametrize('index, expected', [(0, 0.5), (1, -1.0), (2, 7.0), (-1, 7.0),
                                             (9, 7.0)])
def test_joy_axis_is_bounds_checked(index, expected):
    msg = Joy(axes=[0.5, -1.0])
    assert conv.joy_axis(msg, index, default=7.0) == expected


def test_joy_button_is_bounds_checked():
    msg = Joy(buttons=[0, 1])
    assert [conv.joy_button(msg, i) for i in (0, 1, 2, -1)] == [False, True, False, False]
    assert conv.joy_button(msg, 5, default=True) is True


def test_joy_axes_counts_missing_and_non_finite_axes():
    msg = Joy(axes=[0.25, float('nan')])

    values, missing = conv.joy_axes(msg, [0, 1, 4], default=0.0)

    np.testing.assert_array_equal(values, [0.25, 0.0, 0.0])
    assert missing == 2


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.0, max_value=4e9, allow_nan=False))
def test_stamp_round_trip_within_a_nanosecond(seconds):
    stamp = conv.s_to_stamp(seconds)
    assert 0 <= stamp.nanosec < 1_000_000_000
    assert abs(conv.stamp_to_s(stamp) - seconds) <= 1e-9 * max(1.0, seconds)


@pytest.mark.parametrize('seconds', [-1.0, float('nan'), float('inf')])
def test_bad_stamp_is_an_input_error(seconds):
    with pytest.raises(InputError, match='finite time >= 0'):
        conv.s_to_stamp(seconds)
