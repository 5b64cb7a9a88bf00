"""The live loop's rclpy nodes: thin wrappers that translate messages, parameters and timers.

Every decision is made in :mod:`dagger_ros.core`; a node only converts messages to arrays and
back, declares its parameters and runs its timers. Each module has a ``main()`` that is its
console script (``<role>_node``).
"""
