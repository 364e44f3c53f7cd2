"""Benchmark of the parse step alone: `enrollment` and `ell` over 51 states × 3 years.

    .venv/bin/python bench/parse.py [--rounds 5]

The listings of bench/backfill.py (the shipped CCD 2023-24 directory as 2021–2023, ~17,500
districts a year), grouped into fetch tasks as a backfill groups them (`plan.group_tasks`)
and parsed by `fetch.parse_task` — the host's row pipeline with no HTTP and no database, so
the CPU time it prints is what the parsing costs. Prints the best and the median CPU seconds
of `--rounds` passes over all 153 tasks (306 units), and the rows, skipped and nulled totals.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import backfill as bench_backfill  # noqa: E402  (bench/backfill.py: its dataset and sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from districtbench.backfill.fetch import Fetched, parse_task
    from districtbench.backfill.plan import group_tasks, plan_units
    from districtbench.db.states import STATES_AND_DC_FIPS
    from districtbench.db.timestamps import utcnow

    dataset = bench_backfill.directory_dataset()
    plan = plan_units(bench_backfill.sources(), list(bench_backfill.YEARS), list(STATES_AND_DC_FIPS))
    fetched = []
    for task in group_tasks(plan.units):
        listings = {}
        for endpoint in task.endpoints:
            fips = int(task.state_fips)
            rows = [dict(row) for row in dataset.records(endpoint.template, task.year, fips=fips)]
            listings[endpoint.key] = rows
        fetched.append(Fetched(task, listings, None, utcnow(), {key: [len(rows)] for key, rows in listings.items()}))

    times = []
    for _ in range(args.rounds):
        written = skipped = nulled = 0
        cpu = time.process_time()
        for item in fetched:
            for result in parse_task(item):
                if result.failure:
                    raise SystemExit(f"{result.unit.label}: {result.failure}")
                written += len(result.rows.history)
                skipped += sum(result.rows.skipped.values())
                nulled += sum(Counter(result.rows.nulled).values())
        times.append(time.process_time() - cpu)
    print(f"parse {len(fetched)} tasks ({len(plan.units)} units): best {min(times):.3f} s CPU, "
          f"median {statistics.median(times):.3f} s over {args.rounds} rounds; "
          f"{written:,} history rows, {skipped:,} skipped, {nulled:,} nulled")


if __name__ == "__main__":
    main()
