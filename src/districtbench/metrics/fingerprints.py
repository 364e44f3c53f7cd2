"""What a metric family last computed its own tables from (`tables.family_inputs`).

A family whose results are a function of the rows of one query (this run's district values,
say) can record, in the compute transaction that writes its tables, a fingerprint: a SHA-256
digest of those rows — every column as an exact literal (`quote_nullable` on PostgreSQL,
`quote` on SQLite: a double with all its digits, NULL apart from any text), one row per line, in
key order — and of a `salt` naming everything else the results depend on (options, the method's
version), followed by the row counts the family left in its tables. PostgreSQL hashes the rows
itself (`sha256`), so only the digest crosses the connection; SQLite joins them into one text
that Python hashes. A later run that computes the same fingerprint and finds the same row
counts has nothing to write and may skip the work: its tables already hold what it would
write. Any other difference — a value, a district, an option, a method version, a deleted row
— gives another fingerprint, and the family computes as usual.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from districtbench.db import tables
from districtbench.db.timestamps import utcnow
from districtbench.metrics.context import RunContext
from districtbench.metrics.joined_text import joined_texts

# An option of the invocation (`compute --recompute`): compute even when the fingerprint matches.
RECOMPUTE_OPTION = "recompute"


def digest(ctx: RunContext, rows: sa.FromClause, key: sa.ColumnElement, salt: str) -> str:
    """SHA-256 (hex) of `salt` and of the SHA-256 of `rows` in `key` order (module doc)."""
    hasher = hashlib.sha256(salt.encode())
    hasher.update(b"\0")
    hasher.update(_rows_digest(ctx, rows, key).encode())
    return hasher.hexdigest()


def _rows_digest(ctx: RunContext, rows: sa.FromClause, key: sa.ColumnElement) -> str:
    if ctx.arith.postgresql:
        line = sa.func.concat_ws(sa.literal(","), *(sa.func.quote_nullable(column) for column in rows.c))
        joined = sa.func.string_agg(line, aggregate_order_by(sa.literal("\n"), ctx.arith.binary(key)))
        hashed = sa.func.encode(sa.func.sha256(sa.func.convert_to(sa.func.coalesce(joined, ""), "UTF8")), "hex")
        return ctx.connection.execute(sa.select(hashed).select_from(rows)).scalar_one()
    line = sa.func.quote(rows.c[0])
    for column in list(rows.c)[1:]:
        line = line + sa.literal(",") + sa.func.quote(column)
    (text,) = joined_texts(ctx, rows, [line], [key], "\n")
    return hashlib.sha256(text.encode()).hexdigest()


def with_counts(fingerprint: str, counts: dict[str, int]) -> str:
    return " ".join([fingerprint, *(f"{name}={count}" for name, count in sorted(counts.items()))])


def row_counts(ctx: RunContext, owned: tuple[sa.Table, ...]) -> dict[str, int]:
    """Rows of each of the tables `owned`, in one statement."""
    counts = [sa.select(sa.func.count()).select_from(table).scalar_subquery() for table in owned]
    return dict(zip((table.name for table in owned), ctx.connection.execute(sa.select(*counts)).one()))


def unchanged(ctx: RunContext, family: str, digest: str, owned: tuple[sa.Table, ...]) -> bool:
    """Whether the family's recorded fingerprint is `digest` with the row counts `owned` hold
    now (counted only when the digest matches)."""
    fingerprint = recorded(ctx, family)
    if fingerprint is None or fingerprint.split(" ", 1)[0] != digest:
        return False
    return fingerprint == with_counts(digest, row_counts(ctx, owned))


def recorded(ctx: RunContext, family: str) -> str | None:
    """The family's recorded fingerprint (None: none, or `--recompute` asked to ignore it)."""
    if ctx.options.get(RECOMPUTE_OPTION):
        return None
    f = tables.family_inputs
    return ctx.connection.execute(sa.select(f.c.fingerprint).where(f.c.family == family)).scalar()


def record(ctx: RunContext, family: str, fingerprint: str) -> None:
    f = tables.family_inputs
    ctx.connection.execute(f.delete().where(f.c.family == family))
    ctx.connection.execute(f.insert().values(family=family, fingerprint=fingerprint,
                                             recorded_at=utcnow()))
