"""`dagger-ros live`: the whole graph as processes, a line per round, summary and plot."""

import io
import json

import pytest

from dagger_ros import cli
from dagger_ros.live import LiveOptions, run_live

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]


def test_live_command_reports_rounds_and_writes_summary_and_plot(tmp_path):
    out = io.StringIO()
    options = LiveOptions(out=tmp_path / 'live', rounds=2, overrides={'*': {
        'demo_steps': 100, 'steps_per_round': 50, 'eval_episodes': 1, 'max_updates': 200}})

    code = run_live(options, out)

    text = out.getvalue()
    assert code == 0, text
    round_lines = [line for line in text.splitlines() if line.startswith('round')]
    assert [line.split()[1] for line in round_lines] == ['0/2', '1/2', '2/2']
    assert 'expert drove 100%' in round_lines[0] and 'policy v1' in round_lines[0]
    assert '--- live run done after 3 trained rounds ---' in text
    summary = json.loads((tmp_path / 'live' / 'summary.json').read_text())
    assert summary['outcome'] == 'done' and summary['final']['labels'] == 200
    assert summary['expert_return'] > summary['random_return']
    assert (tmp_path / 'live' / 'learning_curve.png').stat().st_size > 10_000
    assert (tmp_path / 'live' / 'run' / 'metrics.jsonl').read_text().count('\n') == 3
    assert '[expert_gate]' in (tmp_path / 'live' / 'nodes.log').read_text()


def test_live_command_runs_the_inline_control_process(tmp_path):
    out = io.StringIO()
    options = LiveOptions(out=tmp_path / 'live', rounds=1, composition='inline', overrides={
        '*': {'demo_steps': 100, 'steps_per_round': 50, 'eval_episodes': 1,
              'max_updates': 200}})

    code = run_live(options, out)

    text = out.getvalue()
    assert code == 0, text
    assert ': 3 processes on' in text, 'sim bridge, the control process, trainer'
    summary = json.loads((tmp_path / 'live' / 'summary.json').read_text())
    assert summary['outcome'] == 'done' and summary['final']['labels'] == 150
    log = (tmp_path / 'live' / 'nodes.log').read_text()
    assert '[control]' in log and 'gate calls policy_executor, scripted_expert directly' in log


def test_live_command_refuses_an_offline_only_algorithm(capsys):
    assert cli.main(['live', '--algorithm', 'thrifty_dagger']) == 2
    assert 'thrifty_dagger does not run live' in capsys.readouterr().err
