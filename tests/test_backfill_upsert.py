"""Bulk upserts: one statement per batch, own columns only, types round-trip (SQLite + PG)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from districtbench.backfill import upsert as upsert_module
from districtbench.backfill.upsert import upsert
from districtbench.db import tables

NOW = datetime(2024, 5, 6, 7, 8, 9, 123000)
h, d = tables.district_data_history, tables.districts


def seed_districts(connection, n):
    rows = [
        {"leaid": f"48{i:05d}", "name": f"D{i}", "state_fips": "48", "created_at": NOW, "updated_at": NOW}
        for i in range(n)
    ]
    upsert(connection, d, rows, conflict=["leaid"], update=["name", "updated_at"])


def count_statements(engine):
    sent = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_one_statement_per_batch_and_only_own_columns(db_engine, monkeypatch):
    monkeypatch.setattr(upsert_module, "MAX_BATCH_ROWS", 400)
    monkeypatch.setattr(upsert_module, "ARRAY_MIN_ROWS", 10**9)  # the VALUES path on PostgreSQL too
    with db_engine.begin() as connection:
        seed_districts(connection, 1000)
    sent = count_statements(db_engine)
    enrollment = [
        {"leaid": f"48{i:05d}", "year": 2019, "source": "ccd_directory", "created_at": NOW, "enrollment": i, "teachers_fte": Decimal("10.25")}
        for i in range(1000)
    ]
    with db_engine.begin() as connection:
        assert upsert(connection, h, enrollment, conflict=["leaid", "year", "source"], update=["enrollment", "teachers_fte"]) == 3
    inserts = [s for s in sent if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 3 and all("ON CONFLICT" in s for s in inserts)
    ell = [{"leaid": f"48{i:05d}", "year": 2019, "source": "ccd_directory", "created_at": NOW, "ell_students": 2 * i} for i in range(0, 1000, 2)]
    with db_engine.begin() as connection:
        upsert(connection, h, ell, conflict=["leaid", "year", "source"], update=["ell_students"])
        enrollment[4]["enrollment"] = None
        upsert(connection, h, enrollment[:5], conflict=["leaid", "year", "source"], update=["enrollment"])
    with db_engine.connect() as connection:
        rows = connection.execute(
            sa.select(h.c.leaid, h.c.enrollment, h.c.teachers_fte, h.c.ell_students, h.c.created_at).order_by(h.c.leaid)
        ).all()
    assert len(rows) == 1000
    assert rows[3] == ("4800003", 3, Decimal("10.25"), None, NOW)
    assert rows[4] == ("4800004", None, Decimal("10.25"), 8, NOW)
    assert rows[999][1:4] == (999, Decimal("10.25"), None)


def test_where_limits_updates_and_is_per_row(db_engine):
    with db_engine.begin() as connection:
        seed_districts(connection, 3)
        rename = [{"leaid": f"48{i:05d}", "name": f"new {i}", "state_fips": "48", "created_at": NOW, "updated_at": NOW} for i in range(4)]
        upsert(connection, d, rename, conflict=["leaid"], update=["name"], where=d.c.leaid != "4800001")
    with db_engine.connect() as connection:
        names = connection.execute(sa.select(d.c.name).order_by(d.c.leaid)).scalars().all()
    assert names == ["new 0", "D1", "new 2", "new 3"]


def test_values_with_quotes_and_percent_signs(db_engine):
    with db_engine.begin() as connection:
        rows = [{"leaid": "4800001", "name": "O'Brien 100% ISD; --", "state_fips": "48", "created_at": NOW, "updated_at": NOW}]
        upsert(connection, d, rows * 1, conflict=["leaid"], update=["name"])
        upsert(connection, d, rows, conflict=["leaid"], update=[])  # do nothing
    with db_engine.connect() as connection:
        assert connection.execute(sa.select(d.c.name)).scalar() == "O'Brien 100% ISD; --"


@pytest.mark.parametrize("db_kind", ["postgresql"])  # unnest arrays are PostgreSQL's path
def test_postgresql_array_path_one_merge_statement(db_engine, db_kind):
    with db_engine.begin() as connection:
        seed_districts(connection, 500)
    sent = count_statements(db_engine)
    names = [{"leaid": f"48{i:05d}", "name": f"O'B\\r\tx\ny {i} 100%", "state_fips": "48", "created_at": NOW, "updated_at": NOW,
              "number_of_schools": None if i % 2 else i, "county_name": "Ñandú"} for i in range(500)]
    history = [{"leaid": f"48{i:05d}", "year": 2020, "source": "saipe", "created_at": NOW, "poverty_pct": Decimal("12.35")} for i in range(500)]
    with db_engine.begin() as connection:
        upsert(connection, d, names, conflict=["leaid"], update=["name", "number_of_schools", "county_name"], where=d.c.leaid != "4800007")
        upsert(connection, h, history, conflict=["leaid", "year", "source"], update=["poverty_pct"])
    merges = [s for s in sent if s.lstrip().upper().startswith("INSERT")]
    assert len(merges) == 2 and all("SELECT" in s and "ON CONFLICT" in s for s in merges)
    with db_engine.connect() as connection:
        got = connection.execute(sa.select(d.c.name, d.c.number_of_schools, d.c.county_name).order_by(d.c.leaid)).all()
        pct = connection.execute(sa.select(h.c.poverty_pct, h.c.created_at)).all()
    assert got[6] == (names[6]["name"], 6, "Ñandú") and got[7] == ("D7", None, None) and got[9][1] is None
    assert set(pct) == {(Decimal("12.35"), NOW)} and len(pct) == 500
