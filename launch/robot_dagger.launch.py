r"""Live DAgger on a robot: no simulator, the loop's topics remapped to the robot's own.

The expert is a human on a gamepad (expert:=human) or a scripted expert (expert:=scripted).

Example::

    ros2 launch dagger_ros robot_dagger.launch.py \
        observation_topic:=/arm/observation command_topic:=/arm/command

The arguments and nodes come from dagger_ros.graph (the graph is declared once there, and the
bare-machine runner `python -m dagger_ros.run` starts the same nodes); see `ros2 launch dagger_ros
robot_dagger.launch.py --show-args`.
"""

from dagger_ros import graph


def generate_launch_description():
    """Declare the arguments; the nodes are built from dagger_ros.graph once resolved."""
    return graph.launch_description('robot_dagger')
