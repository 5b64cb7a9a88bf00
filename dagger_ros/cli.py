"""The ``dagger-ros`` command: run any algorithm on any gymnasium task with a scripted expert."""

from __future__ import annotations

import argparse
from dataclasses import fields
import json
import logging
from pathlib import Path
import sys
import time
from typing import Any, Sequence

import yaml

from dagger_ros.core.algorithms import ALGORITHM_NAMES, RunConfig
from dagger_ros.core.algorithms.loop import run_experiment, RunResult
from dagger_ros.core.algorithms.presets import preset_for
from dagger_ros.core.errors import DaggerError
from dagger_ros.core.experts import KNOWN_EXPERTS
from dagger_ros.core.plots import plot_learning_curves
from dagger_ros.graph import COMPOSITIONS

log = logging.getLogger('dagger_ros')
DEFAULT_ALGORITHMS = ('bc', 'dagger', 'hg_dagger', 'safe_dagger', 'lazy_dagger',
                      'ensemble_dagger', 'thrifty_dagger', 'dart', 'budgeted', 'async')


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def _file_settings(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    loaded = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(loaded, dict):
        raise DaggerError(f'{path}: expected a mapping of settings, got {type(loaded).__name__}')
    return dict(loaded.get('dagger_ros_cli', loaded))


def build_config(args: argparse.Namespace, algorithm: str | None = None,
                 seed: int | None = None) -> RunConfig:
    """Defaults < task preset < YAML file < --set key=value < explicit flags."""
    from_file = _file_settings(args.config)
    flags = {'env_id': args.env, 'algorithm': algorithm or getattr(args, 'algorithm', None),
             'seed': args.seed if seed is None else seed, 'rounds': args.rounds or None}
    env_id = flags['env_id'] or from_file.get('env_id') or RunConfig.env_id
    values: dict[str, Any] = {**preset_for(env_id), **from_file}
    for item in args.set or []:
        key, sep, text = item.partition('=')
        if not sep:
            raise DaggerError(f'--set expects key=value, got {item!r}')
        values[key.strip()] = _parse_value(text)
    values.update({key: value for key, value in flags.items() if value is not None})
    values['env_id'] = env_id
    return RunConfig.from_dict(values)


class _Progress:
    """A tqdm bar over rounds showing labels, return and who drove."""

    def __init__(self, total: int, name: str, enabled: bool) -> None:
        from tqdm import tqdm
        self.bar = tqdm(total=total, desc=name, unit='round', disable=not enabled,
                        dynamic_ncols=True, leave=True)

    def __call__(self, row: dict[str, Any]) -> None:
        self.bar.set_postfix(labels=row['labels'], ret=f"{row['return_mean']:.0f}",
                             norm=f"{row['normalized']:.2f}", v=row['policy_version'],
                             expert=f"{row['expert_share']:.0%}")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _run_one(cfg: RunConfig, run_dir: Path, resume: bool, progress: bool) -> RunResult:
    bar = _Progress(cfg.rounds + 1, f'{cfg.algorithm}/{cfg.env_id}/s{cfg.seed}', progress)
    try:
        return run_experiment(cfg, run_dir, resume=resume, on_round=bar)
    finally:
        bar.close()


def _summary(results: dict[str, RunResult]) -> str:
    lines = [f"{'run':<28} {'labels':>7} {'return':>9} {'normalized':>10} {'expert%':>8}",
             '-' * 66]
    for name, result in results.items():
        last = result.metrics[-1]
        lines.append(f"{name:<28} {last['labels']:>7d} {last['return_mean']:>9.1f} "
                     f"{last['normalized']:>10.2f} {last['expert_share']:>8.0%}")
    first = next(iter(results.values()))
    lines.append(f'expert return {first.expert_return:.1f}, random {first.random_return:.1f}')
    return '\n'.join(lines)


def _out_dir(args: argparse.Namespace, env_id: str, label: str) -> Path:
    if args.out:
        return Path(args.out)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    return Path('runs') / f'{env_id}-{label}-{stamp}'


def cmd_run(args: argparse.Namespace) -> int:
    """Run one algorithm for one seed (``--resume`` continues the run in ``--out``)."""
    if args.resume:
        if not args.out:
            raise DaggerError('--resume needs --out, the run directory to continue')
        return cmd_resume(argparse.Namespace(run_dir=args.out, rounds=args.rounds,
                                             quiet=args.quiet))
    cfg = build_config(args)
    out = _out_dir(args, cfg.env_id, f'{cfg.algorithm}-s{cfg.seed}')
    result = _run_one(cfg, out, resume=False, progress=not args.quiet)
    sys.stdout.write(_summary({cfg.algorithm: result}) + f'\nrun directory: {out}\n')
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue a run from its directory."""
    run_dir = Path(args.run_dir)
    config_path = run_dir / 'config.json'
    if not config_path.exists():
        raise DaggerError(f'{run_dir} is not a dagger_ros run directory (no config.json)')
    cfg = RunConfig.from_dict(json.loads(config_path.read_text()))
    if args.rounds:
        cfg = RunConfig.from_dict({**cfg.to_dict(), 'rounds': args.rounds})
    result = _run_one(cfg, run_dir, resume=True, progress=not args.quiet)
    sys.stdout.write(_summary({cfg.algorithm: result}) + '\n')
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Run several algorithms (and seeds) on one task; write one plot and a summary."""
    algorithms = [a.strip() for a in args.algorithms.split(',') if a.strip()]
    env_id = build_config(args, algorithm=algorithms[0]).env_id
    out = _out_dir(args, env_id, 'compare')
    results: dict[str, RunResult] = {}
    for algorithm in algorithms:
        for seed in range(args.seeds):
            cfg = build_config(args, algorithm=algorithm, seed=(args.seed or 0) + seed)
            name = f'{algorithm}-s{cfg.seed}'
            results[name] = _run_one(cfg, out / name, False, not args.quiet)
    first = next(iter(results.values()))
    plot_learning_curves({name: r.metrics for name, r in results.items()}, first.expert_return,
                         first.random_return, out / 'learning_curves.png',
                         f'{env_id}: return against expert labels')
    summary = _summary(results)
    (out / 'summary.txt').write_text(summary + '\n')
    sys.stdout.write(summary + f'\nplots and runs under {out}\n')
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List algorithms, scripted experts and settings."""
    sys.stdout.write('algorithms: ' + ', '.join(ALGORITHM_NAMES) + '\n')
    sys.stdout.write('scripted experts: ' + ', '.join(KNOWN_EXPERTS) + '\n')
    sys.stdout.write('settings (--set key=value):\n')
    for f in fields(RunConfig):
        meta = f.metadata
        unit = f" [{meta['unit']}]" if meta.get('unit') else ''
        sys.stdout.write(f'  {f.name} = {f.default!r}{unit}: {meta.get("description", "")}\n')
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """The live loop over ROS 2: every node its own process, progress per round."""
    from dagger_ros.core.live_gate import check_live_algorithm
    from dagger_ros.live import LiveOptions, run_live
    from dagger_ros.run import parse_set
    check_live_algorithm(args.algorithm)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    out = Path(args.out or f'runs/live-{args.env}-{args.algorithm}-s{args.seed}-{stamp}')
    options = LiveOptions(out=out, env_id=args.env, algorithm=args.algorithm,
                          rounds=args.rounds, seed=args.seed, profile=args.profile,
                          params_files=args.params_file or [], overrides=parse_set(args.set or []),
                          timeout_s=args.timeout, verbose=args.show_nodes,
                          composition=args.composition)
    return run_live(options)


def _add_live_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--env', default='Pendulum-v1', help='gymnasium env id')
    parser.add_argument('--algorithm', default='dagger', choices=ALGORITHM_NAMES)
    parser.add_argument('--rounds', type=int, default=10, help='rounds after the demonstration')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--profile', default='sim', choices=['sim', 'sim_human'],
                        help='sim: scripted expert; sim_human: a person with a gamepad (or the '
                             "keyboard in the live view's window) gates the policy")
    parser.add_argument('--params-file', action='append',
                        help='ROS params YAML read after config/sim.yaml (repeatable; later '
                             'ones win)')
    parser.add_argument('--set', action='append', metavar='NODE.PARAM=VALUE',
                        help='one node parameter, NODE may be * (e.g. trainer.epochs=50)')
    parser.add_argument('--composition', default='separate', choices=COMPOSITIONS,
                        help='separate: a process per node; composed: executor, expert and gate '
                             'in one process; inline: that, the gate calling them directly')
    parser.add_argument('--out', help='output folder (default runs/live-<env>-<algo>-...)')
    parser.add_argument('--timeout', type=float, default=900.0, help='give up after [s]')
    parser.add_argument('--show-nodes', action='store_true',
                        help="print the nodes' output here instead of <out>/nodes.log")


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--env', help='gymnasium env id (default Pendulum-v1)')
    parser.add_argument('--seed', type=int, help='seed (default 0)')
    parser.add_argument('--rounds', type=int, default=0, help='override the preset')
    parser.add_argument('--config', help='YAML of settings (see `dagger-ros list`)')
    parser.add_argument('--set', action='append', metavar='KEY=VALUE', help='one setting')
    parser.add_argument('--out', help='run directory (default runs/<env>-<algo>-<time>)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dagger-ros``."""
    parser = argparse.ArgumentParser(prog='dagger-ros', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help='run one algorithm')
    _add_run_args(run)
    run.add_argument('--algorithm', choices=ALGORITHM_NAMES, help='default dagger')
    run.add_argument('--resume', action='store_true',
                     help='continue the run in --out from its last finished round')
    run.set_defaults(func=cmd_run)
    resume = sub.add_parser('resume', help='continue a run directory')
    resume.add_argument('run_dir')
    resume.add_argument('--rounds', type=int, default=0, help='raise the number of rounds')
    resume.add_argument('--quiet', action='store_true')
    resume.set_defaults(func=cmd_resume)
    compare = sub.add_parser('compare', help='several algorithms on one task, one plot')
    _add_run_args(compare)
    compare.add_argument('--algorithms', default=','.join(DEFAULT_ALGORITHMS))
    compare.add_argument('--seeds', type=int, default=1, help='seeds per algorithm')
    compare.set_defaults(func=cmd_compare, algorithm=None)
    live = sub.add_parser('live', help='the live loop over ROS 2 nodes on a simulation')
    _add_live_args(live)
    live.set_defaults(func=cmd_live)
    lister = sub.add_parser('list', help='algorithms, experts and settings')
    lister.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with a one-line reason on bad input)."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return int(args.func(args))
    except (DaggerError, FileNotFoundError) as err:
        sys.stderr.write(f'dagger-ros: error: {err}\n')
        return 2
    except KeyboardInterrupt:
        sys.stderr.write('dagger-ros: interrupted; `dagger-ros resume <run dir>` continues\n')
        return 130


if __name__ == '__main__':
    sys.exit(main())
