"""Fixtures for node tests: each test gets its own rclpy Context on a private domain id."""

import os

import pytest
from rclpy.executors import SingleThreadedExecutor

from dagger_ros.ros.testing import private_context

# Discovery stays on this machine: nothing a test publishes leaves it, and no stray
# participant from the network joins a test's domain.
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


@pytest.fixture
def ros_ctx():
    """An initialised Context on a domain id no other process on this machine holds."""
    with private_context() as context:
        yield context


@pytest.fixture
def executor(ros_ctx):
    """A SingleThreadedExecutor on ros_ctx (EventsExecutor is broken in these wheels)."""
    executor = SingleThreadedExecutor(context=ros_ctx)
    yield executor
    executor.shutdown(timeout_sec=1.0)
