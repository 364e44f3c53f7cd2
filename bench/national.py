"""National backfill of all seven sources through the fake API: what is received vs needed.

    .venv/bin/python bench/backfill.py --national [--latency 0.1] [--concurrency 4] \
        [--fips-only-states AL,AK,AZ,AR,CA,CO,CT,DE]

The fake API runs in its own process over `national_dataset.py` (the three latest years of
each source, 51 states, CRDC ≈ 95,000 schools × 24–32 rows), 10,000-row pages, a fixed latency
per request, no faults. Two runs of `backfill all --years latest-2` (catalog read included):

1. as districtbench asks — the catalog's years, the all-students filters, `fields=` — for
   all 51 states;
2. fips-only, as before issue 10: `?fips=N` and every column — for the states of
   --fips-only-states (a full national fips-only CRDC run moves ~17 million rows, more than
   this 2-core machine does in a sensible time; the ratios are per listing, so a subset that
   includes California shows them).

Per endpoint: requests, rows and bytes received against the minimum — the rows needed (the
all-students rows of each state-year) with only the fields the source reads, in 10,000-row
pages — and for the run, wall time against the ideal: the catalog's requests one after the
other plus the minimum number of data requests × latency / concurrency.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PAGE = 10_000
TARGETS = {"rows": 1.05, "bytes": 1.3, "wall": 1.2}


def serve(latency: float) -> None:
    import sys

    from districtbench.fakeapi import FakeUrbanApi

    sys.path.insert(0, str(Path(__file__).parent))
    from national_dataset import national_dataset

    dataset = national_dataset()
    warm(dataset)
    api = FakeUrbanApi(dataset, page_size=PAGE, latency=latency).start()
    print(api.url, flush=True)
    try:
        sys.stdin.read()
    finally:
        api.stop()


def warm(dataset) -> None:
    """Build each table's index for the queries both runs send, before any timing."""
    for template in dataset.templates:
        names = dataset.filter_names(template) or set()
        for year in dataset.years(template):
            table = dataset.table(template, year)
            table.select({"fips": ["1"]})
            subgroups = [n for n in ("race", "sex", "disability", "lep", "homeless", "econ_disadvantaged",
                                     "foster_care") if n in names and n in table.columns]
            if subgroups:
                table.select({"fips": ["1"], **{n: ["99"] for n in subgroups}})


def sources():
    import warnings

    from districtbench.plugins.host import build_plugin_manager, collect_sources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(collect_sources(build_plugin_manager(load_entry_points=False)))


def fips_only(availability):
    """The same sources asking `?fips=N` for every column (no filters, no fields=)."""
    for status in availability.statuses:
        endpoints = tuple(dataclasses.replace(e, filters={}, fields=()) for e in status.source.endpoints)
        status.source = dataclasses.replace(status.source, endpoints=endpoints)
    return availability


def minimum(dataset, availability, states) -> dict[str, dict]:
    """Per endpoint key: rows needed, bytes of those rows with only the fields the sources
    reading it declare (their union), in 10,000-row pages, and the data requests that takes
    (at least one per listing)."""
    from districtbench.sources.request import merged
    from districtbench.yearspec import Latest

    out: dict[str, dict] = defaultdict(lambda: {"rows": 0, "bytes": 0, "requests": 0, "sources": set()})
    declarations: dict[str, list] = defaultdict(list)
    years: dict[str, set[int]] = defaultdict(set)
    for source in availability.sources:
        for endpoint in source.endpoints:
            declarations[endpoint.key].append(endpoint)
            years[endpoint.key].update(Latest(2).pick(source.years))
            out[endpoint.key]["sources"].add(source.name)
    for key, same in declarations.items():
        endpoint, entry = merged(same), out[key]
        for year in sorted(years[key]):
            for fips in states:
                table = dataset.table(key, year)
                wanted = {"fips": [str(int(fips))], **{k: [str(v)] for k, v in endpoint.filters.items()}}
                rows = table.rows(table.select(wanted), list(endpoint.fields)) if table is not None else []
                entry["rows"] += len(rows)
                entry["requests"] += max(1, math.ceil(len(rows) / PAGE))
                for start in range(0, max(len(rows), 1), PAGE):
                    envelope = {"count": len(rows), "next": None, "previous": None, "results": rows[start:start + PAGE]}
                    entry["bytes"] += len(json.dumps(envelope).encode())
    return out


def run_once(label, api_url, availability, states, args, needed, catalog_requests) -> list[str]:
    from districtbench.backfill import run_backfill
    from districtbench.db.engine import create_db_engine
    from districtbench.db.migrations import upgrade
    from districtbench.urban.client import UrbanClient
    from districtbench.yearspec import Latest

    path = Path(tempfile.mkdtemp()) / "national.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    from backfill import process_cpu

    with UrbanClient(api_url, backoff_base=0.01, keep_results=False) as client:
        clock, cpu, server_cpu = time.perf_counter(), time.process_time(), process_cpu(args.server_pid)
        report = run_backfill(engine, client, availability.sources, Latest(2), states,
                              concurrency=args.concurrency, availability=availability)
        wall = time.perf_counter() - clock + args.catalog_seconds
        cpu, server_cpu = time.process_time() - cpu, process_cpu(args.server_pid) - server_cpu
        traffic = client.traffic()
    engine.dispose()
    by_key: dict[str, list] = defaultdict(lambda: [0, 0, 0])
    for url, counts in traffic.items():
        key = next((k for k in needed if _matches(url, k)), url)
        by_key[key][0] += counts.requests
        by_key[key][1] += counts.rows
        by_key[key][2] += counts.bytes
    lines = [f"{label}: {len(states)} states, {report.count('complete')} units complete, {len(report.failures)} failed, "
             f"{report.rows_written:,} history rows"]
    lines.append(f"  {'endpoint (sources)':64} {'requests':>9} {'min':>6} {'rows received':>14} {'needed':>10} "
                 f"{'×':>6} {'MB received':>12} {'min MB':>8} {'×':>6}")
    totals = [0, 0, 0, 0, 0, 0]
    for key, want in needed.items():
        got = by_key.get(key, [0, 0, 0])
        name = f"{key} ({', '.join(sorted(want['sources']))})"
        lines.append(f"  {name[:64]:64} {got[0]:>9,} {want['requests']:>6,} {got[1]:>14,} {want['rows']:>10,} "
                     f"{_ratio(got[1], want['rows']):>6} {got[2] / 1e6:>12,.1f} {want['bytes'] / 1e6:>8,.1f} "
                     f"{_ratio(got[2], want['bytes']):>6}")
        for i, value in enumerate((got[0], want["requests"], got[1], want["rows"], got[2], want["bytes"])):
            totals[i] += value
    ideal = catalog_requests * args.latency + totals[1] * args.latency / args.concurrency
    lines.append(f"  {'all':64} {totals[0]:>9,} {totals[1]:>6,} {totals[2]:>14,} {totals[3]:>10,} "
                 f"{_ratio(totals[2], totals[3]):>6} {totals[4] / 1e6:>12,.1f} {totals[5] / 1e6:>8,.1f} "
                 f"{_ratio(totals[4], totals[5]):>6}")
    lines.append(f"  wall {wall:.2f} s (catalog {args.catalog_seconds:.2f} s included); ideal {ideal:.2f} s "
                 f"({catalog_requests} catalog requests in a row + {totals[1]:,} × {args.latency:g} s / "
                 f"{args.concurrency}) → {wall / ideal:.2f}× ideal; CPU: backfill {cpu:.1f} s, "
                 f"fake API {server_cpu:.1f} s; load {os.getloadavg()[0]:.2f}")
    return lines


def _matches(url: str, key: str) -> bool:
    before, after = key.split("{year}")
    path = url.split("/api/v1/", 1)[-1]
    return path.startswith(before) and path.endswith(after) and path[len(before):len(path) - len(after)].isdigit()


def _ratio(got: int, want: int) -> str:
    return f"{got / want:.2f}" if want else "—"


def main(args, start_server) -> None:
    import os

    from districtbench.config import Settings
    from districtbench.cli.catalog import sources_as_the_api_has_them
    from districtbench.db.states import STATES_AND_DC_FIPS

    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from national_dataset import national_dataset

    server, api_url = start_server(args.latency, national=True)
    args.server_pid = server.pid
    try:
        print(f"fake API {api_url}: national dataset, latency {args.latency * 1000:.0f} ms, page size {PAGE:,}; "
              f"concurrency {args.concurrency}; CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.2f}", flush=True)
        dataset = national_dataset()  # the same, in this process, for the minimums
        settings = Settings(database_url="sqlite://", api_url=api_url, cache_dir=Path(tempfile.mkdtemp()))
        subset = [code.strip() for code in args.fips_only_states.split(",")]
        from districtbench.cli.options import parse_states

        runs = (("filtered, fields=", list(STATES_AND_DC_FIPS), False), ("fips-only", parse_states(",".join(subset)), True))
        for label, states, plain in runs:
            clock = time.perf_counter()
            availability = sources_as_the_api_has_them(settings, sources(), use_cache=False, quiet=True)
            args.catalog_seconds = time.perf_counter() - clock
            if plain:
                availability = fips_only(availability)
            needed = minimum(dataset, sources_as_the_api_has_them(settings, sources(), use_cache=False, quiet=True), states)
            for line in run_once(label, api_url, availability, states, args, needed, catalog_requests=8):
                print(line, flush=True)
        print(f"targets (filtered run): rows ≤ {TARGETS['rows']}× needed, bytes ≤ {TARGETS['bytes']}× minimum, "
              f"wall ≤ {TARGETS['wall']}× ideal; load now {os.getloadavg()[0]:.2f}")
    finally:
        server.stdin.close()
        server.wait(timeout=60)
