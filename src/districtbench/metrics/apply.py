"""Writing a family's staged results onto `districts` or `states`, set-based: what
`RunContext.write_districts` and `RunContext.write_states` do.

A family first fills a staging table with one row per target row (every district, every
state) holding the *raw* results, then writes its `Output`s:
1. a numeric value is rounded half away from zero to its column's scale (exactly: NUMERIC
   on PostgreSQL; on SQLite the double's whole number of units, exact for the sums and
   differences of stored decimals; a quotient is exact when built with `ctx.rounded`) —
   unless the Output says it is `exact` already (the built-in families build every value
   with `metrics.arith`);
2. counts, per column, the values that do not fit the column (or are invalid) — these are
   stored as NULL, never clipped and never an overflow error;
3. sets every output column (NULL where nothing can be computed, so no stale value
   survives) and `updated_at`, touching only rows whose values change (`IS DISTINCT
   FROM`): a re-run with unchanged data writes nothing, which keeps results byte-identical
   and PostgreSQL tables free of dead rows. `write_states` runs its UPDATE at once;
   `write_districts` counts the rows it changes and leaves the UPDATE to the end of the run,
   one for all families (`RunContext.flush`; reads see the values before: module doc of
   `context`);
4. checks that the database wrote every row that was meant to change: a row-level security
   policy, rule or trigger that skips rows raises WriteShortfallError (and the run is
   rolled back) instead of a success that wrote nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from districtbench.db import tables
from districtbench.errors import WriteShortfallError
from districtbench.metrics.arith import Arith, column_range, column_scale, lit

if TYPE_CHECKING:  # pragma: no cover
    from districtbench.metrics.context import RunContext


@dataclass(frozen=True)
class Output:
    """`column` of the target gets `value` (an expression over the staging table), rounded
    to the column's scale unless `exact` (module doc); numeric values outside [low, high],
    and values where `invalid` holds (an implausible ratio), become NULL and are counted.
    No bounds and no `invalid`: stored as is."""

    column: str
    value: ColumnElement
    low: Decimal | None = None
    high: Decimal | None = None
    invalid: ColumnElement | None = None
    exact: bool = False

    @property
    def checked(self) -> bool:
        return self.low is not None or self.high is not None or self.invalid is not None

    def out_of_range(self) -> ColumnElement:
        """True where the value is outside the bounds or invalid (NULL or false where the
        value is NULL)."""
        conditions = []
        if self.low is not None:
            conditions.append(self.value < lit(self.low))
        if self.high is not None:
            conditions.append(self.value > lit(self.high))
        if self.invalid is not None:
            conditions.append(sa.and_(self.value.is_not(None), self.invalid))
        return sa.or_(*conditions)

    def fitted(self) -> ColumnElement:
        if not self.checked:
            return self.value
        return sa.case((self.out_of_range(), sa.null()), else_=self.value)


def bounded(
    target: sa.Table,
    column: str,
    value: ColumnElement,
    valid_max: Decimal | None = None,
    *,
    value_range: tuple[Decimal, Decimal] | None = None,
    invalid: ColumnElement | None = None,
    exact: bool = False,
) -> Output:
    """An Output checked against the range of `target.column`'s type (and `valid_max`, and
    `invalid`); the type is the logical model's (`db.tables`), whichever Table `target` is.
    `value_range`: the values `value` can take, when its inputs' types bound it; if they all
    fit, the range is not checked (nothing can be NULLed, and no CASE per row)."""
    low, high = column_range(tables.metadata.tables[target.name].c[column])
    if valid_max is not None:
        high = min(high, valid_max)
    if value_range is not None and low <= value_range[0] and value_range[1] <= high:
        return Output(column, value, invalid=invalid, exact=exact)
    return Output(column, value, low, high, invalid, exact)


def at_scale(arith: Arith, target: sa.Table, output: Output) -> Output:
    """The Output with its value rounded to the scale of its (numeric) column (module doc)."""
    if output.exact:
        return output
    column = tables.metadata.tables[target.name].c[output.column]
    if not isinstance(column.type, (sa.Numeric, sa.Integer)) or isinstance(column.type, sa.Float):
        return replace(output, exact=True)
    return replace(output, value=arith.to_scale(output.value, column_scale(column)), exact=True)


def write(
    ctx: "RunContext",
    target: sa.Table,
    key: str,
    stage: sa.Table,
    outputs: Sequence[Output],
    *,
    extra_values: Mapping[str, object] | None = None,
    also_when: ColumnElement | None = None,
    deferred: bool = False,
) -> tuple[int, dict[str, int]]:
    """Write `outputs` onto `target` (joined on `key`); returns (rows changed, NULLed per column).
    `extra_values` are set on the rows written; `also_when` writes rows that match it even if
    their values are unchanged; `deferred` (districts only): counted now, written by `flush`."""
    connection = ctx.connection
    outputs = [at_scale(ctx.arith, target, output) for output in outputs]
    checked = [output for output in outputs if output.checked]
    nulled: dict[str, int] = {}
    if checked:  # one pass over the stage alone (cheap: no join, no CASE per value)
        out_of_range = [sa.func.count(sa.case((o.out_of_range(), sa.literal_column("1")))) for o in checked]
        counts = connection.execute(sa.select(*out_of_range).select_from(stage)).one()
        nulled = {o.column: int(n) for o, n in zip(checked, counts) if n}

    # Where no value of a column was out of range, its fitted value is the value itself:
    # plain columns compare and copy much faster than a CASE per value.
    values = {o.column: o.fitted() if nulled.get(o.column) else o.value for o in outputs}
    if deferred:  # written with every other family's, at the end of the run
        return ctx.defer(stage, key, values), nulled
    changed = sa.or_(
        *[target.c[o.column].is_distinct_from(values[o.column]) for o in outputs],
        *([also_when] if also_when is not None else []),
    )
    joined = target.c[key] == stage.c[key]
    meant = connection.execute(
        sa.select(sa.func.count()).select_from(stage.join(target, joined)).where(changed)
    ).scalar_one()
    if not meant:
        return 0, nulled
    statement = (
        sa.update(target)
        .where(joined)
        .where(changed)
        .values({**values, **(extra_values or {}), **ctx.tables.stamps(target.name, ctx.now, insert=False)})
    )
    written = connection.execute(statement).rowcount
    if written != meant:
        raise WriteShortfallError(target.name, meant, written, [ctx.family or "?"])
    return written, nulled
