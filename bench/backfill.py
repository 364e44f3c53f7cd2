"""Benchmark of `backfill enrollment ell`: 51 states × 3 years through the fake Urban API.

With --national: every source, what is received against what is needed (see bench/national.py).

    .venv/bin/python bench/backfill.py --postgres-url postgresql://postgres@127.0.0.1/postgres \
        --sqlite-path /tmp/bench-backfill.db [--latency 0.1] [--concurrency 4] [--write-rows 100000]

The fake API runs in a separate process (so its JSON encoding does not compete with the
backfill for this process's GIL) and serves the CCD 2023-24 directory rows of the shipped
fake dataset (~17,500 districts of the 50 states and DC) as the directory of 2021, 2022 and
2023 (enrollment varied by year), page size 10,000 — so each state-year is ONE page — with a
fixed latency per request. Ideal wall time = requests × latency / concurrency.

First the floor: the same 153 listings fetched with `concurrency` threads and nothing else
(no parsing, no database) — what the fake server and JSON decoding alone cost on this machine.

For each database (PostgreSQL: a new database `districtbench_backfill_bench_<pid>` on the
server of --postgres-url, dropped at the end unless --keep; SQLite: the file at --sqlite-path,
which must not exist; with neither option, a temporary SQLite file):
1. `run_backfill(engine, UrbanClient, [enrollment, ell], 2021–2023, 51 states, concurrency)`:
   wall time, requests, history rows written, rows/s, ratio to the ideal.
2. The write path alone: `upsert()` of --write-rows history rows (one transaction), first
   as inserts, then the same rows again as updates (ON CONFLICT … DO UPDATE).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

YEARS = (2021, 2022, 2023)
DIRECTORY = "school-districts/ccd/directory/{year}/"


def directory_dataset():
    """The 2023 directory rows of the 50 states + DC, replicated as 2021–2023."""
    from districtbench.db.states import STATES_AND_DC_FIPS
    from districtbench.fakeapi.dataset import Dataset, load_dataset

    states = {int(fips) for fips in STATES_AND_DC_FIPS}
    base = [row for row in load_dataset().records(DIRECTORY, 2023) if row.get("fips") in states]
    listings = {}
    for year in YEARS:
        rows = []
        for row in base:
            copy = dict(row, year=year)
            if isinstance(copy.get("enrollment"), int) and copy["enrollment"] > 0:
                copy["enrollment"] += 2023 - year
            rows.append(copy)
        listings[(DIRECTORY, year)] = rows
    return Dataset(listings, valid_years={DIRECTORY: range(1986, 2025)})


def serve(latency: float, national: bool = False) -> None:
    if national:
        import national

        national.serve(latency)
        return
    from districtbench.fakeapi import FakeUrbanApi

    api = FakeUrbanApi(directory_dataset(), page_size=10_000, latency=latency).start()
    print(api.url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes the pipe
    finally:
        api.stop()


def start_server(latency: float, national: bool = False) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--latency", str(latency), *(["--national"] if national else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        raise SystemExit(f"fake API did not start: {url!r}")
    return process, url


def sources():
    from districtbench.plugins.host import build_plugin_manager, collect_sources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = collect_sources(build_plugin_manager(load_entry_points=False))
    return [registry["enrollment"], registry["ell"]]


def bench_backfill(url: str, api_url: str, args) -> dict:
    from districtbench.backfill import run_backfill
    from districtbench.db.engine import create_db_engine
    from districtbench.db.migrations import upgrade
    from districtbench.db.states import STATES_AND_DC_FIPS
    from districtbench.urban.client import UrbanClient

    engine = create_db_engine(url)
    upgrade(engine)
    with UrbanClient(api_url, backoff_base=0.01, keep_results=False) as client:
        clock, cpu, server_cpu = time.perf_counter(), time.process_time(), process_cpu(args.server_pid)
        report = run_backfill(
            engine, client, sources(), list(YEARS), list(STATES_AND_DC_FIPS), concurrency=args.concurrency
        )
        wall = time.perf_counter() - clock
        cpu, server_cpu = time.process_time() - cpu, process_cpu(args.server_pid) - server_cpu
    engine.dispose()
    ideal = report.requests * args.latency / args.concurrency
    return {
        "wall": wall,
        "requests": report.requests,
        "units": report.count("complete"),
        "failed": len(report.failures),
        "rows": report.rows_written,
        "ideal": ideal,
        "cpu": cpu,
        "server_cpu": server_cpu,
    }


def bench_fetch_only(api_url: str, args) -> tuple[float, int]:
    from concurrent.futures import ThreadPoolExecutor

    from districtbench.db.states import STATES_AND_DC_FIPS
    from districtbench.urban.client import UrbanClient

    listings = [(year, int(fips)) for year in YEARS for fips in STATES_AND_DC_FIPS]
    with UrbanClient(api_url) as client, ThreadPoolExecutor(args.concurrency) as pool:
        clock, cpu, server_cpu = time.perf_counter(), time.process_time(), process_cpu(args.server_pid)
        list(pool.map(lambda job: client.fetch_all(DIRECTORY.format(year=job[0]), {"fips": job[1]}), listings))
        cpu, server_cpu = time.process_time() - cpu, process_cpu(args.server_pid) - server_cpu
        return time.perf_counter() - clock, client.request_count, cpu, server_cpu


def bench_writes(url: str, count: int) -> tuple[float, float]:
    """Seconds to upsert `count` history rows as inserts, then as updates."""
    from districtbench.backfill.upsert import upsert
    from districtbench.db import layout
    from districtbench.db.engine import create_db_engine

    engine = create_db_engine(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    t = layout.of(engine)
    with engine.connect() as connection:
        leaids = connection.execute(sa.select(t.districts.c.leaid)).scalars().all()
    rows = []
    year = 1990
    while len(rows) < count:
        rows += [
            {"leaid": leaid, "year": year, "source": "ccd_directory", "created_at": now,
             "enrollment": 1000 + i, "teachers_fte": None, "staff_total_fte": None, "spec_ed_students": 12}
            for i, leaid in enumerate(leaids[: count - len(rows)])
        ]
        year += 1
    columns = ("enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students")
    timings = []
    for _ in range(2):
        clock = time.perf_counter()
        with engine.begin() as connection:
            upsert(connection, t.district_data_history, rows, conflict=("leaid", "year", "source"), update=columns)
        timings.append(time.perf_counter() - clock)
        for row in rows:
            row["enrollment"] += 1
    engine.dispose()
    return timings[0], timings[1]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def databases(args):
    """(label, url, cleanup) for each database to benchmark."""
    if args.postgres_url:
        from districtbench.config import normalize_database_url

        admin_url = normalize_database_url(args.postgres_url)
        name = f"districtbench_backfill_bench_{os.getpid()}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

        def drop():
            if not args.keep:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        yield "postgresql", url, drop
    if args.sqlite_path or not args.postgres_url:
        path = Path(args.sqlite_path or Path(tempfile.mkdtemp()) / f"bench-{uuid.uuid4().hex[:8]}.db")
        if path.exists():
            raise SystemExit(f"{path} exists; give a path to a new file")
        yield "sqlite", f"sqlite:///{path}", lambda: None if args.keep else path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", help="server to create the benchmark database on")
    parser.add_argument("--sqlite-path", help="SQLite file to create (must not exist)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (default 0.1)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--write-rows", type=int, default=100_000, help="history rows for the write-path timing")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--national", action="store_true",
                        help="all seven sources, three latest years, 51 states: received vs needed (bench/national.py)")
    parser.add_argument("--fips-only-states", default="AL,AK,AZ,AR,CA,CO,CT,DE",
                        help="states of the --national fips-only comparison run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency, national=args.national)
        return
    if args.national:
        import national

        national.main(args, start_server)
        return
    server, api_url = start_server(args.latency)
    args.server_pid = server.pid
    print(f"fake API {api_url}: latency {args.latency * 1000:.0f} ms, page size 10,000; "
          f"concurrency {args.concurrency}; CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    try:
        wall, requests, cpu, server_cpu = bench_fetch_only(api_url, args)
        ideal = requests * args.latency / args.concurrency
        print(f"floor      fetch only (no parse, no database): {wall:.2f} s wall, {requests} requests; "
              f"ideal {ideal:.2f} s → {wall / ideal:.2f}× ideal; CPU: this process {cpu:.2f} s, "
              f"fake API {server_cpu:.2f} s")
        for label, url, cleanup in databases(args):
            try:
                result = bench_backfill(url, api_url, args)
                print(
                    f"{label:10} backfill enrollment ell, 51 states × {len(YEARS)} years: "
                    f"{result['wall']:.2f} s wall, {result['requests']} requests, {result['units']} units "
                    f"({result['failed']} failed), {result['rows']:,} history rows, "
                    f"{result['rows'] / result['wall']:,.0f} rows/s; ideal {result['ideal']:.2f} s "
                    f"→ {result['wall'] / result['ideal']:.2f}× ideal; CPU: this process {result['cpu']:.2f} s, "
                    f"fake API {result['server_cpu']:.2f} s; peak RSS {peak_rss_mb():,.0f} MB"
                )
                inserts, updates = bench_writes(url, args.write_rows)
                print(
                    f"{label:10} write path, {args.write_rows:,} history rows in one transaction: "
                    f"insert {inserts:.2f} s ({args.write_rows / inserts:,.0f} rows/s), "
                    f"update {updates:.2f} s ({args.write_rows / updates:,.0f} rows/s)"
                )
            finally:
                cleanup()
    finally:
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
