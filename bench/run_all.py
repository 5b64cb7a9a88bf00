"""Run every benchmark, each as its own process, then one table of all targets.

Benchmarks: labels (return against expert labels, every algorithm), training (train_policy
against a DataLoader loop), dataset (append, reload, size) and, where bench/bench_live.py is
present, the live loop over ROS 2. Each writes its JSON under bench/results/; this script reads
them back and writes bench/results/summary.json and summary.txt.

``--quick`` runs the whole suite in a few minutes (labels on Pendulum-v1 with three algorithms,
one seed, 6 rounds; small datasets; short training) and writes <name>-quick result files. The
default mode is sized to stay under 30 minutes on 2 CPU cores with 2 label workers: BC and
DAgger on Pendulum-v1, InvertedDoublePendulum-v5 and LunarLanderContinuous-v3 (3 seeds), every
other algorithm on Pendulum-v1 and InvertedDoublePendulum-v5 (1 seed) and DAgger on
HalfCheetah-v5 to 6,000 labels (1 seed, 4 rounds: enough to check its target of 80% of the
expert within 20,000 labels; its planner expert makes it the longest run). The full label
benchmark (four tasks, every algorithm, 3 seeds) takes hours: run bench/bench_labels.py on
its own for it.

    .venv/bin/python bench/run_all.py --quick
    .venv/bin/python bench/run_all.py [--workers 2] [--no-cheetah] [--only labels,dataset]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import re
import subprocess
import sys
import time
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # runs from a checkout too
from common import machine, RESULTS, target, verdict  # noqa: E402

from dagger_ros.core.algorithms.config import ALGORITHM_NAMES  # noqa: E402

BENCH = Path(__file__).resolve().parent
SMALL_TASKS = ('Pendulum-v1', 'InvertedDoublePendulum-v5', 'LunarLanderContinuous-v3')
# The targets of the figures the other benchmarks write without a goal of their own.
TRAINING_RATIO = 5.0  # train_policy samples/s over the plain DataLoader loop's
RELOAD_10M_S = 5.0  # a 10M-sample dataset reloads within this many seconds
SINGLE_APPEND_PER_S = 10_000  # extra check: one-by-one appends, 10x a 1 kHz control loop
LIVE_MISSES_AT_HZ = 500.0  # the live graph misses no deadline at this rate
CHEETAH_ROUNDS = 4
"""HalfCheetah-v5 rounds in the default mode: 6,000 labels, inside the 20,000 of its target."""
PROGRESS = re.compile(r'^\[\d+/\d+|done$')  # benchmark output lines echoed as progress
# Live-loop ratios by name ending: p99 over the bare echo's, p99 while training over idle.
LIVE_GOALS = {'p99_over_echo_p99': ('<=', 1.5), 'p99_over_idle_p99': ('<=', 1.2)}


@dataclass(frozen=True)
class Job:
    """One benchmark process: its name, the JSON it writes and its command line."""

    name: str
    result: str
    args: tuple[str, ...]


def plan(quick: bool, workers: int, cheetah: bool) -> list[Job]:
    """The suite's benchmark processes for the chosen mode.

    Quick mode writes <name>-quick result files, so a smoke run never overwrites full results.
    """
    w = ('--workers', str(workers))
    suffix = '-quick' if quick else ''
    if quick:
        labels = ('--envs', 'Pendulum-v1=bc+dagger+hg_dagger', '--seeds', '1', '--rounds', '6')
        training = ('--samples', '20000', '--epochs', '1', '--repeats', '1')
        dataset = ('--sizes', '100000', '--singles', '5000')
    else:
        labels = ('--envs', default_label_plan(cheetah), '--rounds-for',
                  f'HalfCheetah-v5={CHEETAH_ROUNDS}')
        training = ()
        dataset = ('--sizes', '1000000', '10000000')
    jobs = [Job('labels', f'labels{suffix}.json',
                ('bench_labels.py', *labels, *w, '--name', f'labels{suffix}')),
            Job('training', f'training{suffix}.json',
                ('bench_training.py', *training, '--out', _out(f'training{suffix}'))),
            Job('dataset', f'dataset{suffix}.json',
                ('bench_dataset.py', *dataset, '--out', _out(f'dataset{suffix}')))]
    live = BENCH / 'bench_live.py'
    if live.exists():
        args: tuple[str, ...] = ('--quick',) if quick else ()
        named = quick and "'--name'" in live.read_text()  # older versions write live.json only
        args += ('--name', 'live-quick') if named else ()
        jobs.append(Job('live', 'live-quick.json' if named else 'live.json',
                        ('bench_live.py', *args)))
    return jobs


def default_label_plan(cheetah: bool = True) -> str:
    """The default mode's ``--envs`` of the label benchmark.

    BC and DAgger on the three small tasks (3 seeds), every other algorithm on Pendulum-v1 and
    InvertedDoublePendulum-v5 (1 seed), DAgger on HalfCheetah-v5 (1 seed, CHEETAH_ROUNDS
    rounds). Measured on 2 busy cores, one run at a time: about 30 CPU-minutes, 6 of them
    HalfCheetah.
    """
    others = '+'.join(a for a in ALGORITHM_NAMES if a not in ('bc', 'dagger'))
    plan = [f'{env}=bc+dagger@3' for env in SMALL_TASKS]
    plan += [f'{env}={others}@1' for env in SMALL_TASKS[:2]]
    return ','.join(plan + (['HalfCheetah-v5=dagger@1'] if cheetah else []))


def _out(stem: str) -> str:
    return str(RESULTS / f'{stem}.json')


def run_job(job: Job, index: int, total: int, log_dir: Path) -> dict[str, Any]:
    """Run one benchmark process, its output to a log file; a line when it starts and ends."""
    log_path = log_dir / f'{job.name}.log'
    command = [sys.executable, str(BENCH / job.args[0]), *job.args[1:]]
    print(f'[{index}/{total}] {job.name}: {" ".join(command[1:])}', flush=True)
    start = time.perf_counter()
    with open(log_path, 'w', encoding='utf-8') as out:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=BENCH.parent,
                                env={**os.environ, 'PYTHONUNBUFFERED': '1'})
        for line in proc.stdout:
            out.write(line)
            if PROGRESS.search(line):
                print(f'    {line.rstrip()}', flush=True)
        code = proc.wait()
    seconds = time.perf_counter() - start
    state = 'ok' if code == 0 else f'FAILED (exit {code}), see {log_path}'
    print(f'[{index}/{total}] {job.name}: {state} in {seconds:.0f} s', flush=True)
    return {'name': job.name, 'command': command, 'returncode': code, 'seconds': seconds,
            'log': str(log_path)}


# -- targets from each benchmark's JSON ---------------------------------------------------------
def labels_targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The label benchmark writes its own target checks."""
    return list(data.get('targets', []))


def training_targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """train_policy samples/s over the DataLoader loop's, per device."""
    return [target(f'training ({device}): train_policy / DataLoader samples/s', row['ratio'],
                   '>=', TRAINING_RATIO, _ceiling_note(row))
            for device, row in data.get('results', {}).items() if 'ratio' in row]


def _ceiling_note(row: dict[str, Any]) -> str:
    """The most any trainer could reach: the gradient steps alone over the DataLoader loop."""
    if 'ceiling_ratio' not in row:
        return ''
    return (f"ceiling {row['ceiling_ratio']:.2f}: the gradient steps alone, no loading, "
            f"reach {row['steps_only_samples_per_s']:,.0f} samples/s")


def dataset_targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Reload time of the 10M-sample dataset (warm and cold page cache), single-append rate.

    Without a 10M run (quick mode) the largest size's reload is scaled to 10M samples and
    the row says so.
    """
    rows = data.get('results', [])
    if not rows:
        return []
    big = max(rows, key=lambda r: r['samples'])
    scale = 1e7 / big['samples']
    note = '' if big['samples'] == 1e7 else f"scaled from {big['samples'] / 1e6:g}M samples"
    checks = [target(f'dataset: 10M samples reload, {cache} cache (s)',
                     big[cache]['open_and_arrays_s'] * scale, '<=', RELOAD_10M_S, note)
              for cache in ('warm', 'cold') if cache in big]
    checks.append(target('dataset: single appends per second (extra)',
                         big['append_single_samples_per_s'], '>=', SINGLE_APPEND_PER_S))
    return checks


def live_targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every p99 latency ratio of the live loop, and missed deadlines at 500 Hz."""
    checks = [target(f'live: {name}', value, *goal)
              for name, value in data.get('targets', {}).items()
              for ending, goal in LIVE_GOALS.items() if name.endswith(ending)]
    at_rate = {result['kind']: rate for result in data.get('results', [])
               for rate in result.get('rates', []) if rate['rate_hz'] == LIVE_MISSES_AT_HZ}
    echoes = [f"{at_rate[kind]['missed']} of {at_rate[kind]['sent']}"
              for kind in ('echo', 'echo-end') if kind in at_rate]
    baseline = f"; the bare echo missed {' and '.join(echoes)}" if echoes else ''
    for kind, rate in at_rate.items():
        if not kind.startswith('echo'):
            checks.append(target(f'live: {kind} missed deadlines at 500 Hz', rate['missed'],
                                 '<=', 0, f"of {rate['sent']}{baseline}"))
    return checks


COLLECTORS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    'labels': labels_targets, 'training': training_targets, 'dataset': dataset_targets,
    'live': live_targets}


def collect(jobs: list[Job], runs: dict[str, dict[str, Any]], folder: Path = RESULTS
            ) -> list[dict[str, Any]]:
    """Every target of every benchmark; a failed or missing benchmark gives one unmeasured row."""
    checks = []
    for job in jobs:
        path = folder / job.result
        run = runs.get(job.name, {})
        if run.get('returncode', 0) != 0 or not path.exists():
            why = 'benchmark failed' if run.get('returncode', 0) else f'no {job.result}'
            checks.append({'name': f'{job.name}: results', 'measured': None, 'op': '',
                           'target': None, 'met': None, 'note': why, 'benchmark': job.name})
            continue
        data = json.loads(path.read_text())
        for check in COLLECTORS[job.name](data):
            checks.append({**check, 'benchmark': job.name})
    return checks


def summary_table(checks: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> str:
    """The closing table: measured value, target, met/missed per target; job times."""
    width = max([len(c['name']) for c in checks] + [20])
    lines = [f"{'target':<{width}}  {'measured':>10}  {'target':>9}  result",
             '-' * (width + 40)]
    for c in checks:
        measured = _value(c['measured'])
        goal = '' if c['target'] is None else f"{c['op']} {c['target']:g}"
        note = f"  ({c['note']})" if c.get('note') else ''
        lines.append(f"{c['name']:<{width}}  {measured:>10}  {goal:>9}  {verdict(c['met'])}{note}")
    met = sum(c['met'] is True for c in checks)
    lines += ['', f'{met} of {len(checks)} targets met']
    if runs:
        times = ', '.join(f"{name} {run['seconds']:.0f} s" for name, run in runs.items())
        lines[-1] += f"; {times}; total {sum(r['seconds'] for r in runs.values()):.0f} s"
    return '\n'.join(lines)


def _value(measured: float | None) -> str:
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return 'n/a'
    return f'{measured:.3g}'


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='the whole suite in a few minutes')
    parser.add_argument('--workers', type=int, default=2,
                        help='processes of the label benchmark (1 on a busy machine)')
    parser.add_argument('--no-cheetah', dest='cheetah', action='store_false',
                        help='leave out DAgger on HalfCheetah-v5 (saves about 9 minutes)')
    parser.add_argument('--only', default='', help='comma-separated benchmark names to run')
    parser.add_argument('--summarize', action='store_true',
                        help='run nothing; summarize the JSON already in bench/results')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print and write the summary; exit 1 if a benchmark failed."""
    args = parse_args(argv)
    jobs = plan(args.quick, args.workers, args.cheetah)
    if args.only:
        jobs = [job for job in jobs if job.name in args.only.split(',')]
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS / 'logs'
    log_dir.mkdir(exist_ok=True)
    runs: dict[str, dict[str, Any]] = {}
    if not args.summarize:
        for index, job in enumerate(jobs, 1):
            runs[job.name] = run_job(job, index, len(jobs), log_dir)
    checks = collect(jobs, runs)
    text = summary_table(checks, runs)
    (RESULTS / 'summary.json').write_text(json.dumps(
        {'machine': machine(), 'quick': args.quick, 'runs': runs, 'targets': checks},
        indent=2, default=float))
    (RESULTS / 'summary.txt').write_text(text + '\n')
    print('\n' + text)
    return 0 if all(run['returncode'] == 0 for run in runs.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
