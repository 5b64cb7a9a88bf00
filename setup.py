"""ament_python package definition for dagger_ros (colcon and pip both build from this file)."""

from glob import glob
import os

from setuptools import find_packages
from setuptools import setup

package_name = 'dagger_ros'


def _config_data_files() -> list[tuple[str, list[str]]]:
    """Install config/*.yaml and each config/<sub>/*.yaml under share/dagger_ros/config."""
    entries = []
    for folder in sorted(['config'] + glob(os.path.join('config', '*', ''))):
        files = sorted(glob(os.path.join(folder, '*.yaml')))
        if files:
            entries.append((os.path.join('share', package_name, os.path.normpath(folder)), files))
    return entries


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench', 'bench.*']),
    package_data={package_name: ['py.typed']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', sorted(glob('launch/*.launch.py'))),
        *_config_data_files(),
    ],
    # On a robot rclpy and the message packages come from /opt/ros (package.xml exec_depend);
    # on a bare machine `pip install .[ros]` takes them from the PyPI wheels instead.
    # torch>=2.2 is satisfied by an already installed CPU build: install that one first
    # (scripts/bootstrap.sh does) or pip resolves the default, CUDA, build.
    install_requires=[
        'numpy',
        'pyyaml',
        'torch>=2.2',
        'safetensors',
        'gymnasium>=1.0',
        'matplotlib',
        'tqdm',
    ],
    extras_require={
        'ros': [
            'ros-rclpy',
            'ros-rcl-interfaces',
            'ros-std-msgs',
            'ros-sensor-msgs',
            'ros-geometry-msgs',
            'ros-std-srvs',
            'ros-rmw-fastrtps-cpp',
        ],
        # Box2D and pygame directly, not gymnasium[box2d]: that extra pulls pygame-ce, which
        # installs into the same `pygame` package folder as pygame and overwrites its files.
        'sim': [
            'gymnasium[mujoco]>=1.0',
            'box2d>=2.3.10',
            'pygame>=2.1.3',
        ],
        'test': [
            'pytest',
            'pytest-timeout',
            'hypothesis',
            'scipy',
            'flake8>=7',
            'flake8-blind-except',
            'flake8-builtins',
            'flake8-class-newline',
            'flake8-comprehensions',
            'flake8-deprecated',
            'flake8-docstrings',
            'flake8-import-order',
            'flake8-print',
            'flake8-quotes',
            'ros-ament-flake8',
            'colcon-common-extensions',
            'setuptools>=64',  # colcon runs setup.py with the environment's own setuptools
        ],
    },
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='dagger_ros maintainers',
    maintainer_email='maintainers@users.noreply.r-seed-3f907120.example',
    description='Interactive imitation learning (DAgger and its family) live over ROS 2.',
    license='Apache-2.0',
    classifiers=[
        'Intended Audience :: Science/Research',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    entry_points={
        'console_scripts': [
            'dagger-ros = dagger_ros.cli:main',
            'dagger-ros-live = dagger_ros.run:main',
            'sim_bridge_node = dagger_ros.nodes.sim_bridge:main',
            'policy_executor_node = dagger_ros.nodes.policy_executor:main',
            'scripted_expert_node = dagger_ros.nodes.scripted_expert:main',
            'expert_gate_node = dagger_ros.nodes.expert_gate:main',
            'trainer_node = dagger_ros.nodes.trainer:main',
            'composed_node = dagger_ros.nodes.composed:main',
            'gamepad_node = dagger_ros.nodes.gamepad:main',
            'adapter_node = dagger_ros.nodes.adapter:main',
            'live_view_node = dagger_ros.nodes.live_view:main',
        ],
    },
)
