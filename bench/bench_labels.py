"""Label efficiency: return against expert labels for every algorithm, several seeds.

Writes bench/results/<name>.json, <name>.txt and two PNGs per task (return against labels,
human effort). The figure of merit is the number of expert labels after which the policy first
scores >= 95% of the expert's return, normalized between a random policy (0) and the expert
(1); median and spread (min/max) over seeds. For the gated variants the effort figures are the
share of steps under expert control, context switches per round and labels per round.

Targets: where BC reaches 95%, DAgger's labels-to-95% over BC's < 0.5; on HalfCheetah-v5,
DAgger at >= 80% of the expert's return within 20,000 labels (its preset, 2000 demonstration
steps + 18 rounds x 1000 steps, labels exactly 20,000).

``--envs`` takes comma-separated ``ENV[=ALG+ALG...][@SEEDS]``: an entry without ``=`` runs
``--algorithms``, one without ``@`` runs ``--seeds`` seeds. ``--set KEY=VALUE`` changes a run
setting for every run of the call (the same for every algorithm, as a fair comparison needs).

    .venv/bin/python bench/bench_labels.py --envs Pendulum-v1 --algorithms bc,dagger --seeds 3
    .venv/bin/python bench/bench_labels.py --envs Pendulum-v1,HalfCheetah-v5=dagger@1
"""

from __future__ import annotations

import argparse
from concurrent.futures import as_completed, ProcessPoolExecutor
import json
import logging
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # runs from a checkout too
from common import format_target, RESULTS, single_thread, spread, target  # noqa: E402
from common import write_results  # noqa: E402

from dagger_ros.core.algorithms.config import ALGORITHM_NAMES, RunConfig  # noqa: E402
from dagger_ros.core.algorithms.loop import run_experiment  # noqa: E402
from dagger_ros.core.algorithms.presets import preset_for  # noqa: E402

log = logging.getLogger('bench_labels')
TASKS = ('Pendulum-v1', 'InvertedDoublePendulum-v5', 'LunarLanderContinuous-v3',
         'HalfCheetah-v5')
# The policy drives part of the time and a gate (or a budget) decides what the expert labels.
GATED = ('hg_dagger', 'safe_dagger', 'lazy_dagger', 'ensemble_dagger', 'thrifty_dagger',
         'budgeted', 'async')
LEVEL = 0.95
RATIO_TARGET = 0.5
CHEETAH = 'HalfCheetah-v5'
CHEETAH_FRACTION = 0.8
CHEETAH_LABELS = 20_000
QUICK = {'rounds': 4}
# Relative cost of one run (Pendulum DAgger = 1): runs start longest first so workers stay busy.
COST = {'HalfCheetah-v5': 40.0, 'LunarLanderContinuous-v3': 6.0,
        'InvertedDoublePendulum-v5': 2.0}
HEAVY = ('hg_dagger', 'ensemble_dagger', 'thrifty_dagger', 'budgeted', 'safe_dagger',
         'lazy_dagger')


# -- metrics rows -> figures --------------------------------------------------------------------
def labels_to_level(metrics: Sequence[dict[str, Any]], level: float = LEVEL) -> float:
    """Labels at the first round scoring >= level normalized return (inf if never)."""
    for row in metrics:
        if row['normalized'] >= level:
            return float(row['labels'])
    return float('inf')


def best_fraction_within(metrics: Sequence[dict[str, Any]], expert_return: float,
                         max_labels: float) -> float:
    """Best return_mean / expert_return over the rounds with at most max_labels labels.

    NaN when the expert's return is not positive (a fraction of it means nothing then) or
    when no round is inside the budget.
    """
    returns = [row['return_mean'] for row in metrics if row['labels'] <= max_labels]
    if expert_return <= 0 or not returns:
        return float('nan')
    return float(max(returns) / expert_return)


def effort(metrics: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Human effort of one run, averaged over the rounds after the demonstration round.

    expert_share: share of steps under expert (or human) control; switches: changes of driver
    per round; labels_per_round: new labels per round.
    """
    rows = [row for row in metrics if row['round'] > 0]
    if not rows:
        return {'expert_share': float('nan'), 'switches': float('nan'),
                'labels_per_round': float('nan')}
    return {'expert_share': float(np.mean([r['expert_share'] for r in rows])),
            'switches': float(np.mean([r['context_switches'] for r in rows])),
            'labels_per_round': float(np.mean([r['labels_round'] for r in rows]))}


def median_curve(group: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per round index over seeds: median labels, median/min/max return and normalized."""
    rounds = min(len(run['metrics']) for run in group)

    def column(key: str) -> np.ndarray:
        return np.array([[run['metrics'][i][key] for i in range(rounds)] for run in group],
                        dtype=float)

    labels, returns, norm = column('labels'), column('return_mean'), column('normalized')
    return {'labels': np.median(labels, 0).tolist(), 'return_median': np.median(
        returns, 0).tolist(), 'return_min': returns.min(0).tolist(),
        'return_max': returns.max(0).tolist(), 'normalized_median': np.median(norm, 0).tolist()}


def summarize_group(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of one (task, algorithm) over its seeds."""
    efforts = [effort(run['metrics']) for run in group]
    out = {'seeds': [run['seed'] for run in group],
           'gated': group[0]['algorithm'] in GATED,
           'labels_to_95': spread([labels_to_level(run['metrics']) for run in group]),
           'final_labels': spread([run['metrics'][-1]['labels'] for run in group]),
           'final_return': spread([run['metrics'][-1]['return_mean'] for run in group]),
           'final_normalized': spread([run['metrics'][-1]['normalized'] for run in group]),
           'expert_return': spread([run['expert_return'] for run in group]),
           'random_return': spread([run['random_return'] for run in group]),
           'seconds': spread([run.get('seconds', float('nan')) for run in group]),
           'curve': median_curve(group)}
    for key in ('expert_share', 'switches', 'labels_per_round'):
        out[key] = spread([e[key] for e in efforts])
    return out


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{task: {algorithm: figures}} in the order the runs name them."""
    summary: dict[str, dict[str, Any]] = {}
    for env_id in dict.fromkeys(run['env'] for run in runs):
        per_env = [run for run in runs if run['env'] == env_id]
        summary[env_id] = {
            algorithm: summarize_group([r for r in per_env if r['algorithm'] == algorithm])
            for algorithm in _ordered(r['algorithm'] for r in per_env)}
    return summary


def _ordered(names: Any) -> list[str]:
    """Algorithm names in ALGORITHM_NAMES order (unknown ones last)."""
    found = set(names)
    return [n for n in ALGORITHM_NAMES if n in found] + sorted(found - set(ALGORITHM_NAMES))


# -- targets ----------------------------------------------------------------------------------
def dagger_over_bc(per_env: dict[str, Any]) -> float | None:
    """DAgger's median labels-to-95% over BC's (inf where only DAgger never gets there).

    None where BC or DAgger did not run, or BC never reaches the level: no ratio then.
    """
    if 'bc' not in per_env or 'dagger' not in per_env:
        return None
    bc = per_env['bc']['labels_to_95']['median']
    if not np.isfinite(bc):
        return None
    return per_env['dagger']['labels_to_95']['median'] / bc


def cheetah_fraction(runs: Sequence[dict[str, Any]]) -> float:
    """Median over DAgger's HalfCheetah seeds of the best return fraction within the budget."""
    values = [best_fraction_within(run['metrics'], run['expert_return'], CHEETAH_LABELS)
              for run in runs if run['env'] == CHEETAH and run['algorithm'] == 'dagger']
    return float(np.median(values)) if values else float('nan')


def targets(summary: dict[str, Any], runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target this run can check, in the shared target format of common.target."""
    out = []
    for env_id, per_env in summary.items():
        ratio = dagger_over_bc(per_env)
        if ratio is not None:
            out.append(target(f'{env_id}: DAgger / BC labels to 95%', ratio, '<', RATIO_TARGET))
        elif 'bc' in per_env and 'dagger' in per_env:
            out.append(target(f'{env_id}: DAgger / BC labels to 95%', None, '<', RATIO_TARGET,
                              'BC never reaches 95% in this budget: no ratio'))
    if any(run['env'] == CHEETAH and run['algorithm'] == 'dagger' for run in runs):
        budget = max(row['labels'] for run in runs if run['env'] == CHEETAH
                     for row in run['metrics'])
        note = _cheetah_note(runs)
        if budget < CHEETAH_LABELS:
            note += f'; only {budget:.0f} labels were run'
        out.append(target(f'{CHEETAH}: DAgger return / expert within {CHEETAH_LABELS} labels',
                          cheetah_fraction(runs), '>=', CHEETAH_FRACTION, note))
    return out


def _cheetah_note(runs: Sequence[dict[str, Any]]) -> str:
    """Median labels at which DAgger first reaches the fraction, and its return at the end."""
    first, last = [], []
    for run in runs:
        if run['env'] != CHEETAH or run['algorithm'] != 'dagger' or run['expert_return'] <= 0:
            continue
        inside = [row for row in run['metrics'] if row['labels'] <= CHEETAH_LABELS]
        reached = [row['labels'] for row in inside
                   if row['return_mean'] >= CHEETAH_FRACTION * run['expert_return']]
        first.append(reached[0] if reached else float('inf'))
        last.append(inside[-1]['return_mean'] / run['expert_return'] if inside else float('nan'))
    if not first:
        return ''
    return (f'best round; first >= {CHEETAH_FRACTION:.0%} at {np.median(first):.0f} labels, '
            f'{np.median(last):.0%} at the last round inside the budget')


# -- text and pictures ---------------------------------------------------------------------------
def _labels_cell(s: dict[str, float]) -> str:
    if not np.isfinite(s['median']):
        return 'never'
    return f"{s['median']:.0f} [{_num(s['min'])}-{_num(s['max'])}]"


def _num(value: float) -> str:
    return f'{value:.0f}' if np.isfinite(value) else 'never'


def table(summary: dict[str, Any], checks: Sequence[dict[str, Any]]) -> str:
    """Readable table: one line per (task, algorithm), then the target checks."""
    head = (f"{'task':<26}{'algorithm':<16}{'labels to 95% [min-max]':>26}{'final norm':>11}"
            f"{'final return':>13}{'expert':>9}{'exp. share':>11}{'switch/rd':>10}"
            f"{'labels/rd':>10}")
    lines = [head, '-' * len(head)]
    for env_id, per_env in summary.items():
        for algorithm, s in per_env.items():
            mark = '*' if s['gated'] else ''
            lines.append(
                f"{env_id:<26}{algorithm + mark:<16}{_labels_cell(s['labels_to_95']):>26}"
                f"{s['final_normalized']['median']:>11.2f}{s['final_return']['median']:>13.1f}"
                f"{s['expert_return']['median']:>9.1f}{s['expert_share']['median']:>11.0%}"
                f"{s['switches']['median']:>10.1f}{s['labels_per_round']['median']:>10.0f}")
    lines += ['* gated: the policy drives part of the time; medians over seeds', '']
    lines += [format_target(check) for check in checks]
    return '\n'.join(lines)


def plot(summary: dict[str, Any], folder: Path, prefix: str) -> list[Path]:
    """Per task: return against labels (median line, min/max band, expert ceiling) and effort."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    paths = []
    for env_id, per_env in summary.items():
        paths.append(_plot_curves(plt, env_id, per_env, folder / f'{prefix}-{env_id}.png'))
        paths.append(_plot_effort(plt, env_id, per_env,
                                  folder / f'{prefix}-effort-{env_id}.png'))
    return paths


def _plot_curves(plt: Any, env_id: str, per_env: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for algorithm, s in per_env.items():
        c = s['curve']
        line, = ax.plot(c['labels'], c['return_median'], marker='o', ms=2.5, label=algorithm)
        ax.fill_between(c['labels'], c['return_min'], c['return_max'], alpha=0.15,
                        color=line.get_color())
    first = next(iter(per_env.values()))
    expert, rand = first['expert_return']['median'], first['random_return']['median']
    ax.axhline(expert, color='k', ls='--', lw=1.2, label=f'expert ({expert:.0f})')
    ax.axhline(rand, color='grey', ls=':', lw=1, label=f'random ({rand:.0f})')
    seeds = max(len(s['seeds']) for s in per_env.values())
    ax.set(xlabel='expert labels', ylabel='episode return',
           title=f'{env_id}: return against labels (median, min-max of {seeds} seed(s))')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right', ncol=2)
    return _save(plt, fig, path)


def _plot_effort(plt: Any, env_id: str, per_env: dict[str, Any], path: Path) -> Path:
    names = list(per_env)
    panels = (('expert_share', 'share of steps under expert control'),
              ('switches', 'context switches per round'), ('labels_per_round', 'labels per round'))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=110)
    for ax, (key, title) in zip(axes, panels):
        med = np.array([per_env[n][key]['median'] for n in names])
        low = med - np.array([per_env[n][key]['min'] for n in names])
        high = np.array([per_env[n][key]['max'] for n in names]) - med
        colors = ['tab:orange' if per_env[n]['gated'] else 'tab:blue' for n in names]
        ax.bar(range(len(names)), med, yerr=[low, high], capsize=3, color=colors)
        ax.set_xticks(range(len(names)), names, rotation=45, ha='right', fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, axis='y')
    fig.suptitle(f'{env_id}: human effort per algorithm (orange: gated; median, min-max)')
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- running ------------------------------------------------------------------------------------
def parse_envs(text: str, algorithms: str, seeds: int) -> list[tuple[str, list[str], int]]:
    """``ENV[=ALG+ALG...][@SEEDS]`` entries -> (env, algorithms, seeds), 'all' = every one."""
    plan = []
    for entry in filter(None, (part.strip() for part in text.split(','))):
        entry, _, count = entry.partition('@')
        env_id, _, names = entry.partition('=')
        chosen = names.split('+') if names else algorithms.split(',')
        if chosen == ['all']:
            chosen = list(ALGORITHM_NAMES)
        unknown = sorted(set(chosen) - set(ALGORITHM_NAMES))
        if unknown:
            raise SystemExit(f'unknown algorithm(s) {unknown}; known: {list(ALGORITHM_NAMES)}')
        plan.append((env_id, chosen, int(count) if count else seeds))
    return plan


def make_jobs(plan: Sequence[tuple[str, list[str], int]], overrides: dict[str, Any],
              first_seed: int = 0, rounds_for: dict[str, int] | None = None
              ) -> list[dict[str, Any]]:
    """One config per (task, algorithm, seed), the most expensive first.

    rounds_for: rounds per task, over the preset and overrides (every algorithm alike).
    """
    jobs = []
    for env_id, algorithms, seeds in plan:
        task_rounds = {'rounds': rounds_for[env_id]} if env_id in (rounds_for or {}) else {}
        for algorithm in algorithms:
            for seed in range(first_seed, first_seed + seeds):
                values = {**preset_for(env_id), 'env_id': env_id, 'algorithm': algorithm,
                          'seed': seed, **overrides, **task_rounds}
                jobs.append({'config': values, 'cost': job_cost(env_id, algorithm)})
    return sorted(jobs, key=lambda job: -job['cost'])


def job_cost(env_id: str, algorithm: str) -> float:
    """Rough relative cost of one run, for ordering only."""
    return COST.get(env_id, 1.0) * (3.0 if algorithm in HEAVY else 1.0)


def _one(job: dict[str, Any]) -> dict[str, Any]:
    single_thread()
    logging.getLogger('dagger_ros').setLevel(logging.WARNING)
    cfg = RunConfig.from_dict(job['config'])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_experiment(cfg, Path(tmp) / 'run')
    return {'env': cfg.env_id, 'algorithm': cfg.algorithm, 'seed': cfg.seed,
            'metrics': result.metrics, 'expert_return': result.expert_return,
            'random_return': result.random_return, 'seconds': time.perf_counter() - start}


def run_jobs(jobs: Sequence[dict[str, Any]], workers: int,
             journal: Path | None = None) -> list[dict[str, Any]]:
    """Run every job in a process pool, one progress line per finished run.

    journal: a JSON-lines file each finished run is appended to at once, so a long benchmark
    cut short keeps what it measured (``--merge`` reads it).
    """
    runs, start = [], time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_one, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            if journal is not None:
                with open(journal, 'a', encoding='utf-8') as out:
                    out.write(json.dumps(run, default=float) + '\n')
            log.info('[%d/%d %6.0fs] %s %s seed %d: %.0f labels, normalized %.2f (%.0fs)', done,
                     len(jobs), time.perf_counter() - start, run['env'], run['algorithm'],
                     run['seed'], run['metrics'][-1]['labels'],
                     run['metrics'][-1]['normalized'], run['seconds'])
    order = {(j['config']['env_id'], j['config']['algorithm'], j['config']['seed']): i
             for i, j in enumerate(_plan_order(jobs))}
    return sorted(runs, key=lambda r: order[(r['env'], r['algorithm'], r['seed'])])


def _plan_order(jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs back in the order the plan named them (tasks, then algorithms, then seeds)."""
    envs = list(dict.fromkeys(j['config']['env_id'] for j in jobs))
    return sorted(jobs, key=lambda j: (envs.index(j['config']['env_id']),
                                       _algorithm_index(j['config']['algorithm']),
                                       j['config']['seed']))


def _algorithm_index(name: str) -> int:
    return ALGORITHM_NAMES.index(name) if name in ALGORITHM_NAMES else len(ALGORITHM_NAMES)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--envs', default=','.join(TASKS),
                        help='comma-separated ENV[=ALG+ALG...][@SEEDS] (default: all four)')
    parser.add_argument('--algorithms', default=','.join(ALGORITHM_NAMES),
                        help='comma-separated algorithms for entries without =')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--first-seed', type=int, default=0,
                        help='seeds run are first-seed, first-seed + 1, ... (to add seeds)')
    parser.add_argument('--rounds', type=int, default=0,
                        help='rounds of every run (0: the task preset); same for every algorithm')
    parser.add_argument('--rounds-for', action='append', default=[], metavar='ENV=ROUNDS',
                        help='rounds of one task (e.g. HalfCheetah-v5=4); repeatable')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        help='override a run setting for every run (e.g. demo_steps=250); '
                             'repeatable; the value is read as JSON when it parses')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--quick', action='store_true', help=f'{QUICK["rounds"]} rounds')
    parser.add_argument('--name', default='labels', help='result file stem under bench/results')
    parser.add_argument('--merge', nargs='+', default=[], metavar='STEM',
                        help='run nothing: summarize the runs of these earlier result files')
    return parser.parse_args(argv)


def parse_sets(items: Sequence[str], option: str = '--set') -> dict[str, Any]:
    """``KEY=VALUE`` overrides; a value that parses as JSON is taken as such, else as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'{option} expects KEY=VALUE, got {item!r}')
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


def load_runs(stems: Sequence[str], folder: Path = RESULTS) -> list[dict[str, Any]]:
    """The runs of earlier result files; a (task, algorithm, seed) seen twice keeps the last.

    A stem whose <stem>.json is missing (a run cut short) is read from <stem>.runs.jsonl.
    """
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    for stem in stems:
        path = folder / f'{stem}.json'
        if path.exists():
            found = json.loads(path.read_text())['runs']
        else:
            lines = (folder / f'{stem}.runs.jsonl').read_text().splitlines()
            found = [json.loads(line) for line in lines if line.strip()]
        for run in found:
            runs[(run['env'], run['algorithm'], run['seed'])] = run
    return list(runs.values())


def main(argv: list[str] | None = None) -> int:
    """Run the label benchmark; see the module docstring."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    overrides = {**(QUICK if args.quick else {}),
                 **({'rounds': args.rounds} if args.rounds else {}), **parse_sets(args.set)}
    start = time.perf_counter()
    if args.merge:
        runs = load_runs(args.merge)
    else:
        rounds_for = {env: int(rounds) for env, rounds in
                      parse_sets(args.rounds_for, '--rounds-for').items()}
        jobs = make_jobs(parse_envs(args.envs, args.algorithms, args.seeds), overrides,
                         args.first_seed, rounds_for)
        for job in jobs[:1]:  # a bad --set fails here, not in every worker
            RunConfig.from_dict(job['config'])
        log.info('%d runs on %d worker(s)', len(jobs), args.workers)
        RESULTS.mkdir(parents=True, exist_ok=True)
        journal = RESULTS / f'{args.name}.runs.jsonl'
        journal.unlink(missing_ok=True)
        runs = run_jobs(jobs, args.workers, journal)
    summary = summarize(runs)
    checks = targets(summary, runs)
    text = table(summary, checks)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(summary, RESULTS, args.name)
    write_results(args.name, {'level': LEVEL, 'args': vars(args), 'overrides': overrides,
                              'wall_seconds': time.perf_counter() - start, 'targets': checks,
                              'summary': summary, 'runs': runs}, text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
