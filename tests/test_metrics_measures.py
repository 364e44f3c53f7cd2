"""Sources feed metrics by declaration (issue 16.1): a second source of the graduation rate.

Real data: the EDFacts ACGR school files of ../shared/data/real/edfacts-acgr aggregated to
districts (`test_metrics_acgr.load_districts`). The federal source (`edfacts_grad`) has Texas
for 2012-13 and 2013-14 only and California for all three years; a state portal source of a
plugin (`tx_portal`, declaring the measure `graduation_rate`) has Texas for 2013-14 and
2014-15, as whole percentages (the portal's own rounding, so its values are told apart).
Expected, by the precedence rule (the federal source first, the portal filling the years it
lacks): Texas's as-of year is 2014 with the portal's values and the portal as the recorded
source; its trend compares the portal's 2014 with the federal 2012; its 2013 is the federal
one; California is as without the portal. With the portal at priority 1, Texas's 2013 is
the portal's.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.metrics.measures import from_sources
from districtbench.metrics.runner import run_families
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import build_plugin_manager, collect_sources
from districtbench.reporting import export
from districtbench.reporting.series import district_series
from districtbench.reporting.status import figure_year_summary
from districtbench.sources.base import Source
from tests.metrics_helpers import district, history, insert, read_districts, registry
from tests.test_metrics_acgr import REAL, load_districts

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real is not available")

FEDERAL = {"48": (2012, 2013), "06": (2012, 2013, 2014)}
PORTAL_YEARS = (2013, 2014)


class Portal:
    """A plugin with a Texas portal source of graduation rates."""

    def __init__(self, priority: int = 0):
        self.source = Source(name="tx_portal", history_source="tx_portal", endpoints=(), years=PORTAL_YEARS,
                             columns=("graduation_rate",), provides=("graduation_rate",), priority=priority)

    @hookimpl
    def register_sources(self, register):
        register(self.source)


def whole(rate: Decimal) -> Decimal:
    return rate.quantize(Decimal(1), ROUND_HALF_UP)


def load(engine) -> dict[tuple[str, int, str], Decimal]:
    """Insert the rows; returns (leaid, year, source) -> rate."""
    by_year = {year: load_districts(year) for year in (2012, 2013, 2014)}
    rates: dict[tuple[str, int, str], Decimal] = {}
    for year, rows in by_year.items():
        for leaid, (fips, _, rate) in rows.items():
            if rate is None:
                continue
            if year in FEDERAL.get(fips, ()):
                rates[(leaid, year, "edfacts_grad")] = rate
            if fips == "48" and year in PORTAL_YEARS:
                rates[(leaid, year, "tx_portal")] = whole(rate)
    leaids = sorted({leaid for leaid, _, _ in rates})
    insert(engine, [district(leaid, leaid[:2]) for leaid in leaids],
           [history(leaid, year, source, graduation_rate=rate) for (leaid, year, source), rate in rates.items()])
    return rates


def compute(engine, portal: Portal):
    pm = build_plugin_manager(load_entry_points=False, extra_plugins=[portal])
    result = run_families(engine, registry(), ["trends"], sources=collect_sources(pm))
    assert result.ok, result.error
    return from_sources(collect_sources(pm))


def figure_rows(engine) -> dict[tuple[str, str], tuple]:
    t = tables.figure_years
    with engine.connect() as connection:
        rows = connection.execute(sa.select(t)).all()
    return {(r.state_fips, r.figure): (r.year, r.base_year, r.source, r.base_source) for r in rows}


def test_a_portal_fills_the_years_the_federal_data_lacks(db_engine):
    rates = load(db_engine)
    measures = compute(db_engine, Portal())
    districts = read_districts(db_engine)
    texas = [leaid for leaid in districts if leaid.startswith("48")]
    california = [leaid for leaid in districts if leaid.startswith("06")]
    assert len(texas) > 900 and len(california) > 400
    for leaid in texas:
        latest = rates.get((leaid, 2014, "tx_portal"))
        base = rates.get((leaid, 2012, "edfacts_grad"))
        row = districts[leaid]
        assert row["graduation_rate_total"] == latest, leaid
        assert row["graduation_data_year"] == (2014 if latest is not None else None)
        assert row["graduation_trend_3yr"] == (latest - base if latest is not None and base is not None else None)
    for leaid in california:
        latest, base = rates.get((leaid, 2014, "edfacts_grad")), rates.get((leaid, 2012, "edfacts_grad"))
        assert districts[leaid]["graduation_rate_total"] == latest
        assert districts[leaid]["graduation_trend_3yr"] == (latest - base if None not in (latest, base) else None)
    years = figure_rows(db_engine)
    assert years[("48", "graduation_rate_total")] == (2014, None, "tx_portal", None)
    assert years[("48", "graduation_trend_3yr")] == (2014, 2012, "tx_portal", "edfacts_grad")
    assert years[("06", "graduation_trend_3yr")] == (2014, 2012, "edfacts_grad", "edfacts_grad")

    # what status and export say: the real source of each state's values
    with db_engine.connect() as connection:
        summary = figure_year_summary(connection, ["graduation_rate_total"])
        exported = list(export.rows(connection, "districts", ["leaid", "graduation_rate_total"], ["48"], years=True))
        states = list(export.rows(connection, "states", ["fips", "avg_graduation_rate"], None, years=True))
    assert summary[0].sources == {"edfacts_grad": 1, "tx_portal": 1}
    assert {row["graduation_rate_total_source"] for row in exported} == {"tx_portal"}
    by_fips = {row["fips"]: row["avg_graduation_rate_source"] for row in states}
    assert by_fips["48"] == "tx_portal" and by_fips["06"] == "edfacts_grad" and by_fips["00"] == "edfacts_grad, tx_portal"

    # year by year (the history `show` draws): 2013 is the federal value, 2014 the portal's
    leaid = next(l for l in texas if all((l, y, s) in rates for y, s in
                                          ((2012, "edfacts_grad"), (2013, "edfacts_grad"), (2014, "tx_portal"))))
    with db_engine.connect() as connection:
        series = district_series(connection, leaid, measures)["graduation"]
    assert series == {2012: rates[(leaid, 2012, "edfacts_grad")], 2013: rates[(leaid, 2013, "edfacts_grad")],
                      2014: rates[(leaid, 2014, "tx_portal")]}


def test_a_portal_with_a_higher_priority_wins_the_years_both_have(db_engine):
    rates = load(db_engine)
    measures = compute(db_engine, Portal(priority=1))
    assert measures.sources_of(["graduation_rate"]) == ("tx_portal", "edfacts_grad")
    texas = [leaid for leaid in read_districts(db_engine) if leaid.startswith("48")]
    leaid = next(l for l in texas if (l, 2013, "tx_portal") in rates and (l, 2013, "edfacts_grad") in rates
                 and rates[(l, 2013, "tx_portal")] != rates[(l, 2013, "edfacts_grad")])
    with db_engine.connect() as connection:
        series = district_series(connection, leaid, measures)["graduation"]
    assert series[2013] == rates[(leaid, 2013, "tx_portal")]
    assert figure_rows(db_engine)[("48", "graduation_rate_total")] == (2014, None, "tx_portal", None)
