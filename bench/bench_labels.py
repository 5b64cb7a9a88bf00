"""Label efficiency: return against expert labels for every algorithm, several seeds.

Writes bench/results/labels.json, labels.txt and one PNG per task. The figure of merit is the
number of expert labels after which the policy first scores >= 95% of the expert's return,
normalized between a random policy (0) and the expert (1); median over seeds.

    .venv/bin/python bench/bench_labels.py --envs Pendulum-v1 --algorithms bc,dagger --seeds 3
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import logging
from pathlib import Path
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # runs from a checkout too
from common import RESULTS, single_thread, write_results  # noqa: E402

from dagger_ros.core.algorithms.config import RunConfig  # noqa: E402
from dagger_ros.core.algorithms.loop import run_experiment  # noqa: E402
from dagger_ros.core.algorithms.presets import preset_for  # noqa: E402
from dagger_ros.core.plots import plot_learning_curves  # noqa: E402

log = logging.getLogger('bench_labels')
LEVEL = 0.95
QUICK = {'rounds': 4}


def _one(job: dict[str, Any]) -> dict[str, Any]:
    single_thread()
    cfg = RunConfig.from_dict(job['config'])
    with tempfile.TemporaryDirectory() as tmp:
        result = run_experiment(cfg, Path(tmp) / 'run')
    return {'env': cfg.env_id, 'algorithm': cfg.algorithm, 'seed': cfg.seed,
            'metrics': result.metrics, 'expert_return': result.expert_return,
            'random_return': result.random_return}


def labels_to_level(metrics: list[dict[str, Any]], level: float = LEVEL) -> float:
    """Labels at the first round scoring >= level normalized return (inf if never)."""
    for row in metrics:
        if row['normalized'] >= level:
            return float(row['labels'])
    return float('inf')


def _jobs(args: argparse.Namespace) -> list[dict[str, Any]]:
    jobs = []
    for env_id in args.envs.split(','):
        for algorithm in args.algorithms.split(','):
            for seed in range(args.seeds):
                values = {**preset_for(env_id), 'env_id': env_id, 'algorithm': algorithm,
                          'seed': seed, **(QUICK if args.quick else {})}
                jobs.append({'config': values})
    return jobs


def summarize(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Median labels-to-95% per (env, algorithm) and the DAgger-vs-BC ratio."""
    summary: dict[str, Any] = {}
    lines = [f"{'task':<28}{'algorithm':<17}{'labels to 95%':>14}{'final norm':>12}"
             f"{'expert share':>13}{'switches':>10}", '-' * 94]
    for env_id in sorted({r['env'] for r in runs}):
        per_env = {}
        for algorithm in dict.fromkeys(r['algorithm'] for r in runs if r['env'] == env_id):
            group = [r for r in runs if r['env'] == env_id and r['algorithm'] == algorithm]
            reach = [labels_to_level(r['metrics']) for r in group]
            final = [r['metrics'][-1]['normalized'] for r in group]
            share = [np.mean([m['expert_share'] for m in r['metrics'][1:]] or [1.0])
                     for r in group]
            switches = [np.mean([m['context_switches'] for m in r['metrics'][1:]] or [0])
                        for r in group]
            per_env[algorithm] = {'labels_to_95': reach, 'median_labels_to_95': float(
                np.median(reach)), 'final_normalized': final,
                'median_final_normalized': float(np.median(final)),
                'expert_share': float(np.mean(share)), 'switches_per_round': float(
                    np.mean(switches))}
            lines.append(f'{env_id:<28}{algorithm:<17}{np.median(reach):>14.0f}'
                         f'{np.median(final):>12.2f}{np.mean(share):>13.0%}'
                         f'{np.mean(switches):>10.1f}')
        summary[env_id] = per_env
        if 'dagger' in per_env and 'bc' in per_env:
            lines.append(f'{env_id:<28}{_ratio_line(per_env)}')
    return summary, '\n'.join(lines)


def _ratio_line(per_env: dict[str, Any]) -> str:
    dagger = per_env['dagger']['median_labels_to_95']
    bc = per_env['bc']['median_labels_to_95']
    if np.isinf(bc):
        per_env['dagger_over_bc'] = None
        return f'DAgger reaches 95% at {dagger:.0f} labels; BC never does in this budget'
    per_env['dagger_over_bc'] = dagger / bc
    return f'DAgger / BC labels to 95%: {dagger / bc:.2f}'


def plot(runs: list[dict[str, Any]]) -> None:
    """One PNG per task, every run as a line, expert return as the ceiling."""
    for env_id in sorted({r['env'] for r in runs}):
        group = [r for r in runs if r['env'] == env_id]
        curves = {f"{r['algorithm']}-s{r['seed']}": r['metrics'] for r in group}
        plot_learning_curves(curves, group[0]['expert_return'], group[0]['random_return'],
                             RESULTS / f'labels-{env_id}.png',
                             f'{env_id}: return against expert labels')


def main(argv: list[str] | None = None) -> int:
    """Run the label benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--envs', default='Pendulum-v1,InvertedDoublePendulum-v5')
    parser.add_argument('--algorithms', default='bc,dagger')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--quick', action='store_true', help='fewer rounds')
    parser.add_argument('--name', default='labels')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    jobs = _jobs(args)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(_one, jobs))
    summary, table = summarize(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(runs)
    write_results(args.name, {'level': LEVEL, 'summary': summary, 'runs': runs}, table)
    log.info('%s', table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
