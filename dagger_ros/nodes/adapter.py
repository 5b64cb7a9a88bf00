"""Adapter: a robot's own message types to and from the loop's vectors.

Turns ``joint_states`` (``sensor_msgs/JointState``: the named joints' positions, velocities or
efforts, in ``joint_names`` order) into ``observation``, and ``command`` into ``cmd_vel``
(``geometry_msgs/Twist``, or ``TwistStamped`` as ros2_control's diff drive controller takes, with
``twist_fields`` naming the field of each action dimension). Either direction is off when its
parameter list is empty. A bad message is dropped with a throttled warning, never relayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from dagger_ros.core.errors import ConfigError, InputError
from dagger_ros.core.settings import fixed_meta as _meta
from dagger_ros.nodes.common import main_for, Throttle, warn_bad_input
from dagger_ros.ros import qos, topics
from dagger_ros.ros.conversions import (
    action_to_twist, action_to_twist_stamped, array_to_msg, check_twist_mapping,
    JOINT_FIELDS, joint_state_to_obs, msg_to_array)
from dagger_ros.ros.params import declare_config


@dataclass(frozen=True)
class AdapterConfig:
    """Parameters of the adapter node."""

    joint_names: tuple[str, ...] = field(default=(), metadata=_meta(
        'joints whose values make the observation, in order; empty: no JointState input'))
    joint_fields: tuple[str, ...] = field(default=('position', 'velocity'), metadata=_meta(
        'JointState fields in the observation, all joints per field: position|velocity|effort'))
    twist_fields: tuple[str, ...] = field(default=(), metadata=_meta(
        'Twist field of each action dimension (e.g. linear.x, angular.z); empty: no Twist out'))
    twist_stamped: bool = field(default=False, metadata=_meta(
        'publish geometry_msgs/TwistStamped instead of Twist'))
    frame_id: str = field(default='base_link', metadata=_meta('frame of TwistStamped'))

    def __post_init__(self) -> None:
        unknown = [name for name in self.joint_fields if name not in JOINT_FIELDS]
        if unknown or not self.joint_fields:
            raise ConfigError(f'joint_fields {list(self.joint_fields)} must be a non-empty '
                              f'subset of {JOINT_FIELDS}')
        if self.twist_fields:
            check_twist_mapping(self.twist_fields)
        if not self.joint_names and not self.twist_fields:
            raise ConfigError('set joint_names (JointState in), twist_fields (Twist out) or both')


class Adapter(Node):
    """Relays JointState to observation and command to Twist."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('adapter', **kwargs)
        self.cfg = declare_config(self, AdapterConfig)
        self.throttle = Throttle()
        if self.cfg.joint_names:
            self.obs_pub = self.create_publisher(Float64MultiArray, topics.OBSERVATION,
                                                 qos.for_topic(topics.OBSERVATION))
            self.create_subscription(JointState, 'joint_states', self.on_joint_state,
                                     qos.SENSOR)
        if self.cfg.twist_fields:
            twist_type = TwistStamped if self.cfg.twist_stamped else Twist
            self.twist_pub = self.create_publisher(twist_type, 'cmd_vel', qos.COMMAND)
            self.create_subscription(Float64MultiArray, topics.COMMAND, self.on_command,
                                     qos.for_topic(topics.COMMAND))

    def on_joint_state(self, msg: JointState) -> None:
        """One observation from the named joints."""
        try:
            obs = joint_state_to_obs(msg, self.cfg.joint_names, self.cfg.joint_fields)
        except InputError as err:
            warn_bad_input(self, self.throttle, 'joint state', err)
            return
        self.obs_pub.publish(array_to_msg(obs, 'observation'))

    def on_command(self, msg: Float64MultiArray) -> None:
        """One Twist from the command vector."""
        try:
            action = msg_to_array(msg, len(self.cfg.twist_fields), 'command')
            if self.cfg.twist_stamped:
                twist = action_to_twist_stamped(action, self.cfg.twist_fields,
                                                self.get_clock().now().to_msg(),
                                                self.cfg.frame_id)
            else:
                twist = action_to_twist(action, self.cfg.twist_fields)
        except InputError as err:
            warn_bad_input(self, self.throttle, 'command', err)
            return
        self.twist_pub.publish(twist)

    def shutdown(self) -> None:
        """Stop a mobile base: one zero Twist on the way out."""
        if self.cfg.twist_fields:
            zero = [0.0] * len(self.cfg.twist_fields)
            self.twist_pub.publish(action_to_twist_stamped(
                zero, self.cfg.twist_fields, self.get_clock().now().to_msg(), self.cfg.frame_id)
                if self.cfg.twist_stamped else action_to_twist(zero, self.cfg.twist_fields))


def main(args: Any = None) -> int:
    """Console script ``adapter_node``."""
    return main_for(Adapter, args)


if __name__ == '__main__':
    raise SystemExit(main())
