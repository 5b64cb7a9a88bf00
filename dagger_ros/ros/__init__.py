"""Thin rclpy glue shared by every node: parameters, message conversions, QoS, topic names.

Nothing in :mod:`dagger_ros.core` imports this package. Import the submodules directly
(``from dagger_ros.ros import qos``); this file imports nothing, so that :mod:`topics` stays
usable without rclpy.
"""
