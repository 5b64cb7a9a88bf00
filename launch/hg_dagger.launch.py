r"""Human-gated DAgger (HG-DAgger): a human on a gamepad takes over when the policy errs.

In simulation (world:=sim) or on a robot (world:=robot, with observation_topic and
command_topic remapping the loop onto the robot's topics).

Example::

    ros2 launch dagger_ros hg_dagger.launch.py \
        gamepad_file:=<share>/config/gamepads/xbox.yaml

The arguments and nodes come from dagger_ros.graph (the graph is declared once there, and the
bare-machine runner `dagger-ros-live` starts the same nodes); see `ros2 launch dagger_ros
hg_dagger.launch.py --show-args`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from dagger_ros import graph

LAUNCH_FILE = 'hg_dagger'


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
