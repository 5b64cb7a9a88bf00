"""The test helpers themselves: bounded waits, domain ids, private contexts, the probe."""

import os
import random
import time

import pytest
from std_msgs.msg import Float64MultiArray

from dagger_ros.ros import topics
from dagger_ros.ros.conversions import array_to_msg
from dagger_ros.ros.testing import claim_domain_id
from dagger_ros.ros.testing import private_context
from dagger_ros.ros.testing import Probe
from dagger_ros.ros.testing import spin_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(60)]


def test_spin_until_returns_false_at_the_deadline(executor):
    start = time.monotonic()

    assert spin_until(executor, lambda: False, 0.3) is False

    assert 0.3 <= time.monotonic() - start < 1.5


def test_claimed_domain_ids_are_distinct_and_never_the_environments(monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '7')
    rng = random.Random(0)
    with claim_domain_id(rng) as first, claim_domain_id(rng) as second:
        assert first != second
        assert 7 not in (first, second)
        assert all(1 <= i <= 101 for i in (first, second))


def test_claimed_id_is_free_again_after_release(tmp_path, monkeypatch):
    monkeypatch.setenv('DAGGER_ROS_DOMAIN_LOCK_DIR', str(tmp_path))
    with claim_domain_id(random.Random(1)) as held:
        pass
    with claim_domain_id(random.Random(1)) as again:
        assert again == held


def test_private_domains_do_not_see_each_other(ros_ctx, executor):
    # GIVEN a probe publishing observations on another domain, and one on the test's own
    with private_context() as other_ctx:
        elsewhere = Probe(other_ctx, publishes={topics.OBSERVATION: Float64MultiArray},
                          name='elsewhere')
        here = Probe(ros_ctx, publishes={topics.OBSERVATION: Float64MultiArray}, name='here')
        listener = Probe(ros_ctx, collects={topics.OBSERVATION: Float64MultiArray})
        executor.add_node(listener)
        assert spin_until(executor, lambda: here._pubs[topics.OBSERVATION]
                          .get_subscription_count() > 0, 10.0)

        # WHEN both publish
        elsewhere.publish(topics.OBSERVATION, array_to_msg([-1.0]))
        here.publish(topics.OBSERVATION, array_to_msg([1.0]))

        # THEN only the own domain's message arrives
        assert spin_until(executor, lambda: listener.count(topics.OBSERVATION) >= 1, 10.0)
        assert elsewhere._pubs[topics.OBSERVATION].get_subscription_count() == 0
    assert [list(m.data) for m in listener.messages(topics.OBSERVATION)] == [[1.0]]
    assert ros_ctx.get_domain_id() != int(os.environ.get('ROS_DOMAIN_ID', '0') or 0)


def test_probe_records_every_message_with_its_arrival_time(ros_ctx, executor):
    sender = Probe(ros_ctx, publishes={topics.COMMAND: Float64MultiArray}, name='sender')
    probe = Probe(ros_ctx, collects={topics.COMMAND: Float64MultiArray}, namespace='robot1')
    probe_default_ns = Probe(ros_ctx, collects={topics.COMMAND: Float64MultiArray},
                             name='default_ns')
    executor.add_node(probe)
    executor.add_node(probe_default_ns)
    assert spin_until(executor, probe_default_ns.is_connected, 10.0)
    assert not probe.is_connected(), 'the relative name resolves into the namespace'

    for value in range(20):
        # One at a time: COMMAND keeps only the newest sample on the sender's side.
        sender.publish(topics.COMMAND, array_to_msg([float(value)]))
        assert spin_until(executor, lambda: probe_default_ns.count(topics.COMMAND) > value, 5.0)

    times = [item.time_s for item in probe_default_ns.received[topics.COMMAND]]
    assert times == sorted(times)
    assert [m.data[0] for m in probe_default_ns.messages(topics.COMMAND)] == list(range(20))
    assert probe_default_ns.last(topics.COMMAND).data[0] == 19.0
    probe_default_ns.clear()
    assert probe_default_ns.count(topics.COMMAND) == 0
