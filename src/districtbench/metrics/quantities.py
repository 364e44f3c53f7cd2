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
    > 0); `implausible` where it is defined but not believable (too small a denominator,
    too large a value: `Quantity.min_denominator`, `max_value`). `constant_denominator`: the
    denominator, when it is a constant."""

    numerator: ColumnElement
    denominator: ColumnElement
    valid: ColumnElement | None = None
    constant_denominator: int | None = None
    implausible: ColumnElement | None = None


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
    valid = denominator_value > 0
    if quantity.positive_numerator:
        valid = sa.and_(column(quantity.numerator) > 0, valid)
    doubts = []
    if quantity.min_denominator is not None:
        doubts.append(denominator_value < lit(quantity.min_denominator))
    if quantity.max_value is not None:  # value > max ⇔ numerator > max · denominator (denominator > 0)
        doubts.append(numerator > times(denominator, _whole(quantity.max_value)))
    return Fraction(numerator, denominator, valid, implausible=sa.or_(*doubts) if doubts else None)


def _whole(value) -> int:
    if value != int(value):
        raise ValueError(f"max_value must be a whole number, not {value}")
    return int(value)


def value(arith: Arith, part: Fraction, scale: int = RESULT_SCALE) -> ColumnElement:
    den = part.constant_denominator if part.constant_denominator is not None else part.denominator
    rounded = arith.rounded(part.numerator, den, scale)
    return rounded if part.valid is None else sa.case((part.valid, rounded), else_=sa.null())


def implausible_change(latest: Fraction, base: Fraction) -> ColumnElement | None:
    """Where both ends are defined and one of them is implausible (None: neither can be)."""
    doubts = [part.implausible for part in (latest, base) if part.implausible is not None]
    if not doubts:
        return None
    defined = [part.valid for part in (latest, base) if part.valid is not None]
    return sa.and_(*defined, sa.or_(*doubts))


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
