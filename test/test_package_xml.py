"""package.xml and setup.py describe the same package, the way colcon, rosdep and pip read them."""

import contextlib
import os
from pathlib import Path
import re
import runpy
from unittest import mock
import xml.etree.ElementTree as ET

import pytest
import setuptools

import dagger_ros

REPO = Path(__file__).resolve().parents[1]

# ROS packages a robot gets from /opt/ros (package.xml exec_depend) and a bare machine from the
# PyPI wheels in the 'ros' extra (ros-<name with dashes>).
ROS_PACKAGES = {'rclpy', 'rcl_interfaces', 'std_msgs', 'std_srvs', 'sensor_msgs', 'geometry_msgs'}
# The ROS middleware a bare machine needs; on a robot the distribution picks it.
RMW_WHEELS = {'ros-rmw-fastrtps-cpp'}
# pip requirement -> rosdep key, for the requirements that have one.
ROSDEP_KEYS = {
    'numpy': 'python3-numpy', 'pyyaml': 'python3-yaml', 'matplotlib': 'python3-matplotlib',
    'tqdm': 'python3-tqdm',
}
# No usable rosdep key (rosdistro marks python3-pytorch-pip end-of-life): pip only.
PIP_ONLY = {'torch', 'safetensors', 'gymnasium'}


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@pytest.fixture(scope='module')
def setup_kwargs() -> dict:
    """The keyword arguments setup.py passes to setuptools.setup(), without building anything."""
    captured = {}
    with _cwd(REPO), mock.patch.object(setuptools, 'setup', lambda **kw: captured.update(kw)):
        runpy.run_path(str(REPO / 'setup.py'), run_name='__main__')
    assert captured, 'setup.py did not call setuptools.setup()'
    return captured


@pytest.fixture(scope='module')
def package() -> ET.Element:
    """The parsed package.xml root element."""
    return ET.parse(REPO / 'package.xml').getroot()


def _deps(package: ET.Element, tag: str) -> set[str]:
    return {element.text.strip() for element in package.findall(tag)}


def _requirement_name(requirement: str) -> str:
    return re.split(r'[\[<>=!~; ]', requirement, maxsplit=1)[0].lower()


def test_package_xml_is_format_3_with_its_schema(package):
    assert package.get('format') == '3'
    head = (REPO / 'package.xml').read_text().split('<package', 1)[0]
    assert 'package_format3.xsd' in head, 'the xml-model line should name package_format3.xsd'


def test_name_version_and_license_agree_everywhere(package, setup_kwargs):
    assert package.findtext('name') == setup_kwargs['name'] == 'dagger_ros'
    assert package.findtext('version') == setup_kwargs['version'] == dagger_ros.__version__
    assert package.findtext('license') == setup_kwargs['license']
    maintainer = package.find('maintainer')
    assert maintainer is not None and maintainer.get('email') == setup_kwargs['maintainer_email']


def test_builds_as_ament_python(package):
    assert package.findtext('export/build_type') == 'ament_python'
    assert _deps(package, 'buildtool_depend') == {'ament_python'}


def test_ros_packages_are_exec_depend_only(package):
    # Nothing is compiled against them: build_depend/depend would only slow a robot's build.
    exec_ros = _deps(package, 'exec_depend') & ROS_PACKAGES
    assert exec_ros == ROS_PACKAGES
    for tag in ('depend', 'build_depend', 'build_export_depend'):
        assert not _deps(package, tag) & ROS_PACKAGES, f'ROS packages found as <{tag}>'


def test_install_requires_holds_no_ros_wheel(setup_kwargs):
    names = {_requirement_name(r) for r in setup_kwargs['install_requires']}
    ros = sorted(n for n in names if n.startswith('ros-'))
    assert not ros, f'ROS wheels belong in the "ros" extra only (robots use /opt/ros): {ros}'


def test_ros_extra_mirrors_the_ros_exec_depends(setup_kwargs):
    wheels = {_requirement_name(r) for r in setup_kwargs['extras_require']['ros']}
    expected = {'ros-' + name.replace('_', '-') for name in ROS_PACKAGES} | RMW_WHEELS
    assert wheels == expected


def test_every_pip_requirement_has_a_rosdep_key_or_is_pip_only(package, setup_kwargs):
    names = {_requirement_name(r) for r in setup_kwargs['install_requires']}
    assert names == set(ROSDEP_KEYS) | PIP_ONLY
    exec_keys = _deps(package, 'exec_depend')
    missing = sorted(key for name, key in ROSDEP_KEYS.items() if key not in exec_keys)
    assert not missing, f'rosdep keys missing from package.xml exec_depend: {missing}'


def test_torch_requirement_accepts_the_installed_cpu_build(setup_kwargs):
    # An exact pin would make pip replace the CPU build with the default (CUDA) one.
    torch = [r for r in setup_kwargs['install_requires'] if _requirement_name(r) == 'torch']
    assert torch == ['torch>=2.2']


def test_console_script_points_at_an_existing_main(setup_kwargs):
    scripts = setup_kwargs['entry_points']['console_scripts']
    target = dict(s.replace(' ', '').split('=') for s in scripts)['dagger-ros']
    module, function = target.split(':')
    assert (REPO / (module.replace('.', '/') + '.py')).is_file()
    source = (REPO / (module.replace('.', '/') + '.py')).read_text()
    assert re.search(rf'^def {function}\(', source, re.MULTILINE)


def test_declared_test_checks_are_the_ones_wired(package):
    # STYLE: never declare a check that CI does not run; ament_flake8 runs in test_lint.py.
    linters = {d for d in _deps(package, 'test_depend') if d.startswith('ament_')}
    assert linters == {'ament_flake8'}
    assert (REPO / 'test' / 'test_lint.py').is_file()
