"""Small fake sources and an in-memory client for the backfill runner's own tests.

The end-to-end tests (test_backfill_e2e.py) use the real sources, the real client and the
fake HTTP server; these fakes pin down the host's behaviour without depending on them.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from districtbench.db.states import BY_FIPS
from districtbench.errors import FetchError
from districtbench.sources.base import Source, UnitRows
from districtbench.sources.request import Endpoint

DIR = "fake/directory/{year}/"
FIN = "fake/finance/{year}/"
FIELDS = {"enrollment": "enrollment", "ell_students": "english_language_learners"}


@dataclass(frozen=True)
class FakeDirectory(Source):
    def parse_unit(self, listings, year, state_fips):
        rows = UnitRows()
        for record in listings[DIR]:
            if record.get("bad"):
                rows.skipped["invalid leaid"] += 1
                continue
            if record.get("explode"):
                raise ValueError("boom")
            leaid = str(record["leaid"]).zfill(7)
            rows.history.append({"leaid": leaid, **{c: record.get(FIELDS[c]) for c in self.columns}})
            rows.roster.append(
                {
                    "leaid": leaid,
                    "name": record["lea_name"],
                    "state_fips": record.get("state_fips", state_fips),
                    "state_abbrev": BY_FIPS[state_fips][0],
                    "city_location": record.get("city_location"),
                    "county_name": None,
                    "urban_centric_locale": None,
                    "number_of_schools": record.get("number_of_schools"),
                }
            )
        return rows


@dataclass(frozen=True)
class FakeFinance(Source):
    def parse_unit(self, listings, year, state_fips):
        rows = UnitRows()
        for record in listings[FIN]:
            rows.history.append({"leaid": record["leaid"], "total_revenue": record["rev_total"]})
        return rows


def fake_sources(years=(2018, 2019, 2020)):
    enrollment = FakeDirectory(
        name="enrollment",
        history_source="ccd_directory",
        endpoints=(Endpoint(DIR, required=("leaid", "enrollment")),),
        years=tuple(years),
        columns=("enrollment",),
        provides_roster=True,
    )
    ell = FakeDirectory(
        name="ell",
        history_source="ccd_directory",
        endpoints=(Endpoint(DIR, required=("leaid", "english_language_learners|ell_students")),),
        years=tuple(years),
        columns=("ell_students",),
        provides_roster=True,
    )
    finance = FakeFinance(
        name="finance",
        history_source="ccd_finance",
        endpoints=(Endpoint(FIN, required=("leaid", "rev_total")),),
        years=tuple(years[:-1]),
        columns=("total_revenue",),
    )
    return {"enrollment": enrollment, "ell": ell, "finance": finance}


class MemoryClient:
    """Serves `data[(path, fips)] -> records`; `failures[(path, fips)] -> reason` raises FetchError."""

    def __init__(self, data, failures=None):
        self.data = data
        self.failures = dict(failures or {})
        self.calls: Counter = Counter()
        self.request_count = 0
        self._lock = threading.Lock()

    def fetch_pages(self, path, params=None, paginator=None):
        fips = (params or {}).get("fips")
        with self._lock:
            self.calls[(path, fips)] += 1
            self.request_count += 1
        if (path, fips) in self.failures:
            raise FetchError(f"http://fake/{path}?fips={fips}", self.failures[(path, fips)])
        return [[dict(record) for record in self.data.get((path, fips), [])]]


def directory_record(leaid, name, enrollment, ell=None, **extra):
    return {"leaid": leaid, "lea_name": name, "enrollment": enrollment, "english_language_learners": ell, **extra}
