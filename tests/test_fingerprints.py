"""The inputs' fingerprint (metrics/fingerprints.py): the same rows give the same digest in
any storage order; any difference a value can hide in text — the last bit of a double, NULL
against the text 'NULL' or an empty string, a comma inside a value — gives another one."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

import sqlalchemy as sa

from districtbench.db.engine import create_db_engine
from districtbench.metrics import fingerprints
from districtbench.metrics.context import RunContext

SALT = "test 1"
ROWS = [("a", 0.1 + 0.2, "x"), ("b", None, "NULL"), ("c", 1.0, "")]


def _digests(url: str, *tables_rows: list[tuple]) -> list[str]:
    engine = create_db_engine(url)
    table = sa.table("fingerprint_rows", sa.column("k", sa.String), sa.column("x", sa.Float), sa.column("t", sa.Text))
    found = []
    try:
        with engine.begin() as c:
            c.exec_driver_sql("CREATE TABLE fingerprint_rows (k VARCHAR(4) PRIMARY KEY, x DOUBLE PRECISION, t TEXT)")
            ctx = RunContext(c, datetime(2026, 12, 6))
            for rows in tables_rows:
                c.execute(table.delete())
                if rows:
                    c.execute(table.insert(), [dict(zip("kxt", row)) for row in rows])
                found.append(fingerprints.digest(ctx, table, table.c.k, SALT))
            c.exec_driver_sql("DROP TABLE fingerprint_rows")
    finally:
        engine.dispose()
    return found


def test_the_digest_sees_every_difference_and_no_order(db_url):
    next_double = math.nextafter(0.1 + 0.2, 1.0)
    same, reversed_order, one_ulp, null_text, empty_null, comma, none, empty_again = _digests(
        db_url,
        ROWS,
        list(reversed(ROWS)),
        [("a", next_double, "x"), *ROWS[1:]],
        [ROWS[0], ("b", None, None), ROWS[2]],
        [*ROWS[:2], ("c", 1.0, None)],
        [("a", 0.1 + 0.2, "x,"), *ROWS[1:]],
        [],
        [],
    )
    assert same == reversed_order  # key order, not storage order
    assert len({same, one_ulp, null_text, empty_null, comma, none}) == 6
    assert none == empty_again
    # no row: the salt and the hash of the empty text
    assert none == hashlib.sha256(SALT.encode() + b"\0" + hashlib.sha256(b"").hexdigest().encode()).hexdigest()
