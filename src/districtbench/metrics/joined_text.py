"""Reading many rows as a few strings: each expression's values over a table's rows, in key
order, joined into one text by the database (`string_agg` / `group_concat`). One read for a
whole column, compared or hashed without a Python object per value (`peers_store`,
`fingerprints`)."""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.metrics.context import RunContext

NULL_TEXT = "N"  # a NULL value as `as_text` gives it


def as_text(expr: sa.ColumnElement) -> sa.ColumnElement:
    """The value as text, NULL as `NULL_TEXT`."""
    return sa.func.coalesce(sa.cast(expr, sa.Text), sa.literal(NULL_TEXT))


def joined_texts(ctx: RunContext, rows: sa.FromClause, values: list[sa.ColumnElement], order: list[sa.ColumnElement],
                 separator: str = " ") -> list[str]:
    """Per expression of `values` (text), its values over `rows` in `order` joined by
    `separator` — one sorted read for all of them ("" when there is no row). Both databases
    aggregate the rows of an ordered subquery in its order; strings are ordered bytewise."""
    keys = [ctx.arith.binary(c) if isinstance(c.type, sa.String) else c for c in order]
    inner = sa.select(*[v.label(f"v{i}") for i, v in enumerate(values)]).select_from(rows).order_by(*keys).subquery()
    join = sa.func.string_agg if ctx.arith.postgresql else sa.func.group_concat
    row = ctx.connection.execute(
        sa.select(*[join(inner.c[f"v{i}"], sa.literal(separator)) for i in range(len(values))])
    ).one()
    return [text or "" for text in row]
