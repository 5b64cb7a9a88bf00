"""Messages to and from NumPy arrays, checked: a bad message raises InputError naming got/expected.

Pure functions over message objects (no node, no clock). Nodes call them inside callbacks and
turn an InputError into a safe action plus a throttled warning; the Joy helpers never raise,
because a short Joy array is an everyday event (a different controller) rather than a bug.
"""

from __future__ import annotations

import array
import functools
from typing import Any, NamedTuple, Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from geometry_msgs.msg import TwistStamped
import numpy as np
from sensor_msgs.msg import JointState
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray
from std_msgs.msg import MultiArrayDimension

from dagger_ros.core.errors import ConfigError
from dagger_ros.core.errors import InputError

JOINT_FIELDS = ('position', 'velocity', 'effort')
TWIST_FIELDS = tuple(f'{part}.{axis}' for part in ('linear', 'angular') for axis in 'xyz')


def _finite_vector(values: Any, what: str) -> np.ndarray:
    """Return values as a finite 1-D float64 array; raise InputError naming got and expected."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f'{what} must be numeric, got {type(values).__name__} ({err}); '
                         f'expected a vector of floats') from err
    if arr.ndim != 1:
        raise InputError(f'{what} has shape {arr.shape}, expected a vector of shape (n,)')
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InputError(f'{what} has non-finite entries at {bad[:5].tolist()}; '
                         f'expected finite values')
    return arr


def array_to_msg(values: Any, label: str = 'data') -> Float64MultiArray:
    """Return a Float64MultiArray of a finite 1-D vector, its one layout dimension named label.

    Raises:
        InputError: for a vector that is not 1-D, not numeric or not finite.
    """
    arr = _finite_vector(values, label)
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=label, size=arr.size, stride=arr.size)]
    msg.data = array.array('d', arr.tobytes())
    return msg


def msg_to_array(msg: Float64MultiArray, expected_dim: int | None, what: str) -> np.ndarray:
    """Return a message's data as a finite float64 vector of expected_dim values (None: any).

    The layout's data_offset is honoured; further layout dimensions are not interpreted.

    Raises:
        InputError: naming what, the size got and the size expected, or the non-finite entries.
    """
    arr = np.array(msg.data, dtype=np.float64)[msg.layout.data_offset:]
    if expected_dim is not None and arr.size != expected_dim:
        raise InputError(f'{what} has {arr.size} values, expected {expected_dim}')
    return _finite_vector(arr, what)


def fields_to_msg(values: Any, fields: Sequence[tuple[str, int]]) -> Float64MultiArray:
    """Return a Float64MultiArray whose layout dims list named fields (name, size) of the vector.

    This is how core.wire's labelled samples travel: the field list describes the flat vector,
    so no code table is shared between publisher and subscriber.

    Raises:
        InputError: when the field sizes do not add up to the vector's length.
    """
    arr = _finite_vector(values, 'labelled vector')
    _check_field_sizes(arr.size, fields)
    msg = Float64MultiArray()
    msg.layout.dim = list(_field_dims(tuple((name, int(size)) for name, size in fields)))
    msg.data = array.array('d', arr.tobytes())
    return msg


@functools.lru_cache(maxsize=256)
def _field_dims(fields: tuple[tuple[str, int], ...]) -> tuple[MultiArrayDimension, ...]:
    """Layout dims of a field list; a loop sends the same few lists every step, so reuse them."""
    return tuple(MultiArrayDimension(label=name, size=size, stride=size) for name, size in fields)


def msg_to_fields(msg: Float64MultiArray, what: str) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Inverse of :func:`fields_to_msg`: the finite vector and its field list.

    Raises:
        InputError: when the fields do not add up to the data's length or data is not finite.
    """
    fields = [(dim.label, int(dim.size)) for dim in msg.layout.dim]
    arr = msg_to_array(msg, None, what)
    _check_field_sizes(arr.size, fields, what)
    return arr, fields


def _check_field_sizes(total: int, fields: Sequence[tuple[str, int]],
                       what: str = 'labelled vector') -> None:
    sizes = [int(size) for _, size in fields]
    if any(size < 0 for size in sizes) or sum(sizes) != total:
        raise InputError(f'{what} has {total} values but its fields {list(fields)} add up to '
                         f'{sum(sizes)}; expected equal')


def joint_state_to_obs(msg: JointState, joint_names: Sequence[str],
                       fields: Sequence[str] = ('position', 'velocity')) -> np.ndarray:
    """Return the named joints' fields as one vector, field by field.

    All positions (in joint_names order), then all velocities, and so on for each entry of
    fields; joints the message has but joint_names lacks are left out.

    Raises:
        InputError: naming a joint that is missing, a field with fewer entries than names, or a
            non-finite value.
        ConfigError: for a field that is not position, velocity or effort.
    """
    unknown = [name for name in fields if name not in JOINT_FIELDS]
    if unknown:
        raise ConfigError(f'joint fields {unknown} unknown; expected a subset of {JOINT_FIELDS}')
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise InputError(f'JointState lacks joints {missing}; got names {list(msg.name)}')
    rows = [index[name] for name in joint_names]
    parts = []
    for field in fields:
        values = np.asarray(getattr(msg, field), dtype=np.float64)
        if values.size < len(msg.name):
            raise InputError(f'JointState.{field} has {values.size} entries for '
                             f'{len(msg.name)} names; expected one per name')
        parts.append(values[rows])
    obs = np.concatenate(parts) if parts else np.zeros(0)
    return _finite_vector(obs, 'JointState observation')


def check_twist_mapping(mapping: Sequence[str]) -> tuple[str, ...]:
    """Return mapping as a tuple after checking every entry is a Twist field path, once.

    Raises:
        ConfigError: naming the unknown or repeated entries.
    """
    mapping = tuple(mapping)
    unknown = [path for path in mapping if path not in TWIST_FIELDS]
    repeated = sorted({path for path in mapping if mapping.count(path) > 1})
    if unknown or repeated or not mapping:
        raise ConfigError(f'Twist mapping {mapping} has unknown fields {unknown} or repeats '
                          f'{repeated}; expected 1 to 6 distinct entries of {TWIST_FIELDS}')
    return mapping


def action_to_twist(action: Any, mapping: Sequence[str]) -> Twist:
    """Return a Twist with action[i] in field mapping[i] (e.g. ('linear.x', 'angular.z')).

    Fields not in mapping are zero.

    Raises:
        InputError: for an action whose length differs from the mapping's or is not finite.
        ConfigError: for a bad mapping (see :func:`check_twist_mapping`).
    """
    mapping = check_twist_mapping(mapping)
    arr = _finite_vector(action, 'Twist action')
    if arr.size != len(mapping):
        raise InputError(f'Twist action has {arr.size} values, expected {len(mapping)} for '
                         f'mapping {mapping}')
    msg = Twist()
    for path, value in zip(mapping, arr.tolist()):
        part, axis = path.split('.')
        setattr(getattr(msg, part), axis, value)
    return msg


def action_to_twist_stamped(action: Any, mapping: Sequence[str], stamp: Time,
                            frame_id: str = '') -> TwistStamped:
    """Like :func:`action_to_twist`, wrapped in a TwistStamped (ros2_control's cmd_vel type)."""
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.twist = action_to_twist(action, mapping)
    return msg


def twist_to_action(msg: Twist | TwistStamped, mapping: Sequence[str]) -> np.ndarray:
    """Return the mapped fields of a Twist (or TwistStamped) as an action vector.

    Raises:
        InputError: for a non-finite field.
        ConfigError: for a bad mapping (see :func:`check_twist_mapping`).
    """
    mapping = check_twist_mapping(mapping)
    twist = msg.twist if isinstance(msg, TwistStamped) else msg
    values = [getattr(getattr(twist, part), axis)
              for part, axis in (path.split('.') for path in mapping)]
    return _finite_vector(values, 'Twist')


class JoyValues(NamedTuple):
    """Axes read from a Joy message and how many of them were missing (default used)."""

    values: np.ndarray
    missing: int


def joy_axis(msg: Joy, index: int, default: float = 0.0) -> float:
    """Return axis index, or default when the array is too short, index < 0, or it is not finite.

    Never raises: callers compare with :func:`has_axis` or use :func:`joy_axes` to count misses.
    """
    if not has_axis(msg, index):
        return float(default)
    return float(msg.axes[index])


def has_axis(msg: Joy, index: int) -> bool:
    """True when axis index exists in msg and holds a finite value."""
    return 0 <= index < len(msg.axes) and bool(np.isfinite(msg.axes[index]))


def joy_button(msg: Joy, index: int, default: bool = False) -> bool:
    """Return whether button index is pressed, or default when it is missing (or index < 0)."""
    if not 0 <= index < len(msg.buttons):
        return default
    return bool(msg.buttons[index])


def joy_axes(msg: Joy, indices: Sequence[int], default: float = 0.0) -> JoyValues:
    """Return the axes at indices as a vector, with the count of those replaced by default."""
    present = [has_axis(msg, index) for index in indices]
    values = np.array([float(msg.axes[i]) if ok else float(default)
                       for i, ok in zip(indices, present)], dtype=np.float64)
    return JoyValues(values, present.count(False))


def stamp_to_s(stamp: Time) -> float:
    """Return a builtin_interfaces/Time as seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def s_to_stamp(seconds: float) -> Time:
    """Return seconds (>= 0) as a builtin_interfaces/Time.

    Raises:
        InputError: for a negative or non-finite time.
    """
    if not (np.isfinite(seconds) and seconds >= 0):
        raise InputError(f'a stamp must be a finite time >= 0 s, got {seconds!r}')
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


TAG_SEPARATOR = '='


def tagged_msg(values: Any, label: str, tags: dict[str, float]) -> Float64MultiArray:
    """Return a Float64MultiArray of values whose extra, empty layout dims carry numeric tags.

    A tag is a dimension of size 0 labelled ``name=value``: consumers that read only ``data``
    (ros2_control's forward command controllers, plotting tools) ignore it, while the loop's
    nodes use it for the step sequence number, policy version and doubt.

    Raises:
        InputError: for a vector that is not 1-D, numeric and finite.
    """
    msg = array_to_msg(values, label)
    for name, value in tags.items():
        msg.layout.dim.append(MultiArrayDimension(
            label=f'{name}{TAG_SEPARATOR}{float(value)!r}', size=0, stride=0))
    return msg


def msg_tags(msg: Float64MultiArray) -> dict[str, float]:
    """Return the numeric tags of a message (see :func:`tagged_msg`); skip malformed ones."""
    tags = {}
    for dim in msg.layout.dim:
        name, sep, text = dim.label.partition(TAG_SEPARATOR)
        if not sep or dim.size:
            continue
        try:
            tags[name] = float(text)
        except ValueError:
            continue
    return tags


def bundle_to_msg(data: bytes, fields: Sequence[tuple[str, int]]) -> Any:
    """Return a std_msgs/UInt8MultiArray of packed bytes whose dims name each part."""
    from std_msgs.msg import UInt8MultiArray
    msg = UInt8MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=label, size=int(size), stride=int(size))
                      for label, size in fields]
    msg.data = array.array('B', data)
    return msg


def msg_to_bundle(msg: Any) -> tuple[bytes, list[tuple[str, int]]]:
    """Inverse of :func:`bundle_to_msg`: the bytes and the (label, size) of each part."""
    fields = [(dim.label, int(dim.size)) for dim in msg.layout.dim]
    return bytes(msg.data), fields
