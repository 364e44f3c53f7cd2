"""Helpers for the metric-family tests: insert rows, run families, read results back.

Expected values come from `reference()` below: an independent plain-Python implementation
of metrics.md (with the rules issue 13 revised) over the same rows (exact fractions,
decimal.Decimal ROUND_HALF_UP), which does not import districtbench.metrics.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Iterable

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.db.states import BY_FIPS
from districtbench.metrics.runner import ComputeResult, run_families
from districtbench.plugins.host import build_plugin_manager, collect_metric_families

CREATED = datetime(2024, 1, 1, 0, 0, 0)
HISTORY_COLUMNS = [c.name for c in tables.district_data_history.c if c.name != "id"]
EXTRAS_COLUMNS = [c.name for c in tables.history_extras.c]


def registry(extra_plugins: Iterable[object] = ()):
    return collect_metric_families(build_plugin_manager(load_entry_points=False, extra_plugins=extra_plugins))


def district(leaid: str, state_fips: str | None = None, **values) -> dict:
    state_fips = state_fips or leaid[:2]
    row = {
        "leaid": leaid,
        "name": f"District {leaid}",
        "state_fips": state_fips,
        "state_abbrev": BY_FIPS[state_fips][0],
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    row.update(values)
    return row


def history(leaid: str, year: int, source: str, **values) -> dict:
    row = dict.fromkeys(HISTORY_COLUMNS)
    row.update(leaid=leaid, year=year, source=source, created_at=CREATED)
    for key, value in values.items():
        if key not in row:
            raise KeyError(key)
        row[key] = Decimal(value) if isinstance(value, str) else value
    return row


def extras(leaid: str, year: int, source: str, **values) -> dict:
    """A districtbench_history_extras row (the denominators beside a history row)."""
    row = dict.fromkeys(EXTRAS_COLUMNS)
    row.update(leaid=leaid, year=year, source=source)
    for key, value in values.items():
        if key not in row:
            raise KeyError(key)
        row[key] = Decimal(value) if isinstance(value, str) else value
    return row


def directory(leaid: str, year: int, enrollment=None, teachers=None, spec_ed=None, ell=None, staff=None) -> dict:
    return history(
        leaid, year, "ccd_directory", enrollment=enrollment, teachers_fte=_dec(teachers),
        spec_ed_students=spec_ed, ell_students=ell, staff_total_fte=_dec(staff),
    )


def _dec(value):
    return Decimal(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def insert(engine, districts: list[dict] = (), rows: list[dict] = (), extra_rows: list[dict] = ()) -> None:
    with engine.begin() as connection:
        if extra_rows:
            connection.execute(tables.history_extras.insert(), list(extra_rows))
        if districts:
            keys = sorted({key for row in districts for key in row})
            connection.execute(tables.districts.insert(), [{k: row.get(k) for k in keys} for row in districts])
        if rows:
            connection.execute(tables.district_data_history.insert(), list(rows))


def delete_history(engine, *conditions) -> None:
    with engine.begin() as connection:
        connection.execute(tables.district_data_history.delete().where(*conditions))


def run(engine, *names: str, extra_plugins: Iterable[object] = ()) -> ComputeResult:
    result = run_families(engine, registry(extra_plugins), list(names) or None)
    assert result.ok, result.error
    return result


def read_districts(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(tables.districts)).mappings().all()
    return {row["leaid"]: dict(row) for row in rows}


def read_states(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(tables.states)).mappings().all()
    return {row["fips"]: dict(row) for row in rows}


def read_logs(engine) -> list[dict]:
    with engine.connect() as connection:
        query = sa.select(tables.data_refresh_logs).order_by(tables.data_refresh_logs.c.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def same(actual, expected) -> bool:
    """Equal as numbers (Decimal('12.30') == 12.3), or both None/equal strings."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, str):
        return actual == expected
    return Decimal(str(actual)) == Decimal(str(expected))


def mismatches(actual_rows: dict, expected_rows: dict, columns: Iterable[str]) -> list[str]:
    problems = []
    for key, expected in expected_rows.items():
        actual = actual_rows[key]
        for column in columns:
            if column in expected and not same(actual[column], expected[column]):
                problems.append(f"{key}.{column}: got {actual[column]!r}, expected {expected[column]!r}")
    return problems


# ---------------------------------------------------------------- reference implementation
# The rules of metrics.md as revised by issue 13, written out once more in plain Python:
# each figure reads the rows of its own "series" (a source's rows with every listed column
# non-NULL); its as-of year in a state is the latest year with at least one such row there.

VALUES = {  # districts column: (source, history column)
    "enrollment": ("ccd_directory", "enrollment"), "teachers_fte": ("ccd_directory", "teachers_fte"),
    "staff_total_fte": ("ccd_directory", "staff_total_fte"),
    "spec_ed_students": ("ccd_directory", "spec_ed_students"), "ell_students": ("ccd_directory", "ell_students"),
    "total_expenditure": ("ccd_finance", "total_expenditure"), "expenditure_per_pupil": ("ccd_finance", "expenditure_pp"),
    "children_poverty_percent": ("saipe", "poverty_pct"), "graduation_rate_total": ("edfacts_grad", "graduation_rate"),
    "math_proficiency_pct": ("edfacts_assess", "math_proficiency"),
    "read_proficiency_pct": ("edfacts_assess", "read_proficiency"),
    "chronic_absenteeism_rate": ("crdc_absenteeism", "chronic_absenteeism_rate"),
}
YEAR_OF = {  # *_data_year column: the value column whose year it holds
    "urban_institute_year": "enrollment", "staff_data_year": "teachers_fte",
    "finance_data_year": "expenditure_per_pupil", "saipe_data_year": "children_poverty_percent",
    "graduation_data_year": "graduation_rate_total", "assessment_data_year": "math_proficiency_pct",
    "absenteeism_data_year": "chronic_absenteeism_rate",
}
SHARES = {"swd_pct": "spec_ed_students", "ell_pct": "ell_students"}  # 100 · count / enrollment, one row
TRENDS = [  # column, source, kind, history columns the value needs
    ("enrollment_trend_3yr", "ccd_directory", "pct", ("enrollment",)),
    ("staffing_trend_3yr", "ccd_directory", "pct", ("teachers_fte",)),
    ("swd_trend_3yr", "ccd_directory", "pct", ("spec_ed_students",)),
    ("ell_trend_3yr", "ccd_directory", "pct", ("ell_students",)),
    ("student_teacher_ratio_trend_3yr", "ccd_directory", "points", ("enrollment", "teachers_fte")),
    ("graduation_trend_3yr", "edfacts_grad", "points", ("graduation_rate",)),
    ("math_proficiency_trend_3yr", "edfacts_assess", "points", ("math_proficiency",)),
    ("read_proficiency_trend_3yr", "edfacts_assess", "points", ("read_proficiency",)),
    ("absenteeism_trend_3yr", "crdc_absenteeism", "points", ("chronic_absenteeism_rate",)),
    ("expenditure_pp_trend_3yr", "ccd_finance", "pct", ("expenditure_pp",)),
]
METRIC_ROWS = [  # key, district column, average column, how the average is made
    ("absenteeism", "chronic_absenteeism_rate", "avg_chronic_absenteeism_rate", "own"),
    ("graduation", "graduation_rate_total", "avg_graduation_rate", "own"),
    ("student_teacher_ratio", "student_teacher_ratio", "avg_student_teacher_ratio", ("enrollment", "teachers_fte", 1)),
    ("swd_pct", "swd_pct", "avg_swd_pct", ("spec_ed_students", "enrollment", 100)),
    ("ell_pct", "ell_pct", "avg_ell_pct", ("ell_students", "enrollment", 100)),
    ("math_proficiency", "math_proficiency_pct", "avg_math_proficiency", "own"),
    ("read_proficiency", "read_proficiency_pct", "avg_read_proficiency", "own"),
    ("expenditure_pp", "expenditure_per_pupil", "avg_expenditure_per_pupil", "own"),
]
# Issue 13.2: each rate pooled over its own denominator, from the extras row of the value's own
# history row: district column -> (numerator extras column or None for value × weight, weight
# extras column, factor). A group where a district has a value but no extras row at all is
# averaged the old way instead: Σ value · enrollment / Σ enrollment (enrollment > 0).
OWN_DENOMINATORS = {
    "chronic_absenteeism_rate": ("absent_students", "crdc_enrollment", 100),
    "graduation_rate_total": (None, "cohort", 1),
    "math_proficiency_pct": (None, "math_takers", 1),
    "read_proficiency_pct": (None, "read_takers", 1),
    "expenditure_per_pupil": ("current_spending", "pupils", 1),
    "children_poverty_percent": ("poor_children", "children", 100),
}
MAX_5_2, MAX_8_2, MAX_12_2, MAX_INT = Decimal("999.99"), Decimal("999999.99"), Decimal("9999999999.99"), 2**31 - 1
STATE_LIMITS = {
    "avg_chronic_absenteeism_rate": MAX_5_2, "avg_graduation_rate": MAX_5_2, "avg_student_teacher_ratio": MAX_8_2,
    "avg_swd_pct": Decimal(100), "avg_ell_pct": Decimal(100), "avg_math_proficiency": MAX_5_2,
    "avg_read_proficiency": MAX_5_2, "avg_expenditure_per_pupil": MAX_12_2, "avg_poverty_rate": MAX_5_2,
    "total_enrollment": MAX_INT, "avg_enrollment": MAX_INT,
}
FIFTY_AND_DC = {f"{n:02d}" for n in range(1, 57)} - {"03", "07", "14", "43", "52"}
FLAG = {1: "well_below", 2: "below", 3: "above", 4: "well_above"}


def F(value) -> Fraction:
    return Fraction(value)


def half_up(value: Fraction | None, places: int = 2) -> Decimal | None:
    """Round half away from zero (decimal ROUND_HALF_UP) from an exact fraction."""
    if value is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def fit(value: Decimal | None, limit, nulled: Counter, column: str):
    if value is not None and abs(value) > limit:
        nulled[column] += 1
        return None
    return value


def ntile_flags(values: dict[str, Decimal]) -> dict[str, str]:
    """Literal metrics.md: order by (value, leaid), NTILE(4), ties take their first's group."""
    order = sorted(values, key=lambda leaid: (values[leaid], leaid))
    n = len(order)
    if n < 4:
        return {}
    sizes = [n // 4 + (1 if i < n % 4 else 0) for i in range(4)]
    groups, position = {}, 0
    for group, size in enumerate(sizes, start=1):
        for leaid in order[position:position + size]:
            groups[leaid] = group
        position += size
    first_of_tie: dict[Decimal, int] = {}
    for leaid in order:
        first_of_tie.setdefault(values[leaid], groups[leaid])
    return {leaid: FLAG[first_of_tie[values[leaid]]] for leaid in order}


def pick_base(years: set[int], latest: int) -> int | None:
    """The base year: within latest − 4 … latest − 2, closest to latest − 3, earlier on a tie."""
    window = [y for y in years if latest - 4 <= y <= latest - 2]
    return min(window, key=lambda y: (abs(y - (latest - 3)), y)) if window else None


def students_per_teacher(row) -> tuple[str, Fraction | None]:
    """("none" | "implausible" | "ok", ratio) of one directory row: no students or no teachers
    → none; fewer than 1 teacher FTE or more than 150 students per teacher → implausible."""
    if row is None or row["enrollment"] is None or row["teachers_fte"] is None:
        return "none", None
    enrollment, teachers = F(row["enrollment"]), F(row["teachers_fte"])
    if enrollment <= 0 or teachers <= 0:
        return "none", None
    ratio = enrollment / teachers
    return ("implausible" if teachers < 1 or ratio > 150 else "ok"), ratio


class Years:
    """Per (state, source, columns): the years in which a district of the state has a row of
    the source with every one of the columns non-NULL."""

    def __init__(self, state_of: dict[str, str], rows: list[dict]):
        self.state_of, self.rows, self.cache = state_of, rows, {}

    def of(self, state: str, source: str, columns: tuple[str, ...]) -> set[int]:
        key = (state, source, columns)
        if key not in self.cache:
            self.cache[key] = {
                r["year"] for r in self.rows
                if r["source"] == source and self.state_of[r["leaid"]] == state and all(r[c] is not None for c in columns)
            }
        return self.cache[key]

    def latest(self, state, source, columns) -> int | None:
        years = self.of(state, source, columns)
        return max(years) if years else None


def own_average(members: list[dict], column: str) -> tuple[Fraction | None, bool]:
    """(the group's average of `column`, whether it fell back to enrollment weighting) over
    `members` (expected district values, each with `_extras`: column -> the extras row of the
    value's history row, or None)."""
    numerator, weight, factor = OWN_DENOMINATORS[column]
    with_value = [m for m in members if m[column] is not None]
    if any(m["_extras"][column] is None for m in with_value):
        w = [(F(m[column]), m["enrollment"]) for m in with_value if m["enrollment"] is not None and m["enrollment"] > 0]
        return (sum(v * n for v, n in w) / sum(n for _, n in w) if w else None), bool(w)
    top = bottom = Fraction(0)
    counted = False
    for m in with_value:
        x = m["_extras"][column]
        if x[weight] is None or x[weight] <= 0 or (numerator is not None and x[numerator] is None):
            continue
        counted = True
        top += F(m[column]) * F(x[weight]) if numerator is None else factor * F(x[numerator])
        bottom += F(x[weight])
    return (top / bottom if counted else None), False


def reference(districts: list[dict], rows: list[dict], extra_rows: list[dict] = ()):
    """(expected districts columns, expected states columns, NULLed counts per column,
    districts without a trend for want of a base year in the window, per trend column,
    groups (states, US) averaged by enrollment for want of denominators, per average column)."""
    state_of = {d["leaid"]: d["state_fips"] for d in districts}
    by_key = {(r["leaid"], r["source"], r["year"]): r for r in rows}
    extras_of = {(x["leaid"], x["source"], x["year"]): x for x in extra_rows}
    extras_by_leaid: dict[str, dict] = {d["leaid"]: {} for d in districts}
    years = Years(state_of, rows)
    nulled: Counter = Counter()
    no_base: Counter = Counter()
    out = {d["leaid"]: {} for d in districts}
    parts = {d["leaid"]: {} for d in districts}  # ratio -> (numerator, denominator) of its row
    for leaid, e in out.items():
        st = state_of[leaid]

        def row_of(source, columns, year):
            return by_key.get((leaid, source, year)) if year is not None else None

        for column, (source, hist) in VALUES.items():
            row = row_of(source, (hist,), years.latest(st, source, (hist,)))
            e[column] = row[hist] if row else None
            if column in OWN_DENOMINATORS:  # the denominators beside the value's own row
                extras_by_leaid[leaid][column] = extras_of.get((leaid, source, row["year"])) if row else None
        for column, value_column in YEAR_OF.items():
            source, hist = VALUES[value_column]
            row = row_of(source, (hist,), years.latest(st, source, (hist,)))
            e[column] = row["year"] if row else None
        for column, count in SHARES.items():
            columns = (count, "enrollment")
            row = row_of("ccd_directory", columns, years.latest(st, "ccd_directory", columns))
            share = None
            if row and row[count] is not None and row["enrollment"] is not None and row["enrollment"] > 0:
                share = fit(half_up(100 * F(row[count]) / row["enrollment"]), Decimal(100), nulled, column)
                if share is not None:
                    parts[leaid][column] = (F(row[count]), F(row["enrollment"]))
            e[column] = share
        columns = ("enrollment", "teachers_fte")
        row = row_of("ccd_directory", columns, years.latest(st, "ccd_directory", columns))
        kind, ratio = students_per_teacher(row)
        e["student_teacher_ratio"] = half_up(ratio) if kind == "ok" else None
        if kind == "implausible":
            nulled["student_teacher_ratio"] += 1
        if kind == "ok":
            parts[leaid]["student_teacher_ratio"] = (F(row["enrollment"]), F(row["teachers_fte"]))
        for column, source, kind, columns in TRENDS:
            all_years = years.of(st, source, columns)
            latest = max(all_years) if all_years else None
            base = pick_base(all_years, latest) if latest is not None else None
            lr, br = row_of(source, columns, latest), row_of(source, columns, base)
            if columns == ("enrollment", "teachers_fte"):
                (lk, lv), (bk, bv) = students_per_teacher(lr), students_per_teacher(br)
                has_latest = lk != "none"
                if "none" not in (lk, bk) and "implausible" in (lk, bk):
                    nulled[column] += 1
                    lv = bv = None
            else:
                lv = F(lr[columns[0]]) if lr and lr[columns[0]] is not None else None
                bv = F(br[columns[0]]) if br and br[columns[0]] is not None else None
                has_latest = lv is not None
            if base is None and has_latest and any(y < latest for y in all_years):
                no_base[column] += 1
            result = None
            if lv is not None and bv is not None:
                if kind == "points":
                    result = half_up(lv - bv)
                elif bv > 0:
                    result = half_up(100 * (lv - bv) / bv)
            e[column] = fit(result, MAX_8_2, nulled, column)
        a, b = e["enrollment_trend_3yr"], e["staffing_trend_3yr"]
        e["vacancy_pressure_signal"] = fit(a - b if a is not None and b is not None else None, MAX_8_2, nulled,
                                           "vacancy_pressure_signal")
    groups = defaultdict(list)
    for d in districts:
        groups[d["state_fips"]].append(d["leaid"])
        if d["state_fips"] in FIFTY_AND_DC:
            groups["00"].append(d["leaid"])
    states = {}
    fell_back: Counter = Counter()
    for fips, leaids in groups.items():
        members = [out[leaid] | {"_extras": extras_by_leaid[leaid]} for leaid in leaids]
        q = [m for m in members if m["enrollment"] is not None and m["enrollment"] > 0]
        s = {"total_districts": len(members), "total_enrollment": sum(m["enrollment"] for m in q) if q else None}
        s["avg_enrollment"] = half_up(F(s["total_enrollment"]) / len(q), 0) if q else None
        value, fallback = own_average(members, "children_poverty_percent")
        s["avg_poverty_rate"] = half_up(value)
        fell_back["avg_poverty_rate"] += fallback
        for _key, column, avg_column, how in METRIC_ROWS:
            if how == "own":
                value, fallback = own_average(members, column)
                value = half_up(value)
                fell_back[avg_column] += fallback
            else:  # pooled over the districts whose ratio is stored, from the ratio's own row
                factor = how[2]
                w = [parts[leaid][column] for leaid in leaids if column in parts[leaid]]
                value = half_up(factor * sum(a for a, _ in w) / sum(b for _, b in w)) if w else None
            s[avg_column] = value
        for column, limit in STATE_LIMITS.items():
            s[column] = fit(s[column], limit, nulled, column)
        states[fips] = s
    empty = {c: None for c in STATE_LIMITS} | {"total_districts": 0}
    empty |= {avg_column: None for _, _, avg_column, _ in METRIC_ROWS}
    for fips in BY_FIPS:
        states.setdefault(fips, dict(empty))
    for d in districts:
        leaid, e = d["leaid"], out[d["leaid"]]
        for key, column, avg_column, _ in METRIC_ROWS:
            for suffix, fips in (("state", d["state_fips"]), ("national", "00")):
                avg = states[fips][avg_column]
                v = e[column]
                e[f"{key}_vs_{suffix}"] = fit(v - avg if v is not None and avg is not None else None, MAX_8_2,
                                              nulled, f"{key}_vs_{suffix}")
    for key, column, _, _ in METRIC_ROWS:
        for fips in {d["state_fips"] for d in districts}:
            values = {d["leaid"]: out[d["leaid"]][column] for d in districts
                      if d["state_fips"] == fips and out[d["leaid"]][column] is not None
                      and out[d["leaid"]]["enrollment"] != 0}  # a district without students is not ranked
            flags = ntile_flags(values)
            for d in districts:
                if d["state_fips"] == fips:
                    out[d["leaid"]][f"{key}_quartile_state"] = flags.get(d["leaid"])
    return out, states, nulled, no_base, fell_back
