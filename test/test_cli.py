"""The dagger-ros command end to end: run directory contents, resume, and clear errors."""

import json
import subprocess
import sys

import pytest

from dagger_ros.cli import main

TINY = ['--set', 'demo_steps=100', '--set', 'steps_per_round=50', '--set', 'eval_episodes=1',
        '--set', 'max_updates=200', '--quiet']


def test_run_writes_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['run', '--env', 'Pendulum-v1', '--algorithm', 'dagger', '--rounds', '2',
                 '--out', str(out), *TINY]) == 0
    for name in ('config.json', 'baselines.json', 'metrics.jsonl', 'state.json',
                 'learning_curve.png', 'dataset/meta.json', 'dataset/records.bin'):
        assert (out / name).exists(), name
    rows = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [r['round'] for r in rows] == [0, 1, 2]
    assert [r['labels'] for r in rows] == [100, 150, 200]
    assert len(list((out / 'checkpoints').glob('policy-v*.safetensors'))) == 3
    assert (out / 'learning_curve.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'expert return' in capsys.readouterr().out


@pytest.mark.parametrize('how', [['resume', '{out}'], ['run', '--resume', '--out', '{out}']])
def test_resume_adds_rounds(tmp_path, how):
    out = tmp_path / 'run'
    main(['run', '--env', 'Pendulum-v1', '--rounds', '1', '--out', str(out), *TINY])
    args = [a.format(out=out) for a in how]
    assert main([*args, '--rounds', '2', '--quiet']) == 0
    rows = [json.loads(line) for line in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [r['round'] for r in rows] == [0, 1, 2]


def test_compare_writes_one_plot_and_a_summary(tmp_path):
    out = tmp_path / 'cmp'
    assert main(['compare', '--env', 'Pendulum-v1', '--algorithms', 'bc,dagger', '--rounds',
                 '1', '--out', str(out), *TINY]) == 0
    assert (out / 'learning_curves.png').exists()
    summary = (out / 'summary.txt').read_text()
    assert 'bc-s0' in summary and 'dagger-s0' in summary


@pytest.mark.parametrize('args, message', [
    (['run', '--env', 'Pendulm-v1'], "unknown or unavailable gymnasium env id 'Pendulm-v1'"),
    (['run', '--env', 'CartPole-v1'], 'expected a flat (continuous) Box action space'),
    (['run', '--set', 'beta=2'], 'beta=2 is out of range'),
    (['run', '--set', 'rouns=2'], "unknown setting(s) ['rouns']"),
    (['run', '--set', 'beta'], "--set expects key=value, got 'beta'"),
    (['resume', '/nonexistent/run'], 'is not a dagger_ros run directory'),
])
def test_bad_input_exits_2_with_a_reason(args, message, tmp_path, capsys):
    assert main([*args, '--out', str(tmp_path / 'x')] if args[0] == 'run' else args) == 2
    assert message in capsys.readouterr().err


def test_console_entry_runs_as_a_module():
    done = subprocess.run([sys.executable, '-m', 'dagger_ros.cli', 'list'], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert 'hg_dagger' in done.stdout and 'HalfCheetah-v5' in done.stdout
    assert 'beta_schedule' in done.stdout


def test_yaml_settings_choose_the_task_and_flags_win(tmp_path):
    from dagger_ros.cli import build_config, make_parser
    settings = tmp_path / 'idp.yaml'
    settings.write_text('dagger_ros_cli:\n  env_id: InvertedDoublePendulum-v5\n'
                        '  algorithm: bc\n  seed: 4\n  rounds: 3\n')
    cfg = build_config(make_parser().parse_args(['run', '--config', str(settings)]))
    assert (cfg.env_id, cfg.algorithm, cfg.seed, cfg.rounds) == (
        'InvertedDoublePendulum-v5', 'bc', 4, 3)
    assert cfg.steps_per_round == 150  # the double pendulum's preset, not Pendulum's
    cfg = build_config(make_parser().parse_args(
        ['run', '--config', str(settings), '--algorithm', 'dagger', '--seed', '1']))
    assert (cfg.algorithm, cfg.seed) == ('dagger', 1)
