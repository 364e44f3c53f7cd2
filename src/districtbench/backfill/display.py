"""The summary of a backfill on stderr: a table per source × year, the reasons rows were
skipped, the failed units. (Progress while it runs: `districtbench.console_progress`.)"""

from __future__ import annotations

from collections import Counter

from districtbench import console
from districtbench.backfill.report import COMPLETE, FAILED, BackfillReport


MAX_FAILURES_LISTED = 25


def print_summary(report: BackfillReport) -> None:
    """A table per source × year, then the reasons rows were skipped, then the failures."""
    counts = ("year", "complete", "failed", "skipped", "rows written", "rows skipped", "values nulled")
    table = console.table("Backfill summary", "source", *counts, right=counts)
    details: list[str] = []
    for summary in report.summaries():
        table.add_row(
            summary.source,
            str(summary.year),
            str(summary.units_complete),
            console.styled(summary.units_failed, "red") if summary.units_failed else "0",
            str(summary.units_skipped),
            f"{summary.rows_written:,}",
            f"{sum(summary.rows_skipped.values()):,}",
            f"{sum(summary.values_nulled.values()):,}",
        )
        if summary.rows_skipped:
            details.append(f"  {summary.source} {summary.year} rows skipped: {_reasons(summary.rows_skipped)}")
        if summary.values_nulled:
            details.append(f"  {summary.source} {summary.year} values nulled: {_reasons(summary.values_nulled)}")
    console.print_err(table)
    console.note("skipped = units already complete in an earlier run (--force fetches them again)")
    for line in details:
        console.info(line)
    console.info(
        f"{report.count(COMPLETE)} units complete, {report.count(FAILED)} failed, "
        f"{report.count('skipped')} already complete; {report.rows_written:,} rows written "
        f"in {report.elapsed:.1f} s with {report.requests} requests."
    )
    print_empty_units(report)
    failures = sorted(report.failures, key=lambda o: (o.source, o.year, o.state_fips))
    if failures:
        console.error_line(f"{len(failures)} unit(s) failed; nothing of them was written:")
        for outcome in failures[:MAX_FAILURES_LISTED]:
            console.info(f"  {outcome.label}: {outcome.reason}")
        if len(failures) > MAX_FAILURES_LISTED:
            console.info(
                f"  … and {len(failures) - MAX_FAILURES_LISTED} more "
                "(`districtbench status` counts them per source and year)"
            )
        console.info("Run the same command again to retry them; completed units are kept.")


def print_empty_units(report: BackfillReport) -> None:
    """Say which requested state-years got no row at all (a state the API has no data of in
    that year, or whose every record was dropped): complete, but nothing loaded."""
    empty = sorted(report.empty_units, key=lambda o: (o.source, o.year, o.state_fips))
    if not empty:
        return
    labels = [o.label + (" (every record dropped)" if o.rows_skipped else "") for o in empty]
    shown = ", ".join(labels[:MAX_FAILURES_LISTED])
    more = f" and {len(labels) - MAX_FAILURES_LISTED} more" if len(labels) > MAX_FAILURES_LISTED else ""
    console.warn(
        f"{len(empty)} unit(s) complete with 0 rows — nothing loaded for: {shown}{more}. "
        "The API has no records of these state-years; `districtbench status` lists them."
    )


def _reasons(counter: Counter) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in counter.most_common())


def print_one_line(report: BackfillReport) -> None:
    """`--quiet`: the whole backfill in one line (the failed units were listed as they failed)."""
    line = (
        f"{report.count(COMPLETE)} units complete, {report.count(FAILED)} failed, "
        f"{report.count('skipped')} already complete; {report.rows_written:,} rows written in {report.elapsed:.1f} s."
    )
    (console.error_line_unwrapped if report.failures else console.info_line)(("backfill finished with failures: " if report.failures else "done: ") + line)
