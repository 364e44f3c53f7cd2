"""run_families: dependency order, one transaction (all or nothing), a log row per family."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from districtbench.db import tables
from districtbench.errors import PluginError, UsageError
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.runner import dependency_order, plan_families, resolve_families, run_families
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import Registry
from tests.metrics_helpers import directory, district, insert, read_districts, read_logs, read_states, registry, run

FAMILIES = ["latest", "ratios", "averages", "trends", "deltas", "peers"]


def _registry(*families: MetricFamily) -> Registry:
    reg = Registry("metric family")
    for family in families:
        reg.add(family, "test")
    return reg


def test_built_in_families_run_in_dependency_order():
    assert [f.name for f in dependency_order(registry())] == FAMILIES
    assert [f.name for f in resolve_families(registry(), ["deltas", "latest"])] == [
        "latest", "ratios", "averages", "deltas",
    ]
    assert [f.name for f in resolve_families(registry(), ["trends", "ratios"])] == ["latest", "ratios", "trends"]
    assert [f.name for f in resolve_families(registry(), ["all"])] == FAMILIES
    assert [f.name for f in resolve_families(registry(), None)] == FAMILIES


def test_named_families_bring_every_family_they_run_after():
    def added(names):
        return plan_families(registry(), names).added

    assert added(["deltas"]) == ["latest", "ratios", "averages"]
    assert added(["deltas", "latest"]) == ["ratios", "averages"]
    assert added(["latest"]) == []
    assert added(["all"]) == added(None) == []


def test_order_is_a_topological_sort_of_runs_after():
    reg = _registry(
        MetricFamily("c", ("b",), ()), MetricFamily("a", (), ()), MetricFamily("b", ("a", "not-installed"), ())
    )
    assert [f.name for f in dependency_order(reg)] == ["a", "b", "c"]
    assert [f.name for f in resolve_families(reg, ["c"])] == ["a", "b", "c"]  # c runs after b, b after a
    assert [f.name for f in resolve_families(reg, ["b"])] == ["a", "b"]  # "not-installed" is no constraint
    assert [f.name for f in resolve_families(reg, ["a"])] == ["a"]
    cyclic = _registry(MetricFamily("x", ("y",), ()), MetricFamily("y", ("x",), ()))
    with pytest.raises(PluginError, match="cycle"):
        dependency_order(cyclic)


def test_unknown_family_is_a_usage_error_listing_the_available_ones():
    with pytest.raises(UsageError) as info:
        resolve_families(registry(), ["latest", "trend"])
    assert info.value.exit_code == 2
    assert "trend" in str(info.value) and "latest, ratios, averages, trends, deltas" in str(info.value)


class FailingFamilies:
    """`boom` writes to districts and then fails; `after_boom` runs after it."""

    @staticmethod
    def _boom(ctx) -> FamilyOutcome:
        ctx.connection.execute(sa.update(tables.districts).values(name="overwritten"))
        raise RuntimeError("boom: something broke")

    @hookimpl
    def register_metric_families(self, register):
        register(MetricFamily("boom", ("latest",), ("districts.name",), compute=self._boom))
        register(MetricFamily("after_boom", ("boom",), (), compute=lambda ctx: FamilyOutcome()))


def test_a_failure_rolls_everything_back_and_is_logged(db_engine):
    insert(db_engine, [district("0600001")], [directory("0600001", 2021, enrollment=100)])
    reg = registry(extra_plugins=[FailingFamilies()])
    result = run_families(db_engine, reg, ["latest", "boom", "after_boom"])

    assert not result.ok and result.failed_family == "boom" and "something broke" in result.error
    row = read_districts(db_engine)["0600001"]
    assert row["enrollment"] is None and row["name"] == "District 0600001"  # nothing kept
    logs = {log["data_source"]: log for log in read_logs(db_engine)}
    assert set(logs) == {"compute:latest", "compute:boom", "compute:after_boom"}
    assert all(log["status"] == "failed" and log["records_updated"] == 0 for log in logs.values())
    assert "rolled back" in logs["compute:latest"]["error_message"]
    assert "something broke" in logs["compute:boom"]["error_message"]
    assert "not run" in logs["compute:after_boom"]["error_message"]
    assert all(log["started_at"] and log["completed_at"] >= log["started_at"] for log in logs.values())
    assert [f.status for f in result.families] == ["rolled back", "failed", "not run"]

    run(db_engine, "latest")  # the temporary tables of the failed run are no obstacle
    assert read_districts(db_engine)["0600001"]["enrollment"] == 100


def test_each_family_logs_what_it_did(db_engine):
    insert(
        db_engine,
        [district("0600001"), district("0600002")],
        [directory("0600001", 2021, enrollment=10, spec_ed=11), directory("0600002", 2021, enrollment=10, spec_ed=1)],
    )
    result = run(db_engine, "all")
    logs = read_logs(db_engine)
    assert [log["data_source"] for log in logs] == [f"compute:{name}" for name in FAMILIES]
    by_name = {log["data_source"].split(":")[1]: log for log in logs}
    assert by_name["latest"]["records_updated"] == 2
    assert by_name["ratios"]["records_failed"] == 1  # 110 % special education
    assert by_name["averages"]["records_updated"] == 57  # every state row, first computation
    assert all(log["status"] == "success" and log["error_message"] is None for log in logs)
    for log, family in zip(logs, result.families):
        assert log["started_at"] == family.started_at and log["completed_at"] == family.completed_at
        assert log["started_at"] <= log["completed_at"]


def test_touched_rows_get_the_run_time_and_untouched_rows_keep_theirs(db_engine):
    insert(db_engine, [district("0600001"), district("0600002")], [directory("0600001", 2021, enrollment=10)])
    now = datetime(2025, 1, 2, 3, 4, 5, 678000)
    assert run_families(db_engine, registry(), ["latest", "averages"], now=now).ok
    rows, states = read_districts(db_engine), read_states(db_engine)
    assert rows["0600001"]["updated_at"] == now
    assert rows["0600002"]["updated_at"] == rows["0600002"]["created_at"]  # nothing changed: untouched
    assert states["06"]["updated_at"] == states["06"]["aggregates_updated_at"] == now


def test_each_family_counts_the_districts_where_its_own_values_changed(db_engine):
    """District writes of all families land in one UPDATE at the end of the run; the counts
    per family still say whose values changed. One teacher count changes: `latest` and
    `ratios` change that district only, the CA and US averages move (2 state rows), so every
    district's difference to them changes; one year only, so no trend changes."""
    leaids = ["0600001", "0600002", "0600003", "0600004"]
    insert(
        db_engine,
        [district(leaid) for leaid in leaids],
        [directory(leaid, 2021, enrollment=1000 + 100 * i, teachers=50 + i) for i, leaid in enumerate(leaids)],
    )
    run(db_engine, "all")
    with db_engine.begin() as connection:
        connection.execute(
            sa.update(tables.district_data_history)
            .where(tables.district_data_history.c.leaid == "0600001")
            .values(teachers_fte=Decimal("25.00"))
        )

    result = run(db_engine, "all")

    counts = {f.name: (f.outcome.districts_updated, f.outcome.states_updated) for f in result.families}
    assert counts == {"latest": (1, 0), "ratios": (1, 0), "averages": (0, 2), "trends": (0, 0), "deltas": (4, 0),
                      "peers": (0, 0)}
    row = read_districts(db_engine)["0600001"]
    assert row["teachers_fte"] == Decimal("25.00") and row["student_teacher_ratio"] == Decimal("40.00")  # 1000 / 25
    again = run(db_engine, "all")
    assert [f.outcome.districts_updated + f.outcome.states_updated for f in again.families] == [0] * 6
