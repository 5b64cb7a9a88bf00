"""The benchmark summaries compute what they should on synthetic metrics rows."""

import importlib
import json
import math
from pathlib import Path
import subprocess
import sys

import pytest

BENCH = Path(__file__).resolve().parents[1] / 'bench'
sys.path.insert(0, str(BENCH))  # the benchmark scripts are not a package
bench_labels = importlib.import_module('bench_labels')
common = importlib.import_module('common')
run_all = importlib.import_module('run_all')


def rows(normalized, labels=None, share=None, switches=None, returns=None, step=100):
    """Metrics rows as run_experiment writes them: round 0 is the demonstration round."""
    out = []
    for i, norm in enumerate(normalized):
        out.append({'round': i, 'labels': labels[i] if labels else 200 + step * i,
                    'labels_round': (labels[i] - labels[i - 1] if labels and i else
                                     (step if i else 200)),
                    'normalized': norm, 'return_mean': returns[i] if returns else norm,
                    'expert_share': share[i] if share else 1.0,
                    'context_switches': switches[i] if switches else 0})
    return out


def run(env, algorithm, seed, metrics, expert=1.0, rand=0.0):
    return {'env': env, 'algorithm': algorithm, 'seed': seed, 'metrics': metrics,
            'expert_return': expert, 'random_return': rand, 'seconds': 1.0}


def test_labels_to_level_first_round_at_or_over_level():
    metrics = rows([0.1, 0.96, 0.5, 0.99])
    assert bench_labels.labels_to_level(metrics) == 300
    assert bench_labels.labels_to_level(metrics, 0.98) == 500
    assert bench_labels.labels_to_level(rows([0.1, 0.9])) == math.inf


def test_best_fraction_within_the_label_budget():
    metrics = rows([0, 0, 0], labels=[2000, 20000, 21000], returns=[100.0, 3000.0, 4900.0])
    assert bench_labels.best_fraction_within(metrics, 5000.0, 20000) == pytest.approx(0.6)
    assert math.isnan(bench_labels.best_fraction_within(metrics, -5.0, 20000))
    assert math.isnan(bench_labels.best_fraction_within(metrics, 5000.0, 100))


def test_effort_averages_rounds_after_the_demonstration():
    metrics = rows([0, 0, 0], labels=[200, 260, 280], share=[1.0, 0.6, 0.2], switches=[0, 4, 2])
    figures = bench_labels.effort(metrics)
    assert figures['expert_share'] == pytest.approx(0.4)
    assert figures['switches'] == pytest.approx(3.0)
    assert figures['labels_per_round'] == pytest.approx(40.0)
    assert math.isnan(bench_labels.effort(rows([0.5]))['switches'])


def test_spread_is_median_min_max():
    assert common.spread([3.0, 1.0, 2.0]) == {'median': 2.0, 'min': 1.0, 'max': 3.0, 'n': 3}
    assert common.spread([1.0, math.inf, math.inf])['median'] == math.inf
    assert math.isnan(common.spread([])['median'])


def _two_algorithm_runs(bc_reach, dagger_reach, seeds=3):
    runs = []
    for algorithm, reach in (('bc', bc_reach), ('dagger', dagger_reach)):
        for seed in range(seeds):
            norm = [1.0 if 200 + 100 * i >= reach[seed] else 0.0 for i in range(10)]
            runs.append(run('Task-v0', algorithm, seed, rows(norm)))
    return runs


def test_summary_medians_and_dagger_over_bc_ratio():
    runs = _two_algorithm_runs([800, 1000, 1100], [300, 400, 900])
    summary = bench_labels.summarize(runs)
    bc = summary['Task-v0']['bc']
    assert bc['labels_to_95'] == {'median': 1000, 'min': 800, 'max': 1100, 'n': 3}
    assert bc['gated'] is False
    assert bench_labels.dagger_over_bc(summary['Task-v0']) == pytest.approx(0.4)
    check, = bench_labels.targets(summary, runs)
    assert check['measured'] == pytest.approx(0.4)
    assert check['met'] is True


def test_ratio_missing_when_bc_never_reaches_and_inf_when_dagger_never_does():
    never = math.inf
    summary = bench_labels.summarize(_two_algorithm_runs([never] * 3, [300] * 3))
    assert bench_labels.dagger_over_bc(summary['Task-v0']) is None
    check, = bench_labels.targets(summary, [])
    assert check['met'] is None and 'never' in check['note']
    summary = bench_labels.summarize(_two_algorithm_runs([500] * 3, [never] * 3))
    assert bench_labels.dagger_over_bc(summary['Task-v0']) == math.inf
    assert bench_labels.targets(summary, [])[0]['met'] is False


def test_cheetah_target_uses_the_20k_label_budget():
    labels = [2000 + 1000 * i for i in range(20)]  # the last round has 21,000 labels
    returns = [100.0] * 18 + [4100.0, 4900.0]  # 82% at 20,000 labels, 98% only after it
    metrics = rows([0.0] * 20, labels=labels, returns=returns)
    runs = [run(bench_labels.CHEETAH, 'dagger', 0, metrics, expert=5000.0)]
    check, = bench_labels.targets(bench_labels.summarize(runs), runs)
    assert check['measured'] == pytest.approx(0.82)
    assert check['met'] is True and 'first >= 80% at 20000 labels' in check['note']


def test_curve_is_median_over_seeds_with_band():
    runs = [run('T', 'dagger', s, rows([0, 0], returns=[r, r + 1.0])) for s, r in
            enumerate([1.0, 5.0, 3.0])]
    curve = bench_labels.median_curve(runs)
    assert curve['return_median'] == [3.0, 4.0]
    assert curve['return_min'] == [1.0, 2.0] and curve['return_max'] == [5.0, 6.0]


def test_parse_envs_entries():
    plan = bench_labels.parse_envs('Pendulum-v1,HalfCheetah-v5=dagger+bc@1,X=all', 'bc', 3)
    assert plan[0] == ('Pendulum-v1', ['bc'], 3)
    assert plan[1] == ('HalfCheetah-v5', ['dagger', 'bc'], 1)
    assert len(plan[2][1]) == 10
    with pytest.raises(SystemExit):
        bench_labels.parse_envs('X=nope', 'bc', 1)


def test_met_missed_logic():
    assert common.is_met(0.4, '<', 0.5) is True
    assert common.is_met(0.5, '<', 0.5) is False
    assert common.is_met(0.8, '>=', 0.8) is True
    assert common.is_met(None, '<', 0.5) is None
    assert common.is_met(float('nan'), '>=', 1.0) is None
    assert 'missed' in common.format_target(common.target('x', 2.0, '<', 1.5))


def test_collect_reads_every_benchmark_json(tmp_path):
    (tmp_path / 'labels.json').write_text(json.dumps(
        {'targets': [common.target('T: DAgger / BC labels to 95%', 0.3, '<', 0.5)]}))
    (tmp_path / 'training.json').write_text(json.dumps({'results': {
        'cpu': {'ratio': 1.3}, 'act': {'act_us_best': 40.0}}}))
    (tmp_path / 'dataset.json').write_text(json.dumps({'results': [
        {'samples': 1_000_000, 'warm': {'open_and_arrays_s': 0.1},
         'append_single_samples_per_s': 50_000.0},
        {'samples': 10_000_000, 'warm': {'open_and_arrays_s': 3.0},
         'cold': {'open_and_arrays_s': 6.0}, 'append_single_samples_per_s': 40_000.0}]}))
    (tmp_path / 'live.json').write_text(json.dumps({'targets': {
        'graph_p99_over_echo_p99': 5.0, 'graph_p50_over_echo_p50': 4.0,
        'training_p99_over_idle_p99': 1.1}, 'results': [
            {'kind': 'echo', 'rates': [{'rate_hz': 500.0, 'missed': 3, 'sent': 100}]},
            {'kind': 'graph', 'rates': [{'rate_hz': 100.0, 'missed': 2, 'sent': 100},
                                        {'rate_hz': 500.0, 'missed': 0, 'sent': 100}]}]}))
    jobs = [run_all.Job(name, f'{name}.json', ()) for name in
            ('labels', 'training', 'dataset', 'live')]
    checks = {c['name']: c['met'] for c in run_all.collect(jobs, {}, tmp_path)}
    assert checks == {'T: DAgger / BC labels to 95%': True,
                      'training (cpu): train_policy / DataLoader samples/s': False,
                      'dataset: 10M samples reload, warm cache (s)': True,
                      'dataset: 10M samples reload, cold cache (s)': False,
                      'dataset: single appends per second (extra)': True,
                      'live: graph_p99_over_echo_p99': False,
                      'live: training_p99_over_idle_p99': True,
                      'live: graph missed deadlines at 500 Hz': True}


def test_collect_marks_failed_or_missing_benchmarks(tmp_path):
    jobs = [run_all.Job('training', 'training.json', ())]
    check, = run_all.collect(jobs, {'training': {'returncode': 1}}, tmp_path)
    assert check['met'] is None and check['note'] == 'benchmark failed'
    text = run_all.summary_table([check], {'training': {'seconds': 3.0}})
    assert 'not measured' in text and '0 of 1 targets met' in text


def test_quick_plan_is_small_and_live_is_optional():
    jobs = {job.name: job for job in run_all.plan(quick=True, workers=1, cheetah=False)}
    assert {'labels', 'training', 'dataset'} <= set(jobs)
    assert '--seeds' in jobs['labels'].args and '1' in jobs['labels'].args
    assert ('live' in jobs) == (BENCH / 'bench_live.py').exists()
    default = run_all.plan(quick=False, workers=2, cheetah=True)
    assert 'HalfCheetah-v5=dagger' in ' '.join(default[0].args)


def test_run_all_help():
    proc = subprocess.run([sys.executable, str(BENCH / 'run_all.py'), '--help'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert '--quick' in proc.stdout


def test_default_label_plan_covers_every_algorithm_on_pendulum():
    plan = bench_labels.parse_envs(run_all.default_label_plan(), 'bc', 3)
    pendulum = {a for env, algorithms, _ in plan if env == 'Pendulum-v1' for a in algorithms}
    assert pendulum == set(bench_labels.ALGORITHM_NAMES)
    assert ('HalfCheetah-v5', ['dagger'], 1) in plan
    without = bench_labels.parse_envs(run_all.default_label_plan(cheetah=False), 'bc', 3)
    assert all(env != 'HalfCheetah-v5' for env, _, _ in without)
    idp = {a for env, algorithms, _ in plan if env == 'InvertedDoublePendulum-v5'
           for a in algorithms}
    assert idp == set(bench_labels.ALGORITHM_NAMES)


def test_set_and_rounds_for_reach_every_job_of_their_scope():
    sets = bench_labels.parse_sets(['demo_steps=250', 'lr_schedule=constant'])
    assert sets == {'demo_steps': 250, 'lr_schedule': 'constant'}
    plan = [('Pendulum-v1', ['bc', 'dagger'], 2), ('HalfCheetah-v5', ['dagger'], 1)]
    jobs = bench_labels.make_jobs(plan, sets, rounds_for={'HalfCheetah-v5': 4})
    configs = {(j['config']['env_id'], j['config']['algorithm'], j['config']['seed']):
               j['config'] for j in jobs}
    assert len(configs) == 5
    # THEN --set applies to every run alike and --rounds-for to its task only
    assert all(c['demo_steps'] == 250 for c in configs.values())
    assert configs[('HalfCheetah-v5', 'dagger', 0)]['rounds'] == 4
    assert configs[('Pendulum-v1', 'bc', 1)]['rounds'] == configs[('Pendulum-v1', 'dagger', 0)][
        'rounds'] != 4
    with pytest.raises(SystemExit, match='KEY=VALUE'):
        bench_labels.parse_sets(['demo_steps'])
    default = run_all.plan(quick=False, workers=2, cheetah=True)[0].args
    assert default[default.index('--rounds-for') + 1] == 'HalfCheetah-v5=4'


def test_live_training_and_dataset_figures_are_written(tmp_path):
    plots = importlib.import_module('plots')
    rates = [{'rate_hz': hz, 'missed_share': share, 'missed': 1, 'sent': 10}
             for hz, share in ((100.0, 0.0), (500.0, 0.5))]
    live = [{'kind': kind, 'closed_loop': {'rtt_ms': [0.4, 0.5, 2.0 * scale]}, 'rates': rates}
            for kind, scale in (('echo', 1), ('inline', 2))]
    training = {'cpu': {'ratio': 1.3, 'train_policy_samples_per_s': 9e4,
                        'dataloader_samples_per_s': 7e4, 'steps_only_samples_per_s': 1e5},
                'act': {'act_us_best': 60.0}}
    rows = [{'samples': n, 'append_batch_samples_per_s': 1e6, 'peak_rss_mb': 300.0,
             'bytes_per_sample': 156.0, 'warm': {'open_and_arrays_s': 0.3},
             'cold': {'open_and_arrays_s': 0.4}} for n in (10 ** 6, 10 ** 7)]
    paths = [plots.plot_live(live, tmp_path / 'live.png'),
             plots.plot_training(training, tmp_path / 'training.png'),
             plots.plot_dataset(rows, tmp_path / 'dataset.png')]
    for path in paths:
        assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and path.stat().st_size > 10_000


def test_merge_reads_the_journal_of_a_run_cut_short(tmp_path):
    metrics = [{'round': 0, 'labels': 100, 'normalized': 0.5, 'return_mean': -500.0}]
    done = {'env': 'Pendulum-v1', 'algorithm': 'bc', 'seed': 0, 'metrics': metrics,
            'expert_return': -150.0, 'random_return': -1200.0}
    (tmp_path / 'cut.runs.jsonl').write_text(json.dumps(done) + '\n')
    (tmp_path / 'whole.json').write_text(json.dumps({'runs': [{**done, 'seed': 1}]}))
    runs = bench_labels.load_runs(['cut', 'whole'], tmp_path)
    assert sorted(run['seed'] for run in runs) == [0, 1]


def test_live_ratios_use_the_stricter_of_the_two_echo_runs():
    bench_live = importlib.import_module('bench_live')
    by_kind = {'echo': {'p50_ms': 1.0, 'p99_ms': 4.0}, 'echo-end': {'p50_ms': 0.5, 'p99_ms': 1.0},
               'inline': {'p50_ms': 1.0, 'p99_ms': 2.0}}
    ratios = bench_live.targets(by_kind)
    assert ratios['inline_p99_over_echo_p99'] == 2.0
    assert ratios['inline_p50_over_echo_p50'] == 2.0


def test_live_misses_at_500_hz_are_checked_for_every_configuration_but_the_echo():
    def result(kind, missed):
        return {'kind': kind, 'rates': [{'rate_hz': 500.0, 'missed': missed, 'sent': 2500}]}
    data = {'targets': {'inline_p99_over_echo_p99': 2.0},
            'results': [result('echo', 7), result('inline', 0), result('sim', 30),
                        result('echo-end', 3)]}
    checks = {check['name']: check for check in run_all.live_targets(data)}
    assert sorted(checks) == ['live: inline missed deadlines at 500 Hz',
                              'live: inline_p99_over_echo_p99',
                              'live: sim missed deadlines at 500 Hz']
    assert checks['live: inline missed deadlines at 500 Hz']['met']
    assert not checks['live: sim missed deadlines at 500 Hz']['met']
    assert 'the bare echo missed 7 of 2500 and 3 of 2500' in checks[
        'live: sim missed deadlines at 500 Hz']['note']
