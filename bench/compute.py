"""Benchmark of `districtbench compute all` at national scale, on PostgreSQL and SQLite.

    .venv/bin/python bench/compute.py --postgres-url postgresql://postgres@127.0.0.1/postgres \
        --sqlite-path /tmp/bench.db [--districts 18000] [--runs 5]

For each database: create a fresh one (PostgreSQL: a new database `districtbench_bench_<pid>`
on the server of --postgres-url, dropped at the end unless --keep; SQLite: the file at
--sqlite-path, which must not exist), migrate it, bulk-load a synthetic history
(bench/synthetic_history.py: ~18,000 districts, ~460,000 rows, and the denominators of the
pooled averages beside the non-directory rows in districtbench_history_extras; PostgreSQL: then VACUUM
ANALYZE and CHECKPOINT, untimed), then time the whole command
`districtbench --database-url URL compute all` — build_app() + typer's CliRunner, in this
process, so plugin loading, engine creation and the migration check are included — `--runs`
times (the modules a first invocation imports are imported before, untimed, and the objects
then frozen for the garbage collector as `main()` does: see `warm_up_imports`). Printed per
run: seconds, the process's peak RSS so far, and the machine's load average (other work on
the machine shows up in the timings); on PostgreSQL also the on-disk size of `districts`
(bloat). After each run, the same command in a new process (interpreter start and imports
included), so both see the same load. Then, not timed, one more run under tracemalloc for the
peak of Python allocations; printed: the median in this process, the median in a new process
and their ratio.
Runs after the first find unchanged data, which is what a re-run after a no-op backfill
sees; `--change-rows N` rewrites N directory rows between runs (not timed) so every run
also has real updates to make.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from statistics import median
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_history import (  # noqa: E402
    DISTRICT_COLUMNS,
    EXTRAS_COLUMNS,
    HISTORY_COLUMNS,
    copy_rows,
    district_ids,
    districts,
    extras,
    history,
    insert_rows,
)
from typer.testing import CliRunner  # noqa: E402

from districtbench.cli import build_app  # noqa: E402
from districtbench.db.engine import create_db_engine  # noqa: E402
from districtbench.db.migrations import upgrade  # noqa: E402


def load(url: str, count: int) -> tuple[int, int, float]:
    engine = create_db_engine(url)
    upgrade(engine)
    ids = district_ids(count)
    clock = time.perf_counter()
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            n_d = copy_rows(raw.dbapi_connection, "districts", DISTRICT_COLUMNS, districts(ids))
            n_h = copy_rows(raw.dbapi_connection, "district_data_history", HISTORY_COLUMNS, history(ids))
            copy_rows(raw.dbapi_connection, "districtbench.districtbench_history_extras", EXTRAS_COLUMNS, extras(ids))
            raw.commit()
            raw.dbapi_connection.autocommit = True
            raw.cursor().execute("VACUUM ANALYZE")
            raw.cursor().execute("CHECKPOINT")  # the load's own writes to disk, before the timed runs
            raw.dbapi_connection.autocommit = False
        else:
            n_d = insert_rows(raw.dbapi_connection, "districts", DISTRICT_COLUMNS, districts(ids))
            n_h = insert_rows(raw.dbapi_connection, "district_data_history", HISTORY_COLUMNS, history(ids))
            insert_rows(raw.dbapi_connection, "districtbench_history_extras", EXTRAS_COLUMNS, extras(ids))
            raw.commit()
            raw.cursor().execute("ANALYZE")
    finally:
        raw.close()
        engine.dispose()
    return n_d, n_h, time.perf_counter() - clock


def change_rows(url: str, count: int, run: int) -> None:
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE district_data_history SET enrollment = enrollment + :delta "
                "WHERE id IN (SELECT id FROM district_data_history WHERE source = 'ccd_directory' "
                "AND year = 2021 ORDER BY id LIMIT :n)"
            ),
            {"delta": run, "n": count},
        )
    engine.dispose()


def districts_size(url: str) -> str:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        size = connection.execute(sa.text("SELECT pg_size_pretty(pg_total_relation_size('districts'))")).scalar()
    engine.dispose()
    return size


def warm_up_imports() -> None:
    """Import, once and untimed, what the first invocation in this process would import
    lazily (command modules, plugins; `load` imported the database driver already): a
    process pays that once, and the run in a new process below measures it. Run 1 is then
    the first compute of the data (every district row written), not also the first import.
    Then, as `districtbench.cli.main` does before it runs a command, exempt the objects that
    exist so far from garbage collection (gc.freeze)."""
    build_app()
    gc.freeze()


def bench(label: str, url: str, args) -> list[float]:
    n_d, n_h, seconds = load(url, args.districts)
    print(f"\n{label}: loaded {n_d:,} districts and {n_h:,} history rows in {seconds:.1f} s", flush=True)
    warm_up_imports()
    runner = CliRunner()
    times, without, fresh, peers = [], [], [], []
    for run in range(1, args.runs + 1):
        if run > 1 and args.change_rows:
            change_rows(url, args.change_rows, run)
        # Side by side (interleaved): every family but `peers`, then `compute all` with it.
        clock = time.perf_counter()
        check(runner.invoke(build_app(), ["--database-url", url, "compute", *WITHOUT_PEERS]))
        without.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        result = runner.invoke(build_app(), ["--database-url", url, "compute", "all"])
        elapsed = time.perf_counter() - clock
        check(result)
        times.append(elapsed)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        extra = f", districts table {districts_size(url)}" if url.startswith("postgresql") else ""
        peers.append(peers_seconds(url))
        print(
            f"  run {run}: compute all {elapsed:.3f} s (peers family {peers[-1]:.3f} s), without peers "
            f"{without[-1]:.3f} s ({elapsed / without[-1]:.2f}x), process peak RSS {rss:.0f} MB{extra}, "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
            flush=True,
        )
        # Right after, the same command as a new process (interpreter start and imports
        # included), so both see the same load. Target (issue 16): at most 1.25 × in-process.
        fresh.append(new_process(url))
        print(f"         the same in a new process {fresh[-1]:.3f} s ({fresh[-1] / elapsed:.2f}x), "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"  compute all: min {min(times):.3f} s, max {max(times):.3f} s, mean {sum(times) / len(times):.3f} s")
    print(f"  without peers: min {min(without):.3f} s, max {max(without):.3f} s, "
          f"mean {sum(without) / len(without):.3f} s; ratio of the minima {min(times) / min(without):.2f}x")
    # Issue 15 item 3: the peers family ≤ 2 s; compute all with peers ≤ 1.3 × without them.
    print(f"  peers family: min {min(peers):.3f} s, median {median(peers):.3f} s (target ≤ 2 s); "
          f"compute all with / without peers: median {median(times):.3f} s / {median(without):.3f} s = "
          f"{median(times) / median(without):.2f}x, minima {min(times) / min(without):.2f}x (target ≤ 1.3x), "
          f"load average {os.getloadavg()[0]:.2f}")
    # Not timed: tracing every allocation slows Python down by a third.
    tracemalloc.start()
    check(runner.invoke(build_app(), ["--database-url", url, "compute", "all"]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  one more run under tracemalloc (not timed): Python allocations peak at {peak / 2**20:.1f} MB")
    in_process, in_new_process = median(times), median(fresh)
    print(f"  in this process: median {in_process:.3f} s; `python -m districtbench compute all` in a new process "
          f"(interpreter start and imports included): median {in_new_process:.3f} s "
          f"(min {min(fresh):.3f}, max {max(fresh):.3f}); new process / in process = {in_new_process / in_process:.2f}, "
          f"load average {os.getloadavg()[0]:.2f}")
    return times


def new_process(url: str) -> float:
    """Seconds of `python -m districtbench --database-url URL compute all` as a new process."""
    clock = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "districtbench", "--database-url", url, "compute", "all"], capture_output=True, text=True
    )
    seconds = time.perf_counter() - clock
    if process.returncode != 0:
        raise SystemExit(f"compute failed in a new process:\n{process.stdout}{process.stderr}")
    return seconds


WITHOUT_PEERS = ("latest", "ratios", "averages", "trends", "deltas")


def peers_seconds(url: str) -> float:
    """The last `compute:peers` log row's duration."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.text(
                "SELECT started_at, completed_at FROM data_refresh_logs WHERE data_source = 'compute:peers' "
                "ORDER BY id DESC LIMIT 1")).one()
    finally:
        engine.dispose()
    started, completed = row
    if isinstance(started, str):
        from datetime import datetime
        started, completed = datetime.fromisoformat(started), datetime.fromisoformat(completed)
    return (completed - started).total_seconds()


def check(result) -> None:
    if result.exit_code != 0:
        print(result.output, result.exception, file=sys.stderr)
        raise SystemExit(f"compute failed with exit code {result.exit_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", help="server to create the benchmark database on (skipped if absent)")
    parser.add_argument("--sqlite-path", help="SQLite file to create (must not exist; skipped if absent)")
    parser.add_argument("--districts", type=int, default=18_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--change-rows", type=int, default=0, help="history rows to change between runs")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL benchmark database")
    args = parser.parse_args()
    if not args.postgres_url and not args.sqlite_path:
        parser.error("give --postgres-url and/or --sqlite-path")

    if args.postgres_url:
        admin_url = sa.engine.make_url(args.postgres_url.replace("postgres://", "postgresql://", 1))
        if admin_url.drivername == "postgresql":
            admin_url = admin_url.set(drivername="postgresql+psycopg2")
        name = f"districtbench_bench_{os.getpid()}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            bench("PostgreSQL", admin_url.set(database=name).render_as_string(hide_password=False), args)
        finally:
            if not args.keep:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    if args.sqlite_path:
        path = Path(args.sqlite_path)
        if path.exists():
            raise SystemExit(f"{path} exists; give a path for a new file")
        bench("SQLite", f"sqlite:///{path}", args)


if __name__ == "__main__":
    main()
