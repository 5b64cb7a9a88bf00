"""dagger_ros.core must import with no ROS at all: every module, with ROS made unimportable.

The check runs in a fresh interpreter where ``sys.modules[name] = None`` for rclpy, the message
packages and dagger_ros's own ROS layers, so any import of them, direct or through another
module, raises ImportError. Every ``.py`` file under dagger_ros/core is imported, and the count
is compared with the files on disk, so a module that walk_packages misses fails the test too.
"""

import json
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / 'dagger_ros' / 'core'

BLOCKED = (
    'rclpy', 'rcl_interfaces', 'builtin_interfaces', 'std_msgs', 'std_srvs', 'sensor_msgs',
    'geometry_msgs', 'rosidl_runtime_py', 'rpyutils', 'ament_index_python', 'launch',
    'launch_ros', 'dagger_ros.ros', 'dagger_ros.nodes',
)

PROBE = r"""
import importlib, json, pkgutil, sys, traceback
for name in json.loads(sys.argv[1]):
    sys.modules[name] = None
result = {'imported': [], 'failed': {}, 'blocker_works': False}
try:
    import rclpy  # noqa: F401
except ImportError:
    result['blocker_works'] = True

def on_error(name):
    result['failed'][name] = traceback.format_exc(limit=-3)

import dagger_ros.core
names = ['dagger_ros.core'] + [m.name for m in pkgutil.walk_packages(
    dagger_ros.core.__path__, 'dagger_ros.core.', onerror=on_error)]
for name in names:
    try:
        importlib.import_module(name)
        result['imported'].append(name)
    except Exception:
        result['failed'][name] = traceback.format_exc(limit=-3)
print(json.dumps(result))
"""


def _module_names_on_disk() -> set[str]:
    names = set()
    for path in CORE.rglob('*.py'):
        parts = path.relative_to(REPO).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        names.add('.'.join(parts))
    return names


@pytest.fixture(scope='module')
def probe() -> dict:
    """Import every core module in a subprocess with ROS blocked; return what happened."""
    proc = subprocess.run(
        [sys.executable, '-c', PROBE, json.dumps(BLOCKED)], cwd=REPO,
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f'probe crashed:\n{proc.stdout}\n{proc.stderr}'
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_blocking_rclpy_makes_it_unimportable(probe):
    # Without this the test below could pass with ROS present and importable.
    assert probe['blocker_works']


@pytest.mark.timeout(300)
def test_every_core_module_imports_without_ros(probe):
    failures = '\n'.join(f'--- {name}\n{tb}' for name, tb in sorted(probe['failed'].items()))
    assert not probe['failed'], f'core modules that need ROS (or fail to import):\n{failures}'


@pytest.mark.timeout(300)
def test_every_core_file_on_disk_was_imported(probe):
    on_disk = _module_names_on_disk()
    assert len(on_disk) >= 10, f'expected a real core package, found only {sorted(on_disk)}'
    missing = sorted(on_disk - set(probe['imported']))
    assert not missing, f'core modules never imported by the check: {missing}'
