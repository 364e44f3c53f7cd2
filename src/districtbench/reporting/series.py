"""Each metric year by year, from `district_data_history`: a district's own values and the
figure of its state (or of the US) for every year the history holds.

A district's value in a year is the metric computed from its history row of that year, as
`latest` and `ratios` would have computed it then — of the first source in precedence with a
value that year, when several provide the measure (`metrics.measures`) (a share above 100 % or an implausible
student/teacher ratio is no value).

A state's figure in a year uses the formula of the state average (family `averages`) over
that year's history rows of the state's districts:
* shares and the student/teacher ratio are pooled: Σ numerator / Σ denominator over the
  districts whose own share or ratio that year is a value (as above), e.g.
  100 · Σ special-education students / Σ enrollment;
* rates and spending are pooled over their own denominators, read from the extras row of the
  same history row (`definitions.Pooling`): graduation by cohort, proficiency by valid test
  takers, absenteeism 100 · Σ absent / Σ CRDC enrollment, spending Σ current spending / Σ
  pupils — over the districts with a value and a denominator > 0;
* where some district of the group has a value that year but no extras row (history written
  before revision 0005), that year's figure falls back to the enrollment-weighted mean (each
  district's current enrollment), as `averages` does.
In the as-of year this is exactly the state average stored in `states`. The US: the districts
of the 50 states and DC. Values are rounded half away from zero to 2 decimals, in SQL, by the
same exact arithmetic as the metric families. Statements are built on the database's layout
(`db.layout`); column types come from the logical model (`db.tables`).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout, tables
from districtbench.db.states import STATES_AND_DC_FIPS
from districtbench.metrics.arith import Arith, column_scale, times
from districtbench.metrics.definitions import METRICS, Metric, Quantity
from districtbench.metrics.measures import Measures, built_in
from districtbench.metrics.quantities import RESULT_SCALE, fraction, value

Series = dict[str, dict[int, Decimal]]  # metric key → year → value
TYPES = tables.district_data_history  # the logical model: scales of the history columns


def value_quantity(metric: Metric) -> Quantity:
    """What a metric's value is over one history row (a share, not the count its trend uses)."""
    return metric.district_ratio or metric.history


def _by_source(measures: Measures | None) -> list[tuple[str, list[Metric]]]:
    """History source → the metrics its rows provide (`metrics.measures`), the last in
    precedence first: a year's value of a better source replaces it."""
    measures = measures or built_in()
    grouped: dict[str, list[Metric]] = defaultdict(list)
    for metric in METRICS:
        for source in measures.sources_of(value_quantity(metric).columns):
            grouped[source].append(metric)
    return sorted(grouped.items(), key=lambda item: -measures.rank(item[0]))


def _decimal(raw) -> Decimal | None:
    return None if raw is None else Decimal(str(raw)).quantize(Decimal(1).scaleb(-RESULT_SCALE))


def _keep(metric: Metric, number: Decimal | None) -> Decimal | None:
    if number is None or (metric.valid_max is not None and number > metric.valid_max):
        return None
    return number


def district_series(connection: Connection, leaid: str, measures: Measures | None = None) -> Series:
    """metric key → year → the district's value that year (years without a value left out).
    `measures`: the registered sources' declarations (None: the built-in sources')."""
    h = layout.of(connection).district_data_history
    arith = Arith(connection.dialect.name)
    series: Series = {metric.key: {} for metric in METRICS}
    for source, metrics in _by_source(measures):
        values = [_row_value(arith, metric, h) for metric in metrics]
        rows = connection.execute(
            sa.select(h.c.year, *values).where(h.c.leaid == leaid, h.c.source == source).order_by(h.c.year)
        ).all()
        for year, *numbers in rows:
            for metric, raw in zip(metrics, numbers):
                number = _keep(metric, _decimal(raw))
                if number is not None:
                    series[metric.key][year] = number
    return series


def area_series(connection: Connection, state_fips: Sequence[str], measures: Measures | None = None) -> Series:
    """metric key → year → the figure of the districts of `state_fips` (one state, or the
    50 states and DC for the US) that year."""
    t = layout.of(connection)
    h, d = t.district_data_history, t.districts
    arith = Arith(connection.dialect.name)
    series: Series = {metric.key: {} for metric in METRICS}
    x = tables.history_extras
    joined = h.join(d, d.c.leaid == h.c.leaid).outerjoin(
        x, sa.and_(x.c.leaid == h.c.leaid, x.c.year == h.c.year, x.c.source == h.c.source)
    )
    for source, metrics in _by_source(measures):
        figures = [_pooled_or_weighted(arith, metric, h, d, x) for metric in metrics]
        rows = connection.execute(
            sa.select(h.c.year, *figures)
            .select_from(joined)
            .where(h.c.source == source, d.c.state_fips.in_(list(state_fips)))
            .group_by(h.c.year)
            .order_by(h.c.year)
        ).all()
        for year, *numbers in rows:
            for metric, raw in zip(metrics, numbers):
                number = _keep(metric, _decimal(raw))
                if number is not None:
                    series[metric.key][year] = number
    return series


def national_series(connection: Connection, measures: Measures | None = None) -> Series:
    return area_series(connection, STATES_AND_DC_FIPS, measures)


def _row_value(arith: Arith, metric: Metric, h: sa.Table):
    """The metric over one history row (NULL where it is undefined or implausible)."""
    part = fraction(arith, value_quantity(metric), lambda name: h.c[name], TYPES)
    number = value(arith, part)
    return number if part.implausible is None else sa.case((part.implausible, sa.null()), else_=number)


def _pooled_or_weighted(arith: Arith, metric: Metric, h: sa.Table, d: sa.Table, x: sa.Table):
    def total(condition, expr):
        return arith.sum_exact(sa.case((condition, expr), else_=sa.null()))

    if metric.average_kind == "pooled":
        part = fraction(arith, metric.district_ratio, lambda name: h.c[name], TYPES)
        own = _row_value(arith, metric, h)  # pooled over the rows whose own value counts
        included = own.is_not(None) if metric.valid_max is None else own <= metric.valid_max
        return arith.rounded(total(included, part.numerator), total(included, part.denominator), RESULT_SCALE)
    column = h.c[metric.history.numerator]
    scale = column_scale(TYPES.c[metric.history.numerator])
    by_enrollment = sa.and_(d.c.enrollment > 0, column.is_not(None))
    fallback = arith.rounded(
        total(by_enrollment, arith.exact(column, scale) * arith.exact(d.c.enrollment)),
        times(total(by_enrollment, arith.exact(d.c.enrollment)), arith.unit(scale)),
        RESULT_SCALE,
    )
    if metric.pooling is None:
        return fallback
    pooling = metric.pooling
    weight = x.c[pooling.weight]
    w_scale = column_scale(tables.history_extras.c[pooling.weight])
    if pooling.numerator is None:
        included = sa.and_(column.is_not(None), weight > 0)
        num = total(included, arith.exact(column, scale) * arith.exact(weight, w_scale))
        den = times(total(included, arith.exact(weight, w_scale)), arith.unit(scale))
    else:
        parts = fraction(arith, Quantity(pooling.numerator, pooling.weight, pooling.factor), lambda name: x.c[name],
                         tables.history_extras)
        included = sa.and_(column.is_not(None), weight > 0, x.c[pooling.numerator].is_not(None))
        num, den = total(included, parts.numerator), total(included, parts.denominator)
    missing = sa.func.count(sa.case((sa.and_(column.is_not(None), x.c.leaid.is_(None)), 1), else_=sa.null()))
    return sa.case((missing > 0, fallback), else_=arith.rounded(num, den, RESULT_SCALE))
