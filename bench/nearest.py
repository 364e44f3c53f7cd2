"""Benchmark of the nearest-neighbour step of `peers` (`peers_nearest.peer_lists`) alone.

    .venv/bin/python bench/nearest.py [--runs 7] [--compare-with main]

~19,000 synthetic districts (seeded numpy, NOT real data) in 4 locale groups of about the
national sizes (2,100 City, 3,900 Suburb, 3,300 Town, 8,600 Rural... scaled to --districts);
features like the real ones: ln(enrollment) of a log-normal enrollment, and poverty, ELL and
special-education percentages from skewed distributions rounded to 2 decimals (many ELL
values are 0, so ties occur). Their z-scores (`peers_nearest.z_scores`) and
`peer_lists(z, keys, 20)` timed --runs times; printed: min and median seconds, and the load
average before and after (the machine is shared: compare ratios within one run).

--compare-with REF also times the `peers_nearest` module of git revision REF (written to a
temporary file for this run only) on the same data, interleaved run by run, and checks that
both give the same peers, distances and counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from districtbench.metrics import peers_nearest

GROUP_SHARES = {1: 2100, 2: 3900, 3: 3300, 4: 8600}  # of 17,900
MODULE_PATH = "src/districtbench/metrics/peers_nearest.py"


def synthetic(count: int, seed: int = 17) -> tuple[np.ndarray, list[tuple]]:
    rng = np.random.default_rng(seed)
    total = sum(GROUP_SHARES.values())
    sizes = [round(count * share / total) for share in GROUP_SHARES.values()]
    groups = np.repeat(list(GROUP_SHARES), sizes)
    rng.shuffle(groups)
    n = len(groups)
    enrollment = np.maximum(1, np.round(rng.lognormal(7.0, 1.4, n)))
    poverty = np.round(np.clip(rng.gamma(4.0, 4.5, n), 0, 100), 2)
    ell = np.round(np.where(rng.random(n) < 0.3, 0.0, np.clip(rng.exponential(4.0, n), 0, 100)), 2)
    swd = np.round(np.clip(rng.normal(14.0, 3.5, n), 0, 100), 2)
    z = peers_nearest.z_scores([np.log(enrollment).tolist(), poverty.tolist(), ell.tolist(), swd.tolist()])
    return z, [(int(g),) for g in groups]


def module_at(revision: str, directory: str):
    source = subprocess.run(["git", "show", f"{revision}:{MODULE_PATH}"], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    path = Path(directory) / f"peers_nearest_{revision.replace('/', '_')}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(module, z, keys) -> tuple[float, tuple]:
    clock = time.perf_counter()
    result = module.peer_lists(z, keys, 20)
    return time.perf_counter() - clock, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=19000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare-with", metavar="REF", help="also time peers_nearest of this git revision")
    args = parser.parse_args()
    z, keys = synthetic(args.districts)
    sizes = sorted({key: keys.count(key) for key in set(keys)}.items())
    print(f"{len(z):,} districts, groups {', '.join(f'{g[0]}: {s:,}' for g, s in sizes)}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as directory:
        modules = {"this checkout": peers_nearest}
        if args.compare_with:
            modules[args.compare_with] = module_at(args.compare_with, directory)
        times = {label: [] for label in modules}
        results = {}
        for _ in range(args.runs):
            for label, module in modules.items():
                seconds, results[label] = timed(module, z, keys)
                times[label].append(seconds)
    for label, values in times.items():
        print(f"{label:>14}: min {min(values):.3f} s, median {median(values):.3f} s over {len(values)} runs")
    if args.compare_with:
        mine, other = results["this checkout"], results[args.compare_with]
        same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(mine, other))
        ratio = median(times[args.compare_with]) / median(times["this checkout"])
        print(f"same peers, distances and counts: {same}; median ratio {args.compare_with} / this checkout: {ratio:.1f}x")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
