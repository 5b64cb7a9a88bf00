"""Run one offline `dagger-ros run` experiment (scripted expert, gymnasium task) from launch.

Example, with the task's settings file from share/dagger_ros/config::

    ros2 launch dagger_ros offline_dagger.launch.py algorithm:=hg_dagger
        env_id:=InvertedDoublePendulum-v5 config:=<share>/config/inverted_double_pendulum.yaml

The experiment runs in the launching Python (``python -m dagger_ros.cli``), so it works the
same for a colcon install (executable in lib/dagger_ros) and a pip install (executable in bin).
Launch shuts down when the run ends; Ctrl-C interrupts it and `dagger-ros resume` continues.
"""

import sys

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import ExecuteProcess
from launch.actions import Shutdown
from launch.substitutions import LaunchConfiguration
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    """Declare env_id, algorithm, config and seed; run the CLI with them."""
    default_config = PathJoinSubstitution(
        [FindPackageShare('dagger_ros'), 'config', 'pendulum.yaml'])
    return LaunchDescription([
        DeclareLaunchArgument(
            'env_id', default_value='Pendulum-v1', description='gymnasium env id'),
        DeclareLaunchArgument(
            'algorithm', default_value='dagger',
            description='bc, dagger, hg_dagger, safe_dagger, lazy_dagger, ensemble_dagger, '
                        'thrifty_dagger, dart, budgeted or async'),
        DeclareLaunchArgument(
            'config', default_value=default_config,
            description='YAML of settings (keys as in `dagger-ros list`) for this env_id'),
        DeclareLaunchArgument(
            'seed', default_value='0', description='seed of resets, sampling and training'),
        ExecuteProcess(
            name='dagger_ros_cli',
            cmd=[sys.executable, '-m', 'dagger_ros.cli', 'run',
                 '--env', LaunchConfiguration('env_id'),
                 '--algorithm', LaunchConfiguration('algorithm'),
                 '--config', LaunchConfiguration('config'),
                 '--seed', LaunchConfiguration('seed')],
            output='screen',
            on_exit=[Shutdown(reason='dagger-ros run finished')],
        ),
    ])
