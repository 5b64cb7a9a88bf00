"""Shared bits of the benchmarks: result files, tables, worker set-up."""

from __future__ import annotations

import json
import os
from pathlib import Path
import platform
import time
from typing import Any

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
