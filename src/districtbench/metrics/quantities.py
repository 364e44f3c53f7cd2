"""A `Quantity` (column, or factor · numerator / denominator) as an exact fraction A / B,
and the 3-year changes of one, ready for `Arith.rounded`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.metrics.arith import Arith, column_scale, lit, times
from districtbench.metrics.definitions import Quantity, TrendKind

RESULT_SCALE = 2  # every computed decimal has 2 places


@dataclass(frozen=True)
class Fraction:
    """value = numerator / denominator, both exact (whole numbers on SQLite: `Arith.exact`);
    `valid` is the condition under which the quantity is defined (its denominator column
    > 0). `constant_denominator`: the denominator, when it is a constant."""

    numerator: ColumnElement
    denominator: ColumnElement
    valid: ColumnElement | None = None
    constant_denominator: int | None = None


def fraction(
    arith: Arith, quantity: Quantity, column: Callable[[str], ColumnElement], table: sa.Table
) -> Fraction:
    """`column(name)` gives the SQL value of a quantity column; `table` gives its scale."""
    n_scale = column_scale(table.c[quantity.numerator])
    n_unit = arith.unit(n_scale)
    numerator = arith.exact(column(quantity.numerator), n_scale)
    if quantity.denominator is None:
        return Fraction(times(numerator, quantity.factor), lit(n_unit), None, n_unit)
    d_scale = column_scale(table.c[quantity.denominator])
    denominator_value = column(quantity.denominator)
    numerator = times(numerator, quantity.factor * arith.unit(d_scale))
    denominator = times(arith.exact(denominator_value, d_scale), n_unit)
    return Fraction(numerator, denominator, denominator_value > 0)


def value(arith: Arith, part: Fraction, scale: int = RESULT_SCALE) -> ColumnElement:
    den = part.constant_denominator if part.constant_denominator is not None else part.denominator
    rounded = arith.rounded(part.numerator, den, scale)
    return rounded if part.valid is None else sa.case((part.valid, rounded), else_=sa.null())


def change(arith: Arith, latest: Fraction, base: Fraction, kind: TrendKind) -> ColumnElement:
    """`points`: latest − base. `percent_change`: 100 · (latest − base) / base, base > 0."""
    conditions = [c for c in (latest.valid, base.valid) if c is not None]
    if latest.constant_denominator is not None and latest.constant_denominator == base.constant_denominator:
        difference = latest.numerator - base.numerator  # same constant denominator k
        if kind == "points":
            num, den = difference, latest.constant_denominator
        else:
            num, den = difference * lit(100), base.numerator
    else:
        difference = latest.numerator * base.denominator - base.numerator * latest.denominator
        if kind == "points":
            num, den = difference, latest.denominator * base.denominator
        else:
            num, den = difference * lit(100), latest.denominator * base.numerator
    if kind == "percent_change":
        conditions.append(base.numerator > 0)
    rounded = arith.rounded(num, den, RESULT_SCALE)
    return sa.case((sa.and_(*conditions), rounded), else_=sa.null()) if conditions else rounded
