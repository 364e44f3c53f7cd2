"""`finance`: CCD school-district finance (F-33), one row per district.

Per-pupil spending follows the NCES convention: current elementary-secondary expenditure
divided by fall membership (`exp_current_elsec_total / enrollment_fall_responsible`, both > 0).
`exp_total` (with capital outlay and debt service) is stored as `total_expenditure` only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from districtbench.plugins.hookspecs import hookimpl
from districtbench.sources.district import DistrictSource
from districtbench.sources.request import Endpoint
from districtbench.sources.values import Row, ratio, to_number

FINANCE = "school-districts/ccd/finance/{year}/"
YEARS = (1991, *range(1994, 2021))

AMOUNTS = (
    ("total_revenue", "rev_total"),
    ("federal_revenue", "rev_fed_total"),
    ("state_revenue", "rev_state_total"),
    ("local_revenue", "rev_local_total"),
    ("total_expenditure", "exp_total"),
    ("sped_expenditure", "exp_sped_current"),
)
PER_PUPIL_FIELDS = ("exp_current_elsec_total", "enrollment_fall_responsible")
REQUIRED = ("leaid", "fips") + tuple(f for _, f in AMOUNTS) + PER_PUPIL_FIELDS


class FinanceSource(DistrictSource):
    def parse_row(self, record: Row, nulled: Counter, context: Any) -> dict[str, Any]:
        values = super().parse_row(record, nulled, context)
        spending = to_number(record.get("exp_current_elsec_total"), "exp_current_elsec_total", nulled)
        pupils = to_number(record.get("enrollment_fall_responsible"), "enrollment_fall_responsible", nulled)
        per_pupil = ratio(spending, pupils) if spending and spending > 0 else None
        if per_pupil is None and spending and pupils == 0:
            nulled["zero denominator: expenditure_pp"] += 1
        values["expenditure_pp"] = per_pupil  # fitted to its column by the host, like the next two
        # the two parts of the per-pupil figure: pooled averages add them up
        values["current_spending"] = spending
        values["pupils"] = pupils
        return values


SOURCE = FinanceSource(
    name="finance",
    history_source="ccd_finance",
    # one row per district; `exp_current_elsec_total` and `enrollment_fall_responsible` are
    # also the weights of pooled per-pupil averages
    endpoints=(Endpoint(FINANCE, fields=REQUIRED, required=REQUIRED),),
    years=YEARS,
    columns=tuple(column for column, _ in AMOUNTS) + ("expenditure_pp",),
    extras=("current_spending", "pupils"),
    description="CCD finance: revenue by source, expenditure, current spending per pupil",
    measures=AMOUNTS,
)


@hookimpl
def register_sources(register) -> None:
    register(SOURCE)
