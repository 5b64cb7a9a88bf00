"""QoS profiles: who matches whom (asked of rmw, no DDS), and what each profile delivers (DDS)."""

import pytest
from rclpy.node import Node
from rclpy.qos import LivelinessPolicy
from rclpy.qos import qos_check_compatible
from rclpy.qos import QoSCompatibility
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from std_msgs.msg import Int64

from dagger_ros.core.errors import ConfigError
from dagger_ros.ros import qos
from dagger_ros.ros import topics
from dagger_ros.ros.testing import spin_until

pytestmark = pytest.mark.timeout(60)

BEST_EFFORT_DRIVER = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
                                liveliness=LivelinessPolicy.AUTOMATIC)
RELIABLE_DEFAULT = QoSProfile(depth=10, liveliness=LivelinessPolicy.AUTOMATIC)


def _compatible(pub, sub):
    return qos_check_compatible(pub, sub)[0] == QoSCompatibility.OK


@pytest.mark.parametrize('name', topics.ALL)
def test_every_topic_has_one_profile_that_matches_itself(name):
    profile = qos.for_topic(name)
    assert _compatible(profile, profile)


def test_unknown_topic_has_no_profile():
    with pytest.raises(ConfigError, match="no QoS profile for topic 'cmd_vel'"):
        qos.for_topic('cmd_vel')


@pytest.mark.parametrize('publisher', [BEST_EFFORT_DRIVER, RELIABLE_DEFAULT, qos.COMMAND])
def test_sensor_subscription_matches_any_driver(publisher):
    assert _compatible(publisher, qos.SENSOR)


@pytest.mark.parametrize('subscription', [BEST_EFFORT_DRIVER, RELIABLE_DEFAULT, qos.SENSOR])
def test_command_publisher_matches_any_robot_subscription(subscription):
    assert _compatible(qos.COMMAND, subscription)


def test_latched_subscription_needs_a_latched_publisher():
    assert _compatible(qos.LATCHED, qos.LATCHED)
    assert _compatible(qos.LATCHED, RELIABLE_DEFAULT)
    assert not _compatible(RELIABLE_DEFAULT, qos.LATCHED)


def test_command_deadline_must_be_on_both_sides():
    with_deadline = qos.command_qos(0.1)
    assert _compatible(with_deadline, with_deadline)
    assert not _compatible(qos.COMMAND, with_deadline)
    assert qos.COMMAND.deadline.nanoseconds == 0, 'command_qos must not change COMMAND'


@pytest.mark.parametrize('deadline_s', [0.0, -1.0, float('inf'), float('nan')])
def test_bad_deadline_is_refused(deadline_s):
    with pytest.raises(ConfigError, match='deadline_s must be > 0'):
        qos.command_qos(deadline_s)


def _publish(node, profile, values):
    pub = node.create_publisher(Int64, 'x', profile)
    for value in values:
        pub.publish(Int64(data=value))
    return pub


def _recorder(node, profile, received):
    return node.create_subscription(Int64, 'x', lambda msg: received.append(msg.data), profile)


@pytest.mark.ros
def test_latched_gives_a_late_joiner_only_the_newest_value(ros_ctx, executor):
    # GIVEN weights versions 1..3 published before anyone listens
    node = Node('latched', context=ros_ctx)
    executor.add_node(node)
    _publish(node, qos.LATCHED, [1, 2, 3])
    received = []

    # WHEN an executor joins late
    _recorder(node, qos.LATCHED, received)

    # THEN it gets version 3 at once, and nothing older
    assert spin_until(executor, lambda: received, 10.0)
    assert received == [3]


@pytest.mark.ros
def test_labels_published_before_the_trainer_joins_all_arrive_in_order(ros_ctx, executor):
    node = Node('labels', context=ros_ctx)
    executor.add_node(node)
    _publish(node, qos.LABELS, range(300))
    received = []

    _recorder(node, qos.LABELS, received)

    assert spin_until(executor, lambda: len(received) >= 300, 20.0)
    assert received == list(range(300))


@pytest.mark.ros
def test_labels_survive_a_subscriber_that_does_not_spin_while_commands_keep_the_newest(
        ros_ctx, executor):
    # GIVEN matched subscriptions that are not being spun (a busy trainer)
    node = Node('burst', context=ros_ctx)
    executor.add_node(node)
    labels, commands = [], []
    _recorder(node, qos.LABELS, labels)
    command_sub = node.create_subscription(
        Int64, 'cmd', lambda msg: commands.append(msg.data), qos.COMMAND)
    label_pub = node.create_publisher(Int64, 'x', qos.LABELS)
    command_pub = node.create_publisher(Int64, 'cmd', qos.COMMAND)
    assert spin_until(executor, lambda: label_pub.get_subscription_count() > 0
                      and command_sub.get_publisher_count() > 0, 10.0)

    # WHEN a burst is published meanwhile
    for value in range(500):
        label_pub.publish(Int64(data=value))
        command_pub.publish(Int64(data=value))

    # THEN every label arrives, while the command subscriber sees the newest and skips most
    assert spin_until(executor, lambda: len(labels) >= 500 and commands[-1:] == [499], 20.0)
    assert labels == list(range(500))
    assert len(commands) < 500 and commands == sorted(commands)
