"""ROS-free core: policies, dataset, training, gating rules, experts and algorithms.

Nothing under this package imports rclpy or any ROS message package.
"""
