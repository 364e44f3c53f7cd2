"""Helpers for the metric-family tests: insert rows, run families, read results back.

Expected values come from `reference()` below: an independent plain-Python implementation
of metrics.md over the same rows (exact fractions, decimal.Decimal ROUND_HALF_UP), which does
not import districtbench.metrics.
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


def directory(leaid: str, year: int, enrollment=None, teachers=None, spec_ed=None, ell=None, staff=None) -> dict:
    return history(
        leaid, year, "ccd_directory", enrollment=enrollment, teachers_fte=_dec(teachers),
        spec_ed_students=spec_ed, ell_students=ell, staff_total_fte=_dec(staff),
    )


def _dec(value):
    return Decimal(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def insert(engine, districts: list[dict] = (), rows: list[dict] = ()) -> None:
    with engine.begin() as connection:
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

LATEST = {  # source: (year columns, {districts column: history column})
    "ccd_directory": (
        ("urban_institute_year", "staff_data_year"),
        {"enrollment": "enrollment", "teachers_fte": "teachers_fte", "staff_total_fte": "staff_total_fte",
         "spec_ed_students": "spec_ed_students", "ell_students": "ell_students"},
    ),
    "ccd_finance": (("finance_data_year",), {"total_expenditure": "total_expenditure",
                                             "expenditure_per_pupil": "expenditure_pp"}),
    "saipe": (("saipe_data_year",), {"children_poverty_percent": "poverty_pct"}),
    "edfacts_grad": (("graduation_data_year",), {"graduation_rate_total": "graduation_rate"}),
    "edfacts_assess": (("assessment_data_year",), {"math_proficiency_pct": "math_proficiency",
                                                   "read_proficiency_pct": "read_proficiency"}),
    "crdc_absenteeism": (("absenteeism_data_year",), {"chronic_absenteeism_rate": "chronic_absenteeism_rate"}),
}


def _col(name):
    return lambda r: r[name]


def _ratio(r):
    e, t = r["enrollment"], r["teachers_fte"]
    return None if e is None or t is None or t <= 0 else F(e) / F(t)


TRENDS = [  # column, source, kind, value of a history row
    ("enrollment_trend_3yr", "ccd_directory", "pct", _col("enrollment")),
    ("staffing_trend_3yr", "ccd_directory", "pct", _col("teachers_fte")),
    ("swd_trend_3yr", "ccd_directory", "pct", _col("spec_ed_students")),
    ("ell_trend_3yr", "ccd_directory", "pct", _col("ell_students")),
    ("student_teacher_ratio_trend_3yr", "ccd_directory", "points", _ratio),
    ("graduation_trend_3yr", "edfacts_grad", "points", _col("graduation_rate")),
    ("math_proficiency_trend_3yr", "edfacts_assess", "points", _col("math_proficiency")),
    ("read_proficiency_trend_3yr", "edfacts_assess", "points", _col("read_proficiency")),
    ("absenteeism_trend_3yr", "crdc_absenteeism", "points", _col("chronic_absenteeism_rate")),
    ("expenditure_pp_trend_3yr", "ccd_finance", "pct", _col("expenditure_pp")),
]
METRIC_ROWS = [  # key, district column, average column, how the average is made
    ("absenteeism", "chronic_absenteeism_rate", "avg_chronic_absenteeism_rate", "weighted"),
    ("graduation", "graduation_rate_total", "avg_graduation_rate", "weighted"),
    ("student_teacher_ratio", "student_teacher_ratio", "avg_student_teacher_ratio", ("enrollment", "teachers_fte", 1)),
    ("swd_pct", "swd_pct", "avg_swd_pct", ("spec_ed_students", "enrollment", 100)),
    ("ell_pct", "ell_pct", "avg_ell_pct", ("ell_students", "enrollment", 100)),
    ("math_proficiency", "math_proficiency_pct", "avg_math_proficiency", "weighted"),
    ("read_proficiency", "read_proficiency_pct", "avg_read_proficiency", "weighted"),
    ("expenditure_pp", "expenditure_per_pupil", "avg_expenditure_per_pupil", "weighted"),
]
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


def reference(districts: list[dict], rows: list[dict]):
    """(expected districts columns, expected states columns, NULLed counts per column)."""
    state_of = {d["leaid"]: d["state_fips"] for d in districts}
    by_key = {(r["leaid"], r["source"], r["year"]): r for r in rows}
    years: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in rows:
        years[(state_of[r["leaid"]], r["source"])].add(r["year"])
    latest = {k: max(v) for k, v in years.items()}
    base = {}
    for k, v in years.items():
        earlier = [y for y in v if y < latest[k]]
        if earlier:
            base[k] = min(earlier, key=lambda y: (abs(y - (latest[k] - 3)), y))
    nulled: Counter = Counter()
    out = {d["leaid"]: {} for d in districts}
    for leaid, e in out.items():
        st = state_of[leaid]
        for source, (year_columns, mapping) in LATEST.items():
            row = by_key.get((leaid, source, latest.get((st, source))))
            for column in year_columns:
                e[column] = row["year"] if row else None
            for column, hist in mapping.items():
                e[column] = row[hist] if row else None
        enr, t = e["enrollment"], e["teachers_fte"]
        for column, count in (("swd_pct", "spec_ed_students"), ("ell_pct", "ell_students")):
            ok = enr is not None and enr > 0 and e[count] is not None
            e[column] = fit(half_up(100 * F(e[count]) / enr) if ok else None, Decimal(100), nulled, column)
        ok = enr is not None and t is not None and t > 0
        e["student_teacher_ratio"] = fit(half_up(F(enr) / F(t)) if ok else None, MAX_8_2, nulled, "student_teacher_ratio")
        for column, source, kind, value_of in TRENDS:
            lr = by_key.get((leaid, source, latest.get((st, source))))
            br = by_key.get((leaid, source, base.get((st, source)))) if (st, source) in base else None
            lv, bv = (value_of(lr) if lr else None), (value_of(br) if br else None)
            result = None
            if lv is not None and bv is not None:
                if kind == "points":
                    result = half_up(F(lv) - F(bv))
                elif bv > 0:
                    result = half_up(100 * (F(lv) - F(bv)) / F(bv))
            e[column] = fit(result, MAX_8_2, nulled, column)
        a, b = e["enrollment_trend_3yr"], e["staffing_trend_3yr"]
        e["vacancy_pressure_signal"] = fit(a - b if a is not None and b is not None else None, MAX_8_2, nulled,
                                           "vacancy_pressure_signal")
    groups = defaultdict(list)
    for d in districts:
        groups[d["state_fips"]].append(out[d["leaid"]])
        if d["state_fips"] in FIFTY_AND_DC:
            groups["00"].append(out[d["leaid"]])
    states = {}
    for fips, members in groups.items():
        q = [m for m in members if m["enrollment"] is not None and m["enrollment"] > 0]
        s = {"total_districts": len(members), "total_enrollment": sum(m["enrollment"] for m in q) if q else None}
        s["avg_enrollment"] = half_up(F(s["total_enrollment"]) / len(q), 0) if q else None
        pov = [m["children_poverty_percent"] for m in q if m["children_poverty_percent"] is not None]
        s["avg_poverty_rate"] = half_up(sum(map(F, pov)) / len(pov)) if pov else None
        for _key, column, avg_column, how in METRIC_ROWS:
            if how == "weighted":
                w = [(F(m[column]), m["enrollment"]) for m in q if m[column] is not None]
                value = half_up(sum(v * n for v, n in w) / sum(n for _, n in w)) if w else None
            else:
                num, den, factor = how
                w = [(F(m[num]), F(m[den])) for m in q if m[num] is not None and m[den] is not None and m[den] > 0]
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
                      if d["state_fips"] == fips and out[d["leaid"]][column] is not None}
            flags = ntile_flags(values)
            for d in districts:
                if d["state_fips"] == fips:
                    out[d["leaid"]][f"{key}_quartile_state"] = flags.get(d["leaid"])
    return out, states, nulled
