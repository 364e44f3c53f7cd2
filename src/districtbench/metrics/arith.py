"""Exact arithmetic and rounding in SQL that gives the same answers on PostgreSQL and SQLite.

Every computed value is a quotient `num / den` of *exact* expressions, rounded half away
from zero:

* PostgreSQL: NUMERIC arithmetic on the values as they are (arbitrary precision, exact,
  never overflows), then `ROUND(numeric, s)`, which rounds half away from zero. (ROUND on
  double precision would round half to even, which is why nothing here is a float.)
* SQLite: decimal inputs are first scaled to integers (`2.67` at scale 2 -> `267`: `exact`
  and `unit`), then 64-bit INTEGER arithmetic, and the rounding done by integer division,
  `(2·num·10^s ± den) / (2·den)` truncated toward zero = `±floor(|num/den|·10^s + ½)`.
  SQLite's own ROUND works on doubles (2.675 is 2.67499999…), so it is not used on computed
  values. An integer product too large for 64 bits turns into a REAL in SQLite instead of
  raising; the result is then cast back to a whole number of units (only absurd inputs get
  there, and they are out of range for every column anyway).

Sums use `sum_exact`: SUM on PostgreSQL; on SQLite CAST(TOTAL(x) AS INTEGER), which is exact
while partial sums stay below 2^53 and, unlike SUM, never raises "integer overflow".
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

NUMERIC = sa.Numeric()
INT32_MAX = 2_147_483_647


def lit(value: int | Decimal | str) -> ColumnElement:
    """A constant written into the SQL text (keeps INTEGER typing on SQLite)."""
    return sa.literal_column(str(value), sa.Integer if isinstance(value, int) else None)


def int_div(left: ColumnElement, right: ColumnElement) -> ColumnElement:
    """Integer division truncating toward zero, `/` between integers on both databases.
    (SQLAlchemy 2 renders a plain `/` as true division, adding `+ 0.0` on SQLite.)"""
    return sa.type_coerce(left, sa.Integer) // sa.type_coerce(right, sa.Integer)


def pow10(scale: int) -> int:
    return 10**scale


def times(expr: ColumnElement, factor: int) -> ColumnElement:
    """`expr × factor`, without a multiplication by 1."""
    return expr if factor == 1 else expr * lit(factor)


class Arith:
    """Builds exact expressions for one dialect (`postgresql` or `sqlite`)."""

    def __init__(self, dialect_name: str):
        if dialect_name not in ("postgresql", "sqlite"):
            raise ValueError(f"unsupported database dialect {dialect_name!r}")
        self.postgresql = dialect_name == "postgresql"

    def exact(self, expr: ColumnElement, scale: int = 0) -> ColumnElement:
        """`expr` (at most `scale` decimals) exactly, as a number of 1/`unit(scale)`: on
        SQLite the whole number expr × 10^scale, on PostgreSQL the NUMERIC itself."""
        if self.postgresql:
            return sa.cast(expr, NUMERIC)
        if scale == 0:
            return sa.cast(expr, sa.Integer)
        # A stored 2.67 is the double 2.66999…; ×100 is within 1e-12 of 267, ROUND(…) is exact.
        return sa.cast(sa.func.round(expr * lit(pow10(scale))), sa.Integer)

    def unit(self, scale: int) -> int:
        """What `exact(x, scale)` counts: x = exact(x, scale) / unit(scale) — 10^scale on
        SQLite, 1 on PostgreSQL (scaling there would only add multiplications)."""
        return 1 if self.postgresql else pow10(scale)

    def binary(self, expr: ColumnElement) -> ColumnElement:
        """A string compared byte by byte (PostgreSQL's "C" collation sorts far faster than
        a locale's; SQLite compares bytes already)."""
        return expr.collate("C") if self.postgresql else expr

    def sum_exact(self, expr: ColumnElement) -> ColumnElement:
        if self.postgresql:
            return sa.func.sum(expr)
        return sa.cast(sa.func.total(expr), sa.Integer)

    def rounded(self, num: ColumnElement, den: ColumnElement | int, scale: int) -> ColumnElement:
        """`num / den` rounded half away from zero to `scale` decimals; NULL if either side
        is NULL or `den` is 0. Every caller guarantees `den` ≥ 0 (counts, sums of positive
        values, denominators checked > 0), which keeps the SQLite form short. `den` may be
        a positive int (a constant denominator)."""
        if self.postgresql:
            value = sa.cast(num, NUMERIC)
            if isinstance(den, int):
                return sa.func.round(value if den == 1 else value / lit(den), scale)
            return sa.func.round(value / sa.func.nullif(den, 0), scale)
        den = lit(den) if isinstance(den, int) else den
        # (2·num·10^s ± den) / (2·den), truncated toward zero: ±floor(|num/den|·10^s + ½).
        # SQLite: x / 0 is NULL.
        factor = pow10(scale)
        half = sa.case((num < 0, -den), else_=den)
        units = sa.cast(int_div(lit(2 * factor) * num + half, lit(2) * den), sa.Integer)
        return units if scale == 0 else units / sa.literal_column(f"{factor}.0")

    def to_scale(self, value: ColumnElement, scale: int) -> ColumnElement:
        """`value` rounded half away from zero to `scale` decimals. PostgreSQL: ROUND of the
        NUMERIC (exact for NUMERIC inputs). SQLite: the whole number of 1/10^scale units
        nearest to the double (SQLite's ROUND is half away from zero on the double), as a
        stored decimal is — exact for sums and differences of stored decimals, whose double
        is within far less than half a unit of the decimal; not for a quotient (`rounded`)."""
        if self.postgresql:
            return sa.func.round(sa.cast(value, NUMERIC), scale)
        units = sa.cast(sa.func.round(value * lit(pow10(scale))), sa.Integer)
        return units if scale == 0 else units / sa.literal_column(f"{pow10(scale)}.0")

    def difference(self, left: ColumnElement, right: ColumnElement, scale: int) -> ColumnElement:
        """`left − right` for two values with at most `scale` decimals, exactly (no rounding
        is needed: NUMERIC subtraction is exact; on SQLite the whole number of hundredths
        divided by 100.0 is the double nearest to the decimal, as a stored 2.67 is)."""
        difference = self.exact(left, scale) - self.exact(right, scale)
        unit = self.unit(scale)
        return difference if unit == 1 else difference / sa.literal_column(f"{unit}.0")


def type_scale(expr: ColumnElement) -> int:
    """Decimal places of an expression's SQL type: NUMERIC(p,s) -> s, INTEGER -> 0."""
    type_ = expr.type
    if isinstance(type_, sa.Integer):
        return 0
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float) and type_.scale is not None:
        return type_.scale
    raise TypeError(f"{expr} has no decimal type with a scale (NUMERIC(p,s) or INTEGER): cast it first")


def column_scale(column: sa.Column) -> int:
    """Decimal places a column holds: NUMERIC(p,s) -> s, INTEGER -> 0."""
    type_ = column.type
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        return type_.scale or 0
    if isinstance(type_, sa.Integer):
        return 0
    raise TypeError(f"{column} is not numeric")


def column_range(column: sa.Column) -> tuple[Decimal, Decimal]:
    """The values a numeric column can hold: DECIMAL(5,2) -> ±999.99, INTEGER -> ±2^31−1."""
    type_ = column.type
    if isinstance(type_, sa.Integer):
        return Decimal(-INT32_MAX - 1), Decimal(INT32_MAX)
    if isinstance(type_, sa.Numeric) and type_.precision is not None:
        scale = type_.scale or 0
        high = Decimal(10) ** (type_.precision - scale) - Decimal(1).scaleb(-scale)
        return -high, high
    raise TypeError(f"{column} has no bounded numeric type")


class WholeUnits(Arith):
    """`Arith` whose exact values are whole numbers of 1/10^scale on both databases (the
    SQLite form; on PostgreSQL as NUMERIC, so nothing overflows), for expressions whose
    results leave SQL to be added up elsewhere as integers (`peers_sums`)."""

    def exact(self, expr: ColumnElement, scale: int = 0) -> ColumnElement:
        if not self.postgresql:
            return super().exact(expr, scale)
        value = sa.cast(expr, NUMERIC)
        return value if scale == 0 else sa.func.round(value * lit(pow10(scale)))

    def unit(self, scale: int) -> int:
        return pow10(scale)
