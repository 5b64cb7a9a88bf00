"""ament_flake8 over the whole repository with the one lint config, setup.cfg [flake8].

ament_flake8 is what `colcon test` runs in ROS packages; given ``--config setup.cfg`` it uses
this repository's rules (ament's own plus google docstrings, a complexity cap and no print
outside bench/). The plugins are checked first: flake8 silently ignores codes of a plugin
that is not installed, which would let the check pass while checking less.
"""

from collections import defaultdict
import json
from pathlib import Path
import re
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = ['dagger_ros', 'test', 'bench', 'launch', 'setup.py']

# flake8 plugin name (as `flake8 --bug-report` lists it) -> the pip package that provides it.
PLUGINS = {
    'flake8-blind-except': 'flake8-blind-except',
    'flake8-builtins': 'flake8-builtins',
    'flake8-class-newline': 'flake8-class-newline',
    'flake8-comprehensions': 'flake8-comprehensions',
    'flake8-deprecated': 'flake8-deprecated',
    'flake8-docstrings': 'flake8-docstrings',
    'flake8_import_order': 'flake8-import-order',
    'flake8-print': 'flake8-print',
    'flake8-quotes': 'flake8-quotes',
    'mccabe': 'flake8',
}
ERROR_LINE = re.compile(
    r'^(?P<path>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+): (?P<rest>[A-Z]+\d+ .*)$')

pytestmark = [pytest.mark.linter, pytest.mark.timeout(180)]


def test_flake8_plugins_are_installed():
    proc = subprocess.run([sys.executable, '-m', 'flake8', '--bug-report'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    installed = {p['plugin'] for p in json.loads(proc.stdout)['plugins']}
    missing = sorted(pkg for name, pkg in PLUGINS.items() if name not in installed)
    assert not missing, (
        f'flake8 plugins missing: {missing}; install them with pip install -e ".[test]"')


def test_ament_flake8_finds_no_errors():
    proc = subprocess.run(
        [sys.executable, '-m', 'ament_flake8.main', '--config', 'setup.cfg', *PATHS],
        cwd=REPO, capture_output=True, text=True, timeout=170)
    by_file = defaultdict(list)
    for line in proc.stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            by_file[match['path']].append(f"  {match['line']}:{match['col']} {match['rest']}")
    report = '\n'.join(f'{path} ({len(errors)})\n' + '\n'.join(errors)
                       for path, errors in sorted(by_file.items()))
    assert proc.returncode == 0, (
        f'flake8 errors (config: setup.cfg [flake8]):\n{report or proc.stdout + proc.stderr}')
    checked = re.search(r'^(\d+) files checked$', proc.stdout, re.MULTILINE)
    assert checked and int(checked[1]) >= 20, f'too few files checked:\n{proc.stdout}'
