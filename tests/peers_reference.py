"""A fixture of real districts for the peer tests, and a plain-Python reference of the peer
method (metrics.md "Peer groups", issue 15) that does not import districtbench.metrics.

Districts: the real 2018 CCD directory page of the Urban Institute API (Alabama, Alaska,
Arkansas and part of Arizona: enrollment, special education, English learners, teacher FTE,
urban-centric locale), poverty from the real SAIPE file, spending per pupil from the fake
API's 2018 finance rows (current spending / enrollment responsible, as test input). Edge
cases added on top: twins (copies of a real district under new leaids: equal distances,
broken by leaid), a district without a SAIPE row and one without a locale (not eligible),
a national locale group smaller than 21 (suburbs: only a few kept), and under the state
scope groups of 1 and 2 districts.
"""

from __future__ import annotations

import csv
import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from districtbench.db.states import BY_FIPS
from tests import expected as ex
from tests.metrics_helpers import CREATED, directory, history

YEAR = 2018
LOCALES = {11, 12, 13, 21, 22, 23, 31, 32, 33, 41, 42, 43}
PEERS = 20
TWINS = {"0100005": ("0199991", "0199992"), "0500390": ("0599991",)}  # real leaid -> copies
NO_SAIPE = "0100007"
NO_LOCALE = "0100008"
METRIC_KEYS = ("absenteeism", "graduation", "student_teacher_ratio", "swd_pct", "ell_pct", "math_proficiency",
               "read_proficiency", "expenditure_pp")


def half_up(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _saipe() -> dict[str, Decimal]:
    with (ex.REAL / "saipe" / "urban_household_conditions_saipe_geodistrict.csv").open(encoding="latin-1") as f:
        return {row["leaid"].zfill(7): ex.q2(Decimal(row["pct_pov"])) for row in csv.DictReader(f) if row["pct_pov"]}


def _spending() -> dict[str, Decimal]:
    dataset = ex.warm_dataset()
    template = next(t for t in dataset.templates if "finance" in t)
    out = {}
    for row in dataset.records(template, YEAR):
        spent, pupils = row.get("exp_current_elsec_total"), row.get("enrollment_fall_responsible")
        if spent is not None and pupils and spent >= 0 and pupils > 0:
            out[row["leaid"]] = ex.q2(Decimal(spent) / Decimal(pupils))
    return out


def fixture() -> tuple[list[dict], list[dict], dict[str, dict]]:
    """(districts rows, history rows, leaid -> the inputs the reference reads)."""
    poverty, spending = _saipe(), _spending()
    page = ex.sample_page()
    chosen, suburbs, arizona = [], 0, 0
    for row in page:
        locale = row["urban_centric_locale"]
        if row["fips"] == 4:
            if arizona >= 110 or locale in (21, 22, 23):
                continue  # no Arizona suburbs: the national suburban group stays below 21
            arizona += 1
        elif row["fips"] == 1 and locale in (21, 22, 23):
            suburbs += 1
            if suburbs > 12:
                continue
        chosen.append(row)
    districts, rows, inputs = [], [], {}

    def add(leaid: str, row: dict) -> None:
        fips = row["fips"]
        state = f"{fips:02d}"
        locale = None if leaid == NO_LOCALE else row["urban_centric_locale"]
        districts.append({
            "leaid": leaid, "name": f"{row['lea_name']}" + ("" if leaid == row["leaid"] else f" (twin {leaid})"),
            "state_fips": state, "state_abbrev": BY_FIPS[state][0], "urban_centric_locale": locale,
            "created_at": CREATED, "updated_at": CREATED,
        })
        enrollment, spec_ed = ex.measure(row["enrollment"]), ex.measure(row["spec_ed_students"])
        ell, teachers = ex.measure(row["english_language_learners"]), ex.measure(row["teachers_total_fte"])
        rows.append(directory(leaid, YEAR, enrollment=None if enrollment is None else int(enrollment),
                              teachers=None if teachers is None else ex.q2(teachers),
                              spec_ed=None if spec_ed is None else int(spec_ed), ell=None if ell is None else int(ell)))
        source_leaid = row["leaid"]
        pov = None if leaid == NO_SAIPE else poverty.get(source_leaid)
        if pov is not None:
            rows.append(history(leaid, YEAR, "saipe", poverty_pct=pov))
        pp = spending.get(source_leaid)
        if pp is not None:
            rows.append(history(leaid, YEAR, "ccd_finance", expenditure_pp=pp))
        values = ex.derive(enrollment, spec_ed, ell, teachers)
        inputs[leaid] = {
            "state": state, "locale": locale, "enrollment": values["enrollment"], "poverty": pov,
            "spec_ed": spec_ed, "ell_students": ell, "teachers": values["teachers_fte"],
            "swd_pct": values["swd_pct"], "ell_pct": values["ell_pct"],
            "student_teacher_ratio": values["student_teacher_ratio"], "expenditure_pp": pp,
        }

    for row in chosen:
        add(row["leaid"], row)
        for twin in TWINS.get(row["leaid"], ()):
            add(twin, row)
    return districts, rows, inputs


# --- the method, in plain Python ------------------------------------------------------------


def eligible(inputs: dict[str, dict]) -> list[str]:
    return sorted(
        leaid for leaid, v in inputs.items()
        if v["enrollment"] is not None and v["enrollment"] >= 1 and v["locale"] in LOCALES
        and v["poverty"] is not None and v["ell_pct"] is not None and v["swd_pct"] is not None
    )


def z_scores(inputs: dict[str, dict], leaids: list[str]) -> dict[str, list[float]]:
    columns = [
        [math.log(int(inputs[l]["enrollment"])) for l in leaids],
        [float(inputs[l]["poverty"]) for l in leaids],
        [float(inputs[l]["ell_pct"]) for l in leaids],
        [float(inputs[l]["swd_pct"]) for l in leaids],
    ]
    z = {leaid: [] for leaid in leaids}
    for values in columns:
        n = len(values)
        mean = math.fsum(values) / n
        sd = math.sqrt(math.fsum((x - mean) * (x - mean) for x in values) / n)
        for leaid, x in zip(leaids, values):
            z[leaid].append((x - mean) / sd if sd > 0 else 0.0)
    return z


def distance(a: list[float], b: list[float]) -> float:
    total = (a[0] - b[0]) * (a[0] - b[0])
    for k in range(1, 4):
        total = total + (a[k] - b[k]) * (a[k] - b[k])
    return math.sqrt(total)


def peer_lists(inputs: dict[str, dict], scope: str) -> dict[str, list[tuple[str, float]]]:
    leaids = eligible(inputs)
    z = z_scores(inputs, leaids)

    def key(leaid):
        group = inputs[leaid]["locale"] // 10
        return (group, inputs[leaid]["state"]) if scope == "state" else (group,)

    out = {}
    for owner in leaids:
        candidates = sorted((distance(z[owner], z[other]), other) for other in leaids
                            if other != owner and key(other) == key(owner))
        out[owner] = [(other, d) for d, other in candidates[:PEERS]]
    return out


def peer_average(inputs: dict[str, dict], peers: list[str], key: str) -> Decimal | None:
    """Pooled like the state average (metrics.md, family `averages`) over the peers."""
    members = [inputs[p] for p in peers if inputs[p]["enrollment"] is not None and inputs[p]["enrollment"] > 0]
    if key in ("swd_pct", "ell_pct"):
        count = "spec_ed" if key == "swd_pct" else "ell_students"
        with_value = [m for m in members if m[key] is not None]
        den = sum(Fraction(m["enrollment"]) for m in with_value)
        return half_up(100 * sum(Fraction(m[count]) for m in with_value) / den) if den else None
    if key == "student_teacher_ratio":
        with_value = [m for m in members if m[key] is not None]
        den = sum(Fraction(m["teachers"]) for m in with_value)
        return half_up(sum(Fraction(m["enrollment"]) for m in with_value) / den) if den else None
    if key == "expenditure_pp":
        with_value = [m for m in members if m[key] is not None]
        den = sum(Fraction(m["enrollment"]) for m in with_value)
        return half_up(sum(Fraction(m[key]) * Fraction(m["enrollment"]) for m in with_value) / den) if den else None
    return None  # no data for the other metrics in this fixture


def benchmarks(inputs: dict[str, dict], peers: dict[str, list[tuple[str, float]]]) -> dict[tuple[str, str], tuple]:
    out = {}
    for owner, found in peers.items():
        names = [p for p, _ in found]
        for key in METRIC_KEYS:
            value = inputs[owner].get(key)
            average = peer_average(inputs, names, key)
            vs = value - average if value is not None and average is not None else None
            flag = ex.quartile_flags({l: inputs[l].get(key) for l in [owner, *names]})[owner]
            out[(owner, key)] = (average, vs, flag)
    return out
