r"""Human-gated DAgger (HG-DAgger): a human on a gamepad takes over when the policy errs.

In simulation (world:=sim) or on a robot (world:=robot, with observation_topic and
command_topic remapping the loop onto the robot's topics).

Example::

    ros2 launch dagger_ros hg_dagger.launch.py \
        gamepad_file:=<share>/config/gamepads/xbox.yaml

The arguments and nodes come from dagger_ros.graph (the graph is declared once there, and the
bare-machine runner `python -m dagger_ros.run` starts the same nodes); see `ros2 launch dagger_ros
hg_dagger.launch.py --show-args`.
"""

from dagger_ros import graph


def generate_launch_description():
    """Declare the arguments; the nodes are built from dagger_ros.graph once resolved."""
    return graph.launch_description('hg_dagger')
