"""The eight benchmark metrics as one table of data (metrics.md), read by every family.

Nothing here runs SQL: the families turn these rows into statements. Column names are
checked against `db.tables` by the tests. Nothing here names a source either: a figure is
read from the history columns (measures) it needs, and which sources provide them is what
the registered sources declare (`metrics.measures`).
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
    column itself). Defined only where the denominator is > 0 (and, with
    `positive_numerator`, the numerator too). Implausible — NULL and counted — where the
    denominator is below `min_denominator` or the value above `max_value`."""

    numerator: str
    denominator: str | None = None
    factor: int = 1
    positive_numerator: bool = False
    min_denominator: Decimal | None = None
    max_value: Decimal | None = None

    @property
    def expression(self) -> str:
        text = self.numerator if self.denominator is None else f"{self.numerator} / {self.denominator}"
        return text if self.factor == 1 else f"{self.factor} * {text}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)


@dataclass(frozen=True)
class Trend:
    """A 3-year trend column: latest year vs base year of its quantity's series (per state)."""

    column: str
    quantity: Quantity  # over district_data_history columns
    kind: TrendKind


@dataclass(frozen=True)
class Pooling:
    """How state and national averages pool a measure over its own denominator: Σ numerator /
    Σ weight (× `factor`) over the districts with a stored value and a weight > 0, both read
    from the `districtbench_history_extras` row of the very history row the district's value
    comes from. Without `numerator`: Σ(value · weight) / Σ weight, the value weighted by its
    own denominator (a graduation rate by its cohort)."""

    weight: str
    numerator: str | None = None
    factor: int = 1

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.weight,) if self.numerator is None else (self.numerator, self.weight)


@dataclass(frozen=True)
class Metric:
    key: str
    district_column: str
    average_column: str
    history: Quantity  # over district_data_history columns
    trend_column: str
    trend_kind: TrendKind
    higher_is_better: bool | None
    units: str
    average_kind: AverageKind = "weighted"
    # For metrics the `ratios` family derives (and `averages` pools): over history columns,
    # numerator and denominator from the same row.
    district_ratio: Quantity | None = None
    # A value above this is a data error (stored NULL and counted), e.g. a percentage > 100.
    valid_max: Decimal | None = None
    # For the other ("weighted") metrics: the denominator the averages pool over.
    pooling: Pooling | None = None

    @property
    def history_expression(self) -> str:
        return self.history.expression

    @property
    def trend(self) -> Trend:
        return Trend(self.trend_column, self.history, self.trend_kind)

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
# A student/teacher ratio needs at least one teacher FTE and at most 150 students per teacher
# (Toltec, AZ, reported 1,047 students and 1 FTE in 2018); a district without students has none.
STUDENT_TEACHER_RATIO = Quantity(
    "enrollment", "teachers_fte", positive_numerator=True, min_denominator=Decimal(1), max_value=Decimal(150)
)

METRICS: tuple[Metric, ...] = (
    Metric(
        "absenteeism", "chronic_absenteeism_rate", "avg_chronic_absenteeism_rate",
        Quantity("chronic_absenteeism_rate"), "absenteeism_trend_3yr", "points", False,
        "% of students chronically absent", pooling=Pooling("crdc_enrollment", "absent_students", 100),
    ),
    Metric(
        "graduation", "graduation_rate_total", "avg_graduation_rate",
        Quantity("graduation_rate"), "graduation_trend_3yr", "points", True,
        "% of the cohort graduating in 4 years", pooling=Pooling("cohort"),
    ),
    Metric(
        "student_teacher_ratio", "student_teacher_ratio", "avg_student_teacher_ratio",
        STUDENT_TEACHER_RATIO, "student_teacher_ratio_trend_3yr", "points", False,
        "students per teacher FTE", average_kind="pooled",
        district_ratio=STUDENT_TEACHER_RATIO,
    ),
    Metric(
        "swd_pct", "swd_pct", "avg_swd_pct",
        Quantity("spec_ed_students"), "swd_trend_3yr", "percent_change", None,
        "% of enrollment in special education", average_kind="pooled",
        district_ratio=Quantity("spec_ed_students", "enrollment", 100), valid_max=PERCENT_MAX,
    ),
    Metric(
        "ell_pct", "ell_pct", "avg_ell_pct",
        Quantity("ell_students"), "ell_trend_3yr", "percent_change", None,
        "% of enrollment learning English", average_kind="pooled",
        district_ratio=Quantity("ell_students", "enrollment", 100), valid_max=PERCENT_MAX,
    ),
    Metric(
        "math_proficiency", "math_proficiency_pct", "avg_math_proficiency",
        Quantity("math_proficiency"), "math_proficiency_trend_3yr", "points", True,
        "% proficient in mathematics", pooling=Pooling("math_takers"),
    ),
    Metric(
        "read_proficiency", "read_proficiency_pct", "avg_read_proficiency",
        Quantity("read_proficiency"), "read_proficiency_trend_3yr", "points", True,
        "% proficient in reading", pooling=Pooling("read_takers"),
    ),
    Metric(
        "expenditure_pp", "expenditure_per_pupil", "avg_expenditure_per_pupil",
        Quantity("expenditure_pp"), "expenditure_pp_trend_3yr", "percent_change", None,
        "USD per pupil", pooling=Pooling("pupils", "current_spending"),
    ),
)

METRICS_BY_KEY = {metric.key: metric for metric in METRICS}
# avg_poverty_rate (not one of the eight): Σ poor children / Σ children 5-17 (SAIPE counts).
POVERTY_POOLING = Pooling("children", "poor_children", 100)

# Trends that are not one of the eight metrics (directory counts, % change), and the signal.
EXTRA_TRENDS: tuple[Trend, ...] = (
    Trend("enrollment_trend_3yr", Quantity("enrollment"), "percent_change"),
    Trend("staffing_trend_3yr", Quantity("teachers_fte"), "percent_change"),
)
TRENDS: tuple[Trend, ...] = EXTRA_TRENDS + tuple(metric.trend for metric in METRICS)
# vacancy_pressure_signal = enrollment_trend_3yr − staffing_trend_3yr (the stored, rounded values)
SIGNAL = ("vacancy_pressure_signal", "enrollment_trend_3yr", "staffing_trend_3yr")


@dataclass(frozen=True)
class LatestValue:
    """`latest` copies the measure `history_column` onto the district column `column`."""

    column: str
    history_column: str


LATEST_VALUES: tuple[LatestValue, ...] = (
    LatestValue("enrollment", "enrollment"),
    LatestValue("teachers_fte", "teachers_fte"),
    LatestValue("staff_total_fte", "staff_total_fte"),
    LatestValue("spec_ed_students", "spec_ed_students"),
    LatestValue("ell_students", "ell_students"),
    LatestValue("total_expenditure", "total_expenditure"),
    LatestValue("expenditure_per_pupil", "expenditure_pp"),
    LatestValue("children_poverty_percent", "poverty_pct"),
    LatestValue("graduation_rate_total", "graduation_rate"),
    LatestValue("math_proficiency_pct", "math_proficiency"),
    LatestValue("read_proficiency_pct", "read_proficiency"),
    LatestValue("chronic_absenteeism_rate", "chronic_absenteeism_rate"),
)
LATEST_BY_COLUMN = {value.column: value for value in LATEST_VALUES}
# The `*_data_year` columns: each holds the year of its first measure (the district's row of
# that measure's as-of year; NULL when it has none).
YEAR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("urban_institute_year", "enrollment"),
    ("staff_data_year", "teachers_fte"),
    ("finance_data_year", "expenditure_per_pupil"),
    ("saipe_data_year", "children_poverty_percent"),
    ("graduation_data_year", "graduation_rate_total"),
    ("assessment_data_year", "math_proficiency_pct"),
    ("absenteeism_data_year", "chronic_absenteeism_rate"),
)


@dataclass(frozen=True)
class Series:
    """The rows a figure is read from: history rows, of a source that provides every one of
    `columns` (`metrics.measures`), in which every one of them is non-NULL. A figure's as-of
    year in a state is the latest year in which at least one district of the state has such
    a row; a trend's base year is picked among the state's other years of such rows; in
    each of those years the rows are of one source, the first in precedence that has such
    rows there (see `years`)."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A district column whose year is recorded per state: `series` gives its year (and,
    with `trend`, the base year of the 3-year trend)."""

    column: str
    series: Series
    trend: bool = False


RATIO_METRICS: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.district_ratio is not None)


def _figures() -> tuple[Figure, ...]:
    figures = [Figure(v.column, Series((v.history_column,))) for v in LATEST_VALUES]
    figures += [Figure(m.district_column, Series(m.district_ratio.columns)) for m in RATIO_METRICS]
    figures += [Figure(t.column, Series(t.quantity.columns), trend=True) for t in TRENDS]
    return tuple(figures)


FIGURES: tuple[Figure, ...] = _figures()
FIGURES_BY_COLUMN = {figure.column: figure for figure in FIGURES}
# Every series once, in a fixed order (their number is their position here).
SERIES: tuple[Series, ...] = tuple(dict.fromkeys(figure.series for figure in FIGURES))
TREND_SERIES: frozenset[Series] = frozenset(figure.series for figure in FIGURES if figure.trend)
