"""Live DAgger in simulation: gymnasium bridge, policy, scripted expert, gate and trainer.

Example::

    ros2 launch dagger_ros sim_dagger.launch.py algorithm:=dagger namespace:=sim1

The arguments and nodes come from dagger_ros.graph (the graph is declared once there, and the
bare-machine runner `python -m dagger_ros.run` starts the same nodes); see `ros2 launch dagger_ros
sim_dagger.launch.py --show-args`.
"""

from dagger_ros import graph


def generate_launch_description():
    """Declare the arguments; the nodes are built from dagger_ros.graph once resolved."""
    return graph.launch_description('sim_dagger')
