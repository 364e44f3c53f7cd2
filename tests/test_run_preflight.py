"""`run` checks once, before any request, that the role may write what the backfill and the
compute will write (the backfill does not check again). Both databases."""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import preflight
from tests import expected as ex


def test_one_run_does_the_preflight_check_once(db_url, db_kind, fake_api, monkeypatch):
    monkeypatch.setenv("DISTRICTBENCH_BACKOFF_BASE", "0.01")
    calls = []
    check = preflight.check

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return check(*args, **kwargs)

    monkeypatch.setattr(preflight, "check", recorded)
    privilege_queries = []  # PostgreSQL: each check asks for the role once, then its privileges

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.strip() == "SELECT current_user":
            privilege_queries.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        result = ex.cli(db_url, "run", "--years", "2018", "--states", "AK", api_url=fake_api.url)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    assert result.exit_code == 0, result.output
    assert calls == [{"backfill": True, "compute": True}]  # the backfill's write and the compute's in one
    assert len(privilege_queries) == (1 if db_kind == "postgresql" else 0)
