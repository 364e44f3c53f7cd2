"""Independent expectations and shared runs for the CLI tests (run, status, show, export, demo).

Expected numbers are computed here in plain Python from the REAL files in shared/data/real
(the Urban API sample page, the Texas TAPR extract and its CCD crosswalk, the CCD 2023-24
file) or from the records the fake API serves — never read back from districtbench's own
computations. Rounding is Decimal ROUND_HALF_UP to the column's scale, as metrics.md says.

`shared_run(request, kind, name)` runs one named CLI job (table RUNS) once per database kind
per pytest process and hands its database URL to every test that only reads it; the
databases are dropped when pytest ends.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.fakeapi import FakeUrbanApi, load_dataset

# --- the real files --------------------------------------------------------------------------


def real_data_dir() -> Path:
    here = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
    return here if here.is_dir() else Path("/work/shared/data/real")


REAL = real_data_dir()
DIRECTORY_2018_PAGE = REAL / "urban-api-samples" / "school-districts_ccd_directory_2018_page-1.json"
TAPR_DISTRICTS = REAL / "texas-tapr" / "tx_tapr_districts_2012-2021.csv"
TAPR_STATE = REAL / "texas-tapr" / "tx_tapr_state_totals_2012-2021.csv"
TX_CROSSWALK = REAL / "texas-tapr" / "tx_ccd_2013_districts_crosswalk.csv"
CCD_2023 = REAL / "ccd" / "ccd_lea_enrollment_teachers_2023-24.csv"

CENT = Decimal("0.01")
FLAGS = {1: "well_below", 2: "below", 3: "above", 4: "well_above"}


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def q0(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def measure(value: Any) -> Decimal | None:
    """A measure as the API sends it: null and negative (missing codes -1/-2/-3) → None."""
    if value is None or (isinstance(value, str) and value.strip() in ("", ".")):
        return None
    number = Decimal(str(value).strip())
    return None if number < 0 else number


def dec(value: Any) -> Decimal | None:
    """A database / CSV / JSON value as a Decimal for comparison (None stays None)."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


# --- districts and their derived values (metrics.md, family latest + ratios) ----------------


def students_per_teacher(enrollment, teachers) -> Decimal | None:
    """metrics.md as revised: no ratio without students or teachers; fewer than 1 teacher FTE
    or more than 150 students per teacher is implausible (no ratio either)."""
    if enrollment is None or teachers is None or enrollment <= 0 or teachers <= 0:
        return None
    if teachers < 1 or Decimal(enrollment) > 150 * teachers:
        return None
    return q2(enrollment / teachers)


def derive(enrollment, spec_ed, ell, teachers) -> dict[str, Decimal | None]:
    """The ratios of one district from one directory row (its values of one year)."""
    positive = enrollment is not None and enrollment > 0

    def pct(count):
        if not positive or count is None:
            return None
        value = q2(100 * count / enrollment)
        return value if value <= 100 else None

    return {
        "enrollment": enrollment,
        "spec_ed_students": spec_ed,
        "ell_students": ell,
        "teachers_fte": None if teachers is None else q2(teachers),
        "swd_pct": pct(spec_ed),
        "ell_pct": pct(ell),
        "student_teacher_ratio": students_per_teacher(enrollment, teachers),
    }


@lru_cache(maxsize=None)
def sample_page() -> list[dict]:
    return json.loads(DIRECTORY_2018_PAGE.read_text(encoding="utf-8"))["results"]


def sample_districts(fips: int) -> dict[str, dict]:
    """leaid → the district's values from the real 2018 API page (one state)."""
    out = {}
    for row in sample_page():
        if row["fips"] != fips:
            continue
        values = derive(
            measure(row["enrollment"]),
            measure(row["spec_ed_students"]),
            measure(row["english_language_learners"]),
            measure(row["teachers_total_fte"]),
        )
        values.update(name=row["lea_name"], staff_total_fte=measure(row["staff_total_fte"]))
        out[row["leaid"]] = values
    return out


def state_averages(districts: Iterable[Mapping]) -> dict[str, Any]:
    """The pooled figures of metrics.md family `averages` over a set of districts (each
    district's values of one year, as `derive` gives them): a share or ratio pools the
    districts whose own share or ratio is stored."""
    districts = list(districts)
    enrolled = [d for d in districts if d["enrollment"] is not None and d["enrollment"] > 0]

    def pooled(column, share):
        with_value = [d for d in enrolled if d[column] is not None and d[share] is not None]
        total = sum(d["enrollment"] for d in with_value)
        return q2(100 * sum(d[column] for d in with_value) / total) if total else None

    staffed = [d for d in enrolled if d["student_teacher_ratio"] is not None]
    teachers = sum(d["teachers_fte"] for d in staffed)
    return {
        "total_districts": len(districts),
        "total_enrollment": sum(d["enrollment"] for d in enrolled) if enrolled else None,
        "avg_enrollment": q0(Decimal(sum(d["enrollment"] for d in enrolled)) / len(enrolled)) if enrolled else None,
        "avg_swd_pct": pooled("spec_ed_students", "swd_pct"),
        "avg_ell_pct": pooled("ell_students", "ell_pct"),
        "avg_student_teacher_ratio": q2(sum(d["enrollment"] for d in staffed) / teachers) if teachers else None,
    }


def quartile_flags(values: Mapping[str, Decimal | None]) -> dict[str, str | None]:
    """metrics.md: rank ascending (ties by leaid), NTILE(4), a tie group takes the group of its
    first member; fewer than 4 values → no flags."""
    ranked = sorted(((v, k) for k, v in values.items() if v is not None))
    flags: dict[str, str | None] = {k: None for k in values}
    n = len(ranked)
    if n < 4:
        return flags
    size, extra = divmod(n, 4)
    groups: list[int] = []
    for group in range(1, 5):
        groups.extend([group] * (size + (1 if group <= extra else 0)))
    first_group_of_value: dict[Decimal, int] = {}
    for (value, leaid), group in zip(ranked, groups):
        flags[leaid] = FLAGS[first_group_of_value.setdefault(value, group)]
    return flags


# --- Texas: TAPR through the CCD crosswalk ---------------------------------------------------


@lru_cache(maxsize=None)
def tapr_by_leaid() -> dict[str, dict[int, dict[str, Decimal | None]]]:
    """leaid → year → TAPR measures (only districts of the CCD 2013-14 crosswalk)."""
    with TX_CROSSWALK.open(encoding="latin-1", newline="") as handle:
        leaid_of = {row["STID"]: row["LEAID"].zfill(7) for row in csv.DictReader(handle)}
    out: dict[str, dict[int, dict]] = defaultdict(dict)
    with TAPR_DISTRICTS.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            leaid = leaid_of.get(row["tea_district"])
            if leaid is None:
                continue
            out[leaid][int(row["year"])] = {
                "enrollment": measure(row["DPETALLC"]),
                "spec_ed_students": measure(row["DPETSPEC"]),
                "ell_students": measure(row["DPETLEPC"]),
                "teachers_fte": measure(row["DPSTTOFC"]),
            }
    return dict(out)


def tea_state_ell_pct(year: int) -> Decimal:
    with TAPR_STATE.open(encoding="latin-1", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if int(r["year"]) == year)
    return 100 * Decimal(row["DPETLEPC"]) / Decimal(row["DPETALLC"])


def pct_change(latest: Decimal | None, base: Decimal | None) -> Decimal | None:
    if latest is None or base is None or base <= 0:
        return None
    return q2(100 * (latest - base) / base)


# --- CCD 2023-24 (nationwide file) ------------------------------------------------------------


@lru_cache(maxsize=None)
def ccd_2023() -> dict[str, dict]:
    """leaid → derived values from the NCES CCD 2023-24 file (enrollment and teachers only)."""
    out = {}
    with CCD_2023.open(encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            values = derive(measure(row["enrollment"]), None, None, measure(row["instructional_staff"]))
            values["enrollment"] = None if values["enrollment"] is None else q0(values["enrollment"])
            out[row["district_id"].zfill(7)] = values
    return out


# --- served records (for the synthetic parts and the Texas charters outside the crosswalk) --


def warm_dataset():
    """Decode the shipped dataset before a server gets concurrent requests (its lazy loader can
    answer a second thread with an empty listing while the first decodes — reported)."""
    dataset = load_dataset()
    for template in dataset.templates:
        dataset.years(template)
    return dataset


def served_directory(year: int, fips: int) -> dict[str, dict]:
    from districtbench.fakeapi.dataset import DIRECTORY

    out = {}
    for row in warm_dataset().records(DIRECTORY, year):
        if row["fips"] == fips:
            out[row["leaid"]] = derive(
                measure(row["enrollment"]),
                measure(row["spec_ed_students"]),
                measure(row["english_language_learners"]),
                measure(row["teachers_total_fte"]),
            )
    return out


# --- the CLI ----------------------------------------------------------------------------------


def cli(database_url: str, *args: str, api_url: str | None = None, env: Mapping[str, str] | None = None):
    """Invoke the real app (built-in plugins) with the global options of cli.md."""
    options = ["--database-url", database_url]
    if api_url:
        options += ["--api-url", api_url]
    environment = {"DISTRICTBENCH_BACKOFF_BASE": "0.01", **(env or {})}
    return CliRunner().invoke(build_app(), [*options, *args], env=environment)


def table_rows(engine: sa.engine.Engine, name: str, where: str = "") -> list[dict]:
    """The rows of a table as the database has them (districtbench's own tables are in its
    own schema on PostgreSQL)."""
    from districtbench.db import tables
    from districtbench.db.engine import own_schema

    metadata = sa.MetaData()
    schema = own_schema(engine) if name in tables.OWN_TABLES else None
    table = sa.Table(name, metadata, autoload_with=engine, schema=schema)
    key = [c for c in table.primary_key.columns] or list(table.columns)
    query = sa.select(table).order_by(*key)
    if where:
        query = query.where(sa.text(where))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


# --- shared runs: one per database kind and process, read-only for the tests -----------------

# name → (page size of the fake API, the `run` arguments)
RUNS: dict[str, tuple[int, tuple[str, ...]]] = {
    "arak": (20, ("run", "--years", "2018", "--states", "AR,AK")),
    "texas": (100, ("run", "--years", "2016-2021", "--states", "TX")),
}

_shared: dict[tuple[str, str], tuple[str, Any]] = {}
_factories: dict[str, Any] = {}


def _factory(config, kind: str, tmp_path_factory):
    from tests.db_fixtures import DatabaseFactory

    if kind not in _factories:
        factory = DatabaseFactory(kind, tmp_path_factory.mktemp(f"shared-{kind}"))
        _factories[kind] = factory
        config.add_cleanup(factory.cleanup)
    return _factories[kind]


def shared_run(request, kind: str, name: str):
    """(database URL, CLI result) of the run `name` on a fresh, empty database of `kind`,
    made once per process. Tests must not write to it."""
    key = (kind, name)
    if key not in _shared:
        factory = _factory(request.config, kind, request.getfixturevalue("tmp_path_factory"))
        url = factory.new_url()  # empty: `run` migrates it first
        page_size, args = RUNS[name]
        warm_dataset()
        with FakeUrbanApi(load_dataset(), page_size=page_size) as api:
            result = cli(url, *args, api_url=api.url)
        _shared[key] = (url, result)
    url, result = _shared[key]
    assert result.exit_code == 0, result.output
    return url, result


def engine_for(request, kind: str, url: str) -> sa.engine.Engine:
    return _factory(request.config, kind, request.getfixturevalue("tmp_path_factory")).engine(url)


# Environment variables that configure the database or the API (cli.md).
DB_ENV = ("DISTRICTBENCH_DATABASE_URL", "DIRECT_URL", "DATABASE_URL", "DISTRICTBENCH_API_URL")
