"""A `Quantity` (column, or factor · numerator / denominator) as an exact fraction A / B,
and the 3-year changes of one, ready for `Arith.rounded`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.metrics.arith import Arith, column_scale, lit, pow10
from districtbench.metrics.definitions import Quantity, TrendKind

RESULT_SCALE = 2  # every computed decimal has 2 places


@dataclass(frozen=True)
class Fraction:
    """value = numerator / denominator, both exact whole numbers; `valid` is the condition
    under which the quantity is defined (its denominator column > 0)."""

    numerator: ColumnElement
    denominator: ColumnElement
    valid: ColumnElement | None = None
    constant_denominator: int | None = None  # set when the denominator is a literal


def fraction(
    arith: Arith, quantity: Quantity, column: Callable[[str], ColumnElement], table: sa.Table
) -> Fraction:
    """`column(name)` gives the SQL value of a quantity column; `table` gives its scale."""
    n_scale = column_scale(table.c[quantity.numerator])
    numerator = arith.exact(column(quantity.numerator), n_scale)
    if quantity.denominator is None:
        if quantity.factor != 1:
            numerator = numerator * lit(quantity.factor)
        return Fraction(numerator, lit(pow10(n_scale)), None, pow10(n_scale))
    d_scale = column_scale(table.c[quantity.denominator])
    denominator_value = column(quantity.denominator)
    factor = quantity.factor * pow10(d_scale)
    if factor != 1:
        numerator = numerator * lit(factor)
    denominator = arith.exact(denominator_value, d_scale)
    if n_scale:
        denominator = denominator * lit(pow10(n_scale))
    return Fraction(numerator, denominator, denominator_value > 0)


def value(arith: Arith, part: Fraction, scale: int = RESULT_SCALE) -> ColumnElement:
    rounded = arith.rounded(part.numerator, part.denominator, scale)
    return rounded if part.valid is None else sa.case((part.valid, rounded), else_=sa.null())


def change(arith: Arith, latest: Fraction, base: Fraction, kind: TrendKind) -> ColumnElement:
    """`points`: latest − base. `percent_change`: 100 · (latest − base) / base, base > 0."""
    conditions = [c for c in (latest.valid, base.valid) if c is not None]
    if latest.constant_denominator is not None and latest.constant_denominator == base.constant_denominator:
        difference = latest.numerator - base.numerator  # same constant denominator k
        if kind == "points":
            num, den = difference, lit(latest.constant_denominator)
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
