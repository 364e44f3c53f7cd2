"""Metric writes are explicit (issue 16.5): `ctx.write_districts` / `ctx.write_states`, no stale
read of `districts` by accident, exact rounding by default.

Real data: the Texas TEA TAPR district rows of 2020-21 and 2021-22 (enrollment, special
education) as directory history (`test_metrics_texas.load_rows`); the expected values are
computed here in plain Python.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from districtbench.metrics.apply import Output
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.runner import run_families
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import build_plugin_manager, collect_metric_families
from tests.metrics_helpers import directory, district, insert, read_districts
from tests.test_metrics_texas import REAL, load_rows

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not available")

SEEN: dict[str, dict[str, int | None]] = {}  # what the reading family saw, by database


def _read_raw(ctx) -> FamilyOutcome:
    """A careless family: reads `districts.enrollment` from the table itself, while the
    values `latest` computed still wait to be written."""
    d = ctx.tables.districts
    SEEN["postgresql" if ctx.arith.postgresql else "sqlite"] = dict(ctx.connection.execute(sa.select(d.c.leaid, d.c.enrollment)).all())
    return FamilyOutcome()


READER = MetricFamily("raw_reader", ("latest",), (), compute=_read_raw)


@hookimpl
def register_metric_families(register) -> None:  # this module, as a plugin between latest and ratios
    register(READER)


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_reading_districts_directly_sees_this_runs_values_and_later_writes_still_land(db_engine, db_kind):
    by_year = load_rows()
    rows = [row for year in (2020, 2021) for row in by_year[year]]
    leaids = sorted({row["leaid"] for row in rows})
    insert(db_engine, [district(leaid, "48") for leaid in leaids],
           [directory(r["leaid"], year, enrollment=r["enrollment"], spec_ed=r["spec_ed"])
            for year in (2020, 2021) for r in by_year[year]])
    modules = ("districtbench.metrics.latest", __name__, "districtbench.metrics.ratios")
    registry = collect_metric_families(build_plugin_manager(default_plugins=modules, load_entry_points=False))
    result = run_families(db_engine, registry, None)
    assert result.ok, result.error
    assert [family.name for family in result.families] == ["latest", "raw_reader", "ratios"]

    latest = {r["leaid"]: r for r in by_year[2021]}
    assert SEEN[db_kind] == {leaid: latest[leaid]["enrollment"] if leaid in latest else None for leaid in leaids}
    stored = read_districts(db_engine)
    expected_swd = {
        leaid: _q(Decimal(100 * r["spec_ed"]) / r["enrollment"]) if r["enrollment"] else None for leaid, r in latest.items()
    }
    assert {leaid: stored[leaid]["swd_pct"] for leaid in latest} == expected_swd
    assert result["ratios"].outcome.districts_updated == sum(1 for value in expected_swd.values() if value is not None)
    assert result["latest"].outcome.districts_updated == len(latest)


PAIRS = [  # (a, b, n, m): a − b as NUMERIC(10,2), and n / m
    (Decimal("81.30"), Decimal("79.10"), 57, 200),  # 2.20 (a double 2.1999…); 0.285 → 0.29
    (Decimal("0.30"), Decimal("0.10"), -57, 200),  # 0.20 (0.19999…); −0.285 → −0.29
    (Decimal("100.00"), Decimal("0.01"), 1, 8),  # 99.99; 0.125 → 0.13
    (Decimal("1.15"), Decimal("0.00"), 5, 0),  # 1.15; no denominator → NULL
]


class ExactWrites:
    """A plugin family writing a difference as plain SQL and a quotient with `ctx.rounded`."""

    @staticmethod
    def compute(ctx) -> FamilyOutcome:
        stage = ctx.stage(
            "exact_writes", sa.Column("leaid", sa.String(7), primary_key=True),
            sa.Column("a", sa.Numeric(10, 2)), sa.Column("b", sa.Numeric(10, 2)),
            sa.Column("n", sa.Integer), sa.Column("m", sa.Integer),
        )
        ctx.connection.execute(stage.insert(), [
            {"leaid": f"480000{i}", "a": a, "b": b, "n": n, "m": m} for i, (a, b, n, m) in enumerate(PAIRS)
        ])
        outputs = [Output("vacancy_pressure_signal", stage.c.a - stage.c.b),
                   Output("staffing_trend_3yr", ctx.rounded(stage.c.n, stage.c.m))]
        changed, nulled = ctx.write_districts(stage, outputs)
        return FamilyOutcome(districts_updated=changed, nulled=nulled)

    @hookimpl
    def register_metric_families(self, register) -> None:
        register(MetricFamily("exact_writes", (), ("districts.vacancy_pressure_signal", "districts.staffing_trend_3yr"),
                              compute=self.compute))


def test_plugin_values_are_rounded_exactly_on_both_databases(db_engine, db_kind):
    insert(db_engine, [district(f"480000{i}", "48") for i in range(len(PAIRS))])
    pm = build_plugin_manager(default_plugins=(), load_entry_points=False, extra_plugins=[ExactWrites()])
    result = run_families(db_engine, collect_metric_families(pm), None)
    assert result.ok, result.error
    with db_engine.connect() as connection:
        raw = connection.execute(sa.text(  # as stored (SQLite: the double, as SQLite writes it)
            "SELECT leaid, CAST(vacancy_pressure_signal AS TEXT), CAST(staffing_trend_3yr AS TEXT) FROM districts"
        )).all()
    stored = {leaid: (a, b) for leaid, a, b in raw}
    for i, (a, b, n, m) in enumerate(PAIRS):
        quotient = _q(Decimal(n) / m) if m > 0 else None
        got = stored[f"480000{i}"]
        assert Decimal(got[0]) == a - b, (i, got)
        assert (Decimal(got[1]) if got[1] is not None else None) == quotient, (i, got)
        if db_kind == "sqlite":  # the double nearest the decimal, not 2.1999999999999886
            assert got[0] == str(float(a - b)), got
