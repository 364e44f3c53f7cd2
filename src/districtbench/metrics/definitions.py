"""The eight benchmark metrics as one table of data (metrics.md), read by every family.

Nothing here runs SQL: the families turn these rows into statements. Column names are
checked against `db.tables` by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

TrendKind = Literal["points", "percent_change"]
AverageKind = Literal["weighted", "pooled"]


@dataclass(frozen=True)
class Quantity:
    """A value read from one row: `factor · numerator / denominator` (no denominator: the
    column itself). Computed only where the denominator is > 0."""

    numerator: str
    denominator: str | None = None
    factor: int = 1

    @property
    def expression(self) -> str:
        text = self.numerator if self.denominator is None else f"{self.numerator} / {self.denominator}"
        return text if self.factor == 1 else f"{self.factor} * {text}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)


@dataclass(frozen=True)
class Trend:
    """A 3-year trend column: latest year vs base year of `source` (per state)."""

    column: str
    source: str
    quantity: Quantity  # over district_data_history columns
    kind: TrendKind


@dataclass(frozen=True)
class Metric:
    key: str
    district_column: str
    average_column: str
    history_source: str
    history: Quantity  # over district_data_history columns
    trend_column: str
    trend_kind: TrendKind
    higher_is_better: bool | None
    units: str
    average_kind: AverageKind = "weighted"
    # For metrics the `ratios` family derives on `districts` (and `averages` pools):
    district_ratio: Quantity | None = None
    # A value above this is a data error (stored NULL and counted), e.g. a percentage > 100.
    valid_max: Decimal | None = None

    @property
    def history_expression(self) -> str:
        return self.history.expression

    @property
    def trend(self) -> Trend:
        return Trend(self.trend_column, self.history_source, self.history, self.trend_kind)

    # absenteeism / graduation / expenditure_pp keep the schema.md names, which are key-based.
    @property
    def vs_state_column(self) -> str:
        return f"{self.key}_vs_state"

    @property
    def vs_national_column(self) -> str:
        return f"{self.key}_vs_national"

    @property
    def quartile_column(self) -> str:
        return f"{self.key}_quartile_state"


PERCENT_MAX = Decimal(100)

METRICS: tuple[Metric, ...] = (
    Metric(
        "absenteeism", "chronic_absenteeism_rate", "avg_chronic_absenteeism_rate",
        "crdc_absenteeism", Quantity("chronic_absenteeism_rate"), "absenteeism_trend_3yr", "points", False,
        "% of students chronically absent",
    ),
    Metric(
        "graduation", "graduation_rate_total", "avg_graduation_rate",
        "edfacts_grad", Quantity("graduation_rate"), "graduation_trend_3yr", "points", True,
        "% of the cohort graduating in 4 years",
    ),
    Metric(
        "student_teacher_ratio", "student_teacher_ratio", "avg_student_teacher_ratio",
        "ccd_directory", Quantity("enrollment", "teachers_fte"), "student_teacher_ratio_trend_3yr", "points", False,
        "students per teacher FTE", average_kind="pooled",
        district_ratio=Quantity("enrollment", "teachers_fte"),
    ),
    Metric(
        "swd_pct", "swd_pct", "avg_swd_pct",
        "ccd_directory", Quantity("spec_ed_students"), "swd_trend_3yr", "percent_change", None,
        "% of enrollment in special education", average_kind="pooled",
        district_ratio=Quantity("spec_ed_students", "enrollment", 100), valid_max=PERCENT_MAX,
    ),
    Metric(
        "ell_pct", "ell_pct", "avg_ell_pct",
        "ccd_directory", Quantity("ell_students"), "ell_trend_3yr", "percent_change", None,
        "% of enrollment learning English", average_kind="pooled",
        district_ratio=Quantity("ell_students", "enrollment", 100), valid_max=PERCENT_MAX,
    ),
    Metric(
        "math_proficiency", "math_proficiency_pct", "avg_math_proficiency",
        "edfacts_assess", Quantity("math_proficiency"), "math_proficiency_trend_3yr", "points", True,
        "% proficient in mathematics",
    ),
    Metric(
        "read_proficiency", "read_proficiency_pct", "avg_read_proficiency",
        "edfacts_assess", Quantity("read_proficiency"), "read_proficiency_trend_3yr", "points", True,
        "% proficient in reading",
    ),
    Metric(
        "expenditure_pp", "expenditure_per_pupil", "avg_expenditure_per_pupil",
        "ccd_finance", Quantity("expenditure_pp"), "expenditure_pp_trend_3yr", "percent_change", None,
        "USD per pupil",
    ),
)

METRICS_BY_KEY = {metric.key: metric for metric in METRICS}

# Trends that are not one of the eight metrics (ccd_directory, % change), and the signal.
EXTRA_TRENDS: tuple[Trend, ...] = (
    Trend("enrollment_trend_3yr", "ccd_directory", Quantity("enrollment"), "percent_change"),
    Trend("staffing_trend_3yr", "ccd_directory", Quantity("teachers_fte"), "percent_change"),
)
TRENDS: tuple[Trend, ...] = EXTRA_TRENDS + tuple(metric.trend for metric in METRICS)
# vacancy_pressure_signal = enrollment_trend_3yr − staffing_trend_3yr (the stored, rounded values)
SIGNAL = ("vacancy_pressure_signal", "enrollment_trend_3yr", "staffing_trend_3yr")


@dataclass(frozen=True)
class LatestSource:
    """How the `latest` family copies one history source onto `districts`."""

    source: str
    year_columns: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (districts column, district_data_history column)


LATEST_SOURCES: tuple[LatestSource, ...] = (
    LatestSource(
        "ccd_directory",
        ("urban_institute_year", "staff_data_year"),
        (
            ("enrollment", "enrollment"),
            ("teachers_fte", "teachers_fte"),
            ("staff_total_fte", "staff_total_fte"),
            ("spec_ed_students", "spec_ed_students"),
            ("ell_students", "ell_students"),
        ),
    ),
    LatestSource(
        "ccd_finance",
        ("finance_data_year",),
        (("total_expenditure", "total_expenditure"), ("expenditure_per_pupil", "expenditure_pp")),
    ),
    LatestSource("saipe", ("saipe_data_year",), (("children_poverty_percent", "poverty_pct"),)),
    LatestSource("edfacts_grad", ("graduation_data_year",), (("graduation_rate_total", "graduation_rate"),)),
    LatestSource(
        "edfacts_assess",
        ("assessment_data_year",),
        (("math_proficiency_pct", "math_proficiency"), ("read_proficiency_pct", "read_proficiency")),
    ),
    LatestSource(
        "crdc_absenteeism",
        ("absenteeism_data_year",),
        (("chronic_absenteeism_rate", "chronic_absenteeism_rate"),),
    ),
)
