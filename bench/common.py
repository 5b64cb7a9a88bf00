"""Shared bits of the benchmarks: result files, tables, worker set-up."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import platform
import time
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / 'results'


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch
    return {'cpus': os.cpu_count(), 'python': platform.python_version(),
            'torch': torch.__version__, 'cuda': torch.cuda.is_available(),
            'platform': platform.platform(), 'time': time.strftime('%Y-%m-%d %H:%M:%S')}


def write_results(name: str, data: dict[str, Any], table: str) -> Path:
    """Write <name>.json and <name>.txt under bench/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f'{name}.json'
    out.write_text(json.dumps({'machine': machine(), **data}, indent=2, default=float))
    (RESULTS / f'{name}.txt').write_text(table + '\n')
    return out


def single_thread() -> None:
    """One torch thread per worker: the machine has 2 cores and runs 2 workers."""
    import torch
    torch.set_num_threads(1)


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of per-seed values (NaN for none; inf counts as a value)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {'median': float('nan'), 'min': float('nan'), 'max': float('nan'), 'n': 0}
    return {'median': float(np.median(arr)), 'min': float(arr.min()),
            'max': float(arr.max()), 'n': int(arr.size)}


OPS = {'<': lambda a, b: a < b, '<=': lambda a, b: a <= b, '>': lambda a, b: a > b,
       '>=': lambda a, b: a >= b}


def is_met(measured: float | None, op: str, goal: float) -> bool | None:
    """Whether measured <op> goal holds; None when nothing was measured (None or NaN)."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return None
    return bool(OPS[op](measured, goal))


def target(name: str, measured: float | None, op: str, goal: float,
           note: str = '') -> dict[str, Any]:
    """One target check in the form every benchmark writes and run_all.py collects."""
    return {'name': name, 'measured': measured, 'op': op, 'target': goal,
            'met': is_met(measured, op, goal), 'note': note}


def verdict(met: bool | None) -> str:
    """'met', 'missed' or 'not measured'."""
    return {True: 'met', False: 'missed', None: 'not measured'}[met]


def format_target(check: dict[str, Any]) -> str:
    """One readable line: name, measured value, target, verdict, note."""
    measured = check['measured']
    value = 'n/a' if measured is None else f'{measured:.3g}'
    note = f" ({check['note']})" if check.get('note') else ''
    goal = '' if check['target'] is None else f" (target {check['op']} {check['target']:g})"
    return f"{check['name']}: {value}{goal} {verdict(check['met'])}{note}"
