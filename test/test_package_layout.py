"""Both installs put every file where its users look: colcon (ROS) and pip (bare machine).

colcon installs executables in lib/dagger_ros (where `ros2 run` looks, via setup.cfg) and an
ament index entry; pip ignores setup.cfg's script dir and puts console scripts in bin/. Both
install package.xml, launch files and configs under share/dagger_ros. Each build runs on a
copy of the repository in a temporary directory, so the checkout is never touched.
"""

import ast
import os
from pathlib import Path
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SKIP_AT_TOP = {'.venv', '.git', 'build', 'install', 'log', 'runs', '.hypothesis', '.mypy_cache',
               '.pytest_cache', 'MUJOCO_LOG.TXT'}
SITE = Path(sysconfig.get_path('purelib')).relative_to(sysconfig.get_path('data'))

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(120)]


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {'__pycache__'} | {n for n in names if n.endswith('.egg-info')}
    if Path(directory) == REPO:
        skip |= SKIP_AT_TOP
    return skip & set(names)


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=100,
                          **kwargs)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def _repo_files(pattern: str) -> set[str]:
    return {str(p.relative_to(REPO)) for p in REPO.glob(pattern)}


def _expected_share_files() -> set[str]:
    return ({'package.xml'} | _repo_files('launch/*.launch.py') | _repo_files('config/*.yaml')
            | _repo_files('config/*/*.yaml'))


def _assert_share_layout(prefix: Path) -> None:
    assert (prefix / 'share/ament_index/resource_index/packages/dagger_ros').is_file()
    share = prefix / 'share' / 'dagger_ros'
    missing = sorted(f for f in _expected_share_files() if not (share / f).is_file())
    assert not missing, f'not installed under {share}: {missing}'
    assert _repo_files('launch/*.launch.py') and _repo_files('config/*.yaml')


def _env_with_pythonpath(site_packages: Path) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(site_packages)
    return env


@pytest.fixture(scope='module')
def source_copy(tmp_path_factory) -> Path:
    """The package sources, copied as a fresh clone would have them."""
    copy = tmp_path_factory.mktemp('src') / 'dagger_ros'
    shutil.copytree(REPO, copy, ignore=_ignore)
    return copy


@pytest.fixture(scope='module')
def colcon_prefix(source_copy, tmp_path_factory) -> Path:
    """The install prefix of `colcon build` of the copy."""
    work = tmp_path_factory.mktemp('colcon')
    _run([BIN / 'colcon', '--log-base', work / 'log', 'build', '--base-paths', source_copy,
          '--build-base', work / 'build', '--install-base', work / 'install'], cwd=work)
    return work / 'install' / 'dagger_ros'


def _venv_install(cwd: Path) -> str:
    """Where the running environment's dagger_ros distribution lives ('' when none)."""
    code = ('import importlib.metadata as m\ntry:\n print(m.distribution("dagger_ros")._path)'
            '\nexcept m.PackageNotFoundError:\n print("")')
    return _run([sys.executable, '-c', code], cwd=cwd).stdout.strip()


@pytest.fixture(scope='module')
def pip_prefix(source_copy, tmp_path_factory) -> Path:
    """The prefix of `pip install --prefix` of a second copy (pip builds inside its source)."""
    work = tmp_path_factory.mktemp('pip')
    before = _venv_install(work)
    src = work / 'src'
    shutil.copytree(source_copy, src)
    # --ignore-installed: otherwise pip uninstalls the venv's own (editable) dagger_ros first
    _run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation',
          '--ignore-installed', '--disable-pip-version-check', '--prefix', work / 'prefix', src])
    # the venv's own install (console scripts, editable finder) must survive this test
    assert _venv_install(work) == before
    return work / 'prefix'


def test_colcon_installs_share_files_and_ament_index(colcon_prefix):
    _assert_share_layout(colcon_prefix)


def test_colcon_puts_the_executable_where_ros2_run_looks(colcon_prefix):
    exe = colcon_prefix / 'lib' / 'dagger_ros' / 'dagger-ros'
    assert exe.is_file() and os.access(exe, os.X_OK)
    proc = _run([exe, '--help'], env=_env_with_pythonpath(colcon_prefix / SITE))
    assert 'usage: dagger-ros' in proc.stdout


def test_colcon_install_is_what_gets_imported(colcon_prefix):
    site = colcon_prefix / SITE
    assert (site / 'dagger_ros' / 'py.typed').is_file()
    proc = _run([sys.executable, '-c', 'import dagger_ros; print(dagger_ros.__file__)'],
                env=_env_with_pythonpath(site), cwd=colcon_prefix)
    assert Path(proc.stdout.strip()).is_relative_to(colcon_prefix)


def test_ament_index_finds_the_colcon_install(colcon_prefix):
    env = dict(os.environ, AMENT_PREFIX_PATH=str(colcon_prefix))
    code = ('from ament_index_python.packages import get_package_share_directory as share;'
            "print(share('dagger_ros'))")
    proc = _run([sys.executable, '-c', code], env=env)
    assert Path(proc.stdout.strip()) == colcon_prefix / 'share' / 'dagger_ros'


def test_pip_puts_console_script_in_bin_and_data_in_share(pip_prefix):
    _assert_share_layout(pip_prefix)
    exe = pip_prefix / 'bin' / 'dagger-ros'
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert not (pip_prefix / 'lib' / 'dagger_ros').exists()
    proc = _run([exe, '--help'], env=_env_with_pythonpath(pip_prefix / SITE))
    assert 'usage: dagger-ros' in proc.stdout


def test_packages_exclude_tests_and_benchmarks(colcon_prefix, pip_prefix):
    for prefix in (colcon_prefix, pip_prefix):
        top = {p.name for p in (prefix / SITE).iterdir() if p.is_dir()}
        assert not top & {'test', 'bench'}, f'{prefix}: {sorted(top)}'


@pytest.mark.parametrize('launch_file', sorted(_repo_files('launch/*.launch.py')))
def test_launch_file_compiles_and_defines_generate_launch_description(launch_file):
    # launch/launch_ros are not on PyPI, so the file cannot run here; it must at least parse.
    source = (REPO / launch_file).read_text()
    tree = ast.parse(source, filename=launch_file)
    compile(tree, launch_file, 'exec')
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions


def test_colcon_installs_every_node_of_the_graph(colcon_prefix):
    from dagger_ros import graph
    roles = {spec.executable for profile in graph.PROFILES
             for spec in graph.dagger_graph(profile)}
    for executable in sorted(roles):
        exe = colcon_prefix / 'lib' / 'dagger_ros' / executable
        assert exe.is_file() and os.access(exe, os.X_OK), executable
