"""dagger_ros: interactive imitation learning (DAgger and its family) live over ROS 2."""

__version__ = '0.1.0'
