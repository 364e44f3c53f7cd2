"""`poverty`: percentage from counts, `_pct` fallback with the scale detected per unit."""

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from districtbench.sources.base import MissingFieldError
from districtbench.sources.poverty import SAIPE, SOURCE
from districtbench.sources.values import PCT_OUT_OF_RANGE

CENT = Decimal("0.01")


def row(leaid, children, poor, pct):
    return {"leaid": leaid, "fips": 17, "est_population_5_17": children,
            "est_population_5_17_poverty": poor, "est_population_5_17_poverty_pct": pct}


def parse(records):
    unit = SOURCE.parse_unit({SAIPE: records}, 2018, "17")
    return unit, {h["leaid"]: h["poverty_pct"] for h in unit.history}


def test_percentage_comes_from_the_counts():
    unit, got = parse([row("1700001", 3000, 457, 0.99), row("1700002", 7, 1, None)])
    assert got["1700001"] == (Decimal(100 * 457) / 3000).quantize(CENT, ROUND_HALF_UP) == Decimal("15.23")
    assert got["1700002"] == Decimal("14.29")


def test_fallback_to_share_scale_when_every_pct_is_at_most_one():
    records = [row("1700001", 3000, 457, 0.152), row("1700002", None, None, 0.2),
               row("1700003", -1, 20, 0.055), row("1700004", None, None, -3)]
    _, got = parse(records)
    assert got == {"1700001": Decimal("15.23"), "1700002": Decimal("20.00"),
                   "1700003": Decimal("5.50"), "1700004": None}


def test_fallback_on_percent_scale_when_any_pct_is_above_one():
    records = [row("1700001", 3000, 457, 15.2), row("1700002", None, None, 0.8),
               row("1700003", None, 20, 22.5)]
    _, got = parse(records)
    assert got == {"1700001": Decimal("15.23"), "1700002": Decimal("0.80"), "1700003": Decimal("22.50")}


def test_impossible_counts_drop_the_row_and_zero_children_is_null():
    unit, got = parse([row("1700001", 10, 11, None), row("1700002", 0, 0, None), row("1700003", 10, 1, 10)])
    assert got == {"1700002": None, "1700003": Decimal("10.00")}
    assert unit.skipped == Counter({PCT_OUT_OF_RANGE: 1})
    assert unit.nulled == Counter({"zero denominator: poverty_pct": 1})


def test_a_renamed_count_fails_the_unit():
    records = [{"leaid": "1700001", "fips": 17, "est_population_5_17": 10, "est_pop_5_17_poverty": 2}]
    with pytest.raises(MissingFieldError, match="est_population_5_17_poverty"):
        parse(records)
