r"""Live DAgger on a robot: no simulator, the loop's topics remapped to the robot's own.

The expert is a human on a gamepad (expert:=human) or a scripted expert (expert:=scripted).

Example::

    ros2 launch dagger_ros robot_dagger.launch.py \
        observation_topic:=/arm/observation command_topic:=/arm/command

The arguments and nodes come from dagger_ros.graph (the graph is declared once there, and the
bare-machine runner `dagger-ros-live` starts the same nodes); see `ros2 launch dagger_ros
robot_dagger.launch.py --show-args`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from dagger_ros import graph

LAUNCH_FILE = 'robot_dagger'


def _nodes(context, *args, **kwargs):
    """Resolve the arguments to text, then build the Node actions from the graph."""
    values = {name: LaunchConfiguration(name).perform(context)
              for name in graph.launch_configuration_names(LAUNCH_FILE)}
    return [Node(**node_kwargs) for node_kwargs in graph.launch_node_kwargs(LAUNCH_FILE, values)]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the nodes are built once they are resolved."""
    arguments = [DeclareLaunchArgument(arg.name, default_value=arg.default,
                                       description=arg.description)
                 for arg in graph.launch_arguments(LAUNCH_FILE)]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
