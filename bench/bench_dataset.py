"""Dataset speed and size: append rate, reload time, bytes per sample, peak memory.

Spaces as HalfCheetah's (obs_dim 17, act_dim 6). Each size runs in a fresh process so its peak
RSS is its own. Reload (open + ``arrays()``) is timed warm (file in the page cache, as right
after a run; then once more in the same process) and cold (the file's pages evicted with
posix_fadvise first). Writes bench/results/dataset.json and dataset.txt. Columns: append/s
in batches of --batch, single/s one sample per call, load s = open + arrays() the first time,
again s = arrays() a second time, cold s = open + arrays() with the file out of the cache.

    .venv/bin/python bench/bench_dataset.py --sizes 1000000 10000000
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
import json
import logging
import multiprocessing
import os
from pathlib import Path
import resource
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, RESULTS  # noqa: E402

from dagger_ros.core.dataset import Dataset  # noqa: E402
from dagger_ros.core.spec import EnvSpec  # noqa: E402
from dagger_ros.core.types import Source  # noqa: E402
from plots import plot_dataset  # noqa: E402

log = logging.getLogger('bench_dataset')
SPEC = EnvSpec('HalfCheetah-v5', 17, 6, (-1.0,) * 6, (1.0,) * 6)


def _append_batches(ds: Dataset, size: int, batch: int, rng: np.random.Generator) -> float:
    """Append ``size`` samples in batches; return seconds including the final fsync."""
    obs = rng.normal(size=(batch, SPEC.obs_dim))
    label = rng.uniform(-1, 1, size=(batch, SPEC.act_dim))
    start = time.perf_counter()
    for first in range(0, size, batch):
        count = min(batch, size - first)
        ds.append(obs[:count], label[:count], actor=Source.POLICY, labeler=Source.EXPERT,
                  reason='beta', round=first // 100_000, episode=first // 1000,
                  step=np.arange(count), policy_version=1, doubt=0.1)
    ds.flush(fsync=True)
    return time.perf_counter() - start


def _append_singles(ds: Dataset, count: int, rng: np.random.Generator) -> float:
    """Samples per second appended one at a time, as the live loop does."""
    obs = rng.normal(size=(count, SPEC.obs_dim))
    label = rng.uniform(-1, 1, size=(count, SPEC.act_dim))
    start = time.perf_counter()
    for i in range(count):
        ds.append(obs[i], label[i], actor=Source.POLICY, labeler=Source.EXPERT, reason='beta',
                  round=0, episode=0, step=i)
    ds.flush(fsync=True)
    return count / (time.perf_counter() - start)


def _reload(path: Path, cold: bool) -> dict[str, float]:
    """Seconds to open the dataset and copy out every column, twice (and to verify CRCs).

    The first copy pays for fresh memory pages, which on a VM can cost more than the copy.
    """
    if cold:
        _evict(path / 'records.bin')
    start = time.perf_counter()
    ds = Dataset.open(path, SPEC, writable=False)
    marks = [start, time.perf_counter()]
    for _ in range(2):
        data = ds.arrays()
        marks.append(time.perf_counter())
        assert len(data['obs']) == len(ds)
        del data
    out = {'open_s': marks[1] - marks[0], 'open_and_arrays_s': marks[2] - marks[0],
           'arrays_again_s': marks[3] - marks[2]}
    if not cold:
        start = time.perf_counter()
        ds.verify()
        out['verify_s'] = time.perf_counter() - start
    ds.close()
    return out


def _evict(path: Path) -> None:
    """Drop one file's pages from the page cache (clean after fsync), no root needed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure(size: int, batch: int, singles: int, root: str) -> dict[str, Any]:
    """Every figure for one dataset size, in a scratch directory that is deleted after."""
    rng = np.random.default_rng(0)
    path = Path(tempfile.mkdtemp(prefix='bench-dataset-', dir=root)) / 'ds'
    try:
        with Dataset.create(path, SPEC) as ds:
            seconds = _append_batches(ds, size, batch, rng)
        file_bytes = (path / 'records.bin').stat().st_size
        warm = _reload(path, cold=False)
        cold = _reload(path, cold=True)
        with Dataset.create(path.with_name('singles'), SPEC) as ds:
            single_rate = _append_singles(ds, singles, rng)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return {'samples': size, 'batch': batch, 'append_batch_samples_per_s': size / seconds,
            'append_single_samples_per_s': single_rate, 'bytes_per_sample': file_bytes / size,
            'file_mb': file_bytes / 2**20, 'warm': warm, 'cold': cold,
            'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of the results."""
    head = (f'{"samples":>10} {"B/sample":>8} {"append/s":>9} {"single/s":>9} {"open s":>7} '
            f'{"load s":>7} {"again s":>7} {"cold s":>7} {"verify s":>8} {"peak MB":>8}')
    lines = [head]
    for r in rows:
        warm, cold = r['warm'], r['cold']
        lines.append(f'{r["samples"]:>10} {r["bytes_per_sample"]:>8.0f} '
                     f'{r["append_batch_samples_per_s"]:>9.3g} '
                     f'{r["append_single_samples_per_s"]:>9.3g} {warm["open_s"]:>7.3f} '
                     f'{warm["open_and_arrays_s"]:>7.2f} {warm["arrays_again_s"]:>7.2f} '
                     f'{cold["open_and_arrays_s"]:>7.2f} {warm["verify_s"]:>8.2f} '
                     f'{r["peak_rss_mb"]:>8.0f}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure every size, log a table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1_000_000, 10_000_000])
    parser.add_argument('--batch', type=int, default=1000, help='samples per append call')
    parser.add_argument('--singles', type=int, default=20_000,
                        help='samples appended one by one for the single-append rate')
    parser.add_argument('--dir', default=tempfile.gettempdir(), help='scratch directory')
    parser.add_argument('--out', type=Path, default=RESULTS / 'dataset.json')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    rows = []
    for size in args.sizes:  # one fresh process per size: its own peak RSS
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as pool:
            rows.append(pool.submit(measure, size, args.batch, args.singles, args.dir).result())
        log.info('%d samples done', size)
    log.info('\n%s', table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({'machine': machine(), 'spec': SPEC.to_dict(),
                                    'results': rows}, indent=2))
    args.out.with_suffix('.txt').write_text(table(rows) + '\n')
    plot_dataset(rows, args.out.with_suffix('.png'))
    log.info('wrote %s', args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
