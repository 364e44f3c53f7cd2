"""Independent plain-Python calculation of what a backfill must write, straight from the
fake server's dataset records and the rules of urban-api.md / cli.md (not from the sources'
code): missing codes and negatives → None, percentages outside 0–100 drop the row,
NUMERIC values rounded half-up to 2 places, subgroup-total rows only, CRDC summed per leaid.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from districtbench.fakeapi import dataset as ds

CENT = Decimal("0.01")


def num(value):
    """A measure: None for null, -1/-2/-3 and any negative."""
    if value is None or isinstance(value, bool):
        return None
    number = Decimal(str(value))
    return None if number < 0 else number


def money(value):
    return None if value is None else value.quantize(CENT, ROUND_HALF_UP)


def integer(value):
    number = num(value)
    return None if number is None else int(number)


def pct(value):
    """(keep row?, value): outside 0–100 drops the row."""
    if value is None:
        return True, None
    if not 0 <= value <= 100:
        return False, None
    return True, money(value)


def leaid_of(record, state_fips):
    raw = record.get("leaid")
    if raw is None:
        return None
    text = str(raw).strip().zfill(7)
    if not text.isdigit() or len(text) != 7 or text[:2] != state_fips:
        return None
    if record.get("fips") is not None and int(record["fips"]) != int(state_fips):
        return None
    return text


def records(template, year, state_fips):
    rows = ds.load_dataset().records(template, year, fips=int(state_fips))
    return [r for r in rows if r.get("fips") == int(state_fips)]


def totals_only(rows, subgroups):
    return [r for r in rows if all(r.get(name, 99) == 99 for name in subgroups)]


def directory(year, state_fips):
    """leaid -> (history values, roster values) for enrollment + ell."""
    out = {}
    for r in records(ds.DIRECTORY, year, state_fips):
        leaid = leaid_of(r, state_fips)
        if leaid:
            history = {
                "enrollment": integer(r.get("enrollment")),
                "teachers_fte": money(num(r.get("teachers_total_fte"))),
                "staff_total_fte": money(num(r.get("staff_total_fte"))),
                "spec_ed_students": integer(r.get("spec_ed_students")),
                "ell_students": integer(r.get("english_language_learners")),
            }
            roster = {"name": r["lea_name"], "city_location": r.get("city_location"), "number_of_schools": r.get("number_of_schools")}
            out[leaid] = (history, roster)
    return out


def finance(year, state_fips):
    out = {}
    for r in records(ds.FINANCE, year, state_fips):
        leaid = leaid_of(r, state_fips)
        if not leaid:
            continue
        current, pupils = num(r.get("exp_current_elsec_total")), num(r.get("enrollment_fall_responsible"))
        out[leaid] = {
            "total_revenue": money(num(r.get("rev_total"))),
            "federal_revenue": money(num(r.get("rev_fed_total"))),
            "state_revenue": money(num(r.get("rev_state_total"))),
            "local_revenue": money(num(r.get("rev_local_total"))),
            "total_expenditure": money(num(r.get("exp_total"))),
            "sped_expenditure": money(num(r.get("exp_sped_current"))),
            "expenditure_pp": money(current / pupils) if current and pupils else None,
        }
    return out


def poverty(year, state_fips):
    rows = records(ds.SAIPE, year, state_fips)
    shares = [num(r.get("est_population_5_17_poverty_pct")) for r in rows]
    shares = [s for s in shares if s is not None]
    share_scale = bool(shares) and all(s <= 1 for s in shares)
    out = {}
    for r in rows:
        leaid = leaid_of(r, state_fips)
        if not leaid:
            continue
        children, poor = num(r.get("est_population_5_17")), num(r.get("est_population_5_17_poverty"))
        if children is not None and poor is not None:
            value = 100 * poor / children if children else None
        else:
            value = num(r.get("est_population_5_17_poverty_pct"))
            value = value * 100 if value is not None and share_scale else value
        keep, value = pct(value)
        if keep:
            out[leaid] = {"poverty_pct": value}
    return out


def _one_rate_per_district(rows, state_fips, fields):
    out = {}
    for r in rows:
        leaid = leaid_of(r, state_fips)
        if not leaid:
            continue
        values, keep = {}, True
        for column, field in fields.items():
            ok, values[column] = pct(num(r.get(field)))
            keep = keep and ok
        if keep:
            out[leaid] = values
    return out


def graduation(year, state_fips):
    subgroups = ("race", "lep", "homeless", "disability", "econ_disadvantaged", "foster_care")
    rows = totals_only(records(ds.GRAD_RATES, year, state_fips), subgroups)
    return _one_rate_per_district(rows, state_fips, {"graduation_rate": "grad_rate_midpt"})


def assessments(year, state_fips):
    subgroups = ("race", "sex", "lep", "homeless", "migrant", "disability", "econ_disadvantaged", "foster_care", "military_connected")
    rows = totals_only(records(ds.ASSESSMENTS, year, state_fips), subgroups)
    fields = {"math_proficiency": "math_test_pct_prof_midpt", "read_proficiency": "read_test_pct_prof_midpt"}
    return _one_rate_per_district(rows, state_fips, fields)


def absenteeism(year, state_fips):
    subgroups = ("race", "sex", "disability", "lep", "homeless")
    enrolled = {
        r.get("ncessch"): num(r.get("enrollment_crdc"))
        for r in totals_only(records(ds.CRDC_ENROLLMENT, year, state_fips), subgroups)
        if r.get("ncessch")
    }
    sums = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in totals_only(records(ds.CRDC_ABSENTEEISM, year, state_fips), subgroups):
        leaid = leaid_of(r, state_fips)
        if not leaid or not r.get("ncessch"):
            continue
        totals = sums[leaid]
        absent = num(r.get("students_chronically_absent", r.get("chronic_absent")))
        pupils = enrolled.get(r["ncessch"])
        if absent is not None and pupils is not None:
            totals[0] += absent
            totals[1] += pupils
    out = {}
    for leaid, (absent, pupils) in sums.items():
        keep, value = pct(100 * absent / pupils if pupils else None)
        if keep:
            out[leaid] = {"chronic_absenteeism_rate": value}
    return out


CALCULATIONS = {
    "ccd_directory": lambda year, fips: {k: v[0] for k, v in directory(year, fips).items()},
    "ccd_finance": finance,
    "saipe": poverty,
    "edfacts_grad": graduation,
    "edfacts_assess": assessments,
    "crdc_absenteeism": absenteeism,
}
