"""The example plugins of examples/plugins (issue 16.8, metric half): each file under 60 lines,
importing only districtbench.plugin_api; loaded from DISTRICTBENCH_PLUGINS_DIR; the math–reading
gap family computes what a plain-Python calculation over the same real rows gives, on both
databases.

Real data: the Urban API's EDFacts assessments response for 2015, grade 8, page 1
(../shared/data/real/urban-api-samples), as `edfacts_assess` history rows.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import expected as ex
from tests.metrics_helpers import district, history, insert

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "plugins"
SAMPLE = ROOT.parent / "shared" / "data" / "real" / "urban-api-samples" / \
    "school-districts_edfacts_assessments_2015_grade-8_page-1.json"

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared/data/real is not available")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module or "")
    return modules


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_an_example_plugin_is_short_and_imports_only_the_plugin_api(path):
    assert len(path.read_text().splitlines()) < 60
    # the standard library, and of districtbench its public module only
    districtbench = {name for name in imported_modules(path) if name.split(".")[0] == "districtbench"}
    assert districtbench == {"districtbench.plugin_api"}
    assert imported_modules(path) - districtbench <= {"pathlib", "__future__", "json", "typing", "decimal"}


def test_the_gap_example_is_there():
    assert (EXAMPLES / "proficiency_gap.py").is_file()


def assessment_rows() -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """leaid → (math %, reading %) of all students, from the real response."""
    records = json.loads(SAMPLE.read_text())["results"]
    rows = {}
    for r in records:
        if any(r[k] != 99 for k in ("race", "sex", "lep", "disability", "econ_disadvantaged")):
            continue
        def pct(value):
            return Decimal(str(value)).quantize(Decimal("0.01")) if value is not None and value >= 0 else None
        rows[r["leaid"]] = (pct(r["math_test_pct_prof_midpt"]), pct(r["read_test_pct_prof_midpt"]))
    return rows


def test_the_gap_family_computes_math_minus_reading_from_a_plugins_folder(db_url, db_engine, db_kind, monkeypatch):
    rows = assessment_rows()
    assert len(rows) > 900
    insert(db_engine, [district(leaid, leaid[:2]) for leaid in rows],
           [history(leaid, 2015, "edfacts_assess", math_proficiency=m, read_proficiency=r) for leaid, (m, r) in rows.items()])
    monkeypatch.setenv("DISTRICTBENCH_PLUGINS_DIR", str(EXAMPLES))
    migrated = ex.cli(db_url, "migrate")
    assert migrated.exit_code == 0, migrated.output
    assert "Plugin proficiency_gap: migrated from nothing to proficiency_gap_0001" in " ".join(migrated.output.split())
    computed = ex.cli(db_url, "compute", "proficiency_gap")
    assert computed.exit_code == 0, computed.output
    assert "proficiency_gap" in computed.output

    expected = {leaid: m - r for leaid, (m, r) in rows.items() if m is not None and r is not None}
    table = sa.Table("districtbench_proficiency_gap", sa.MetaData(), autoload_with=db_engine,
                     schema="districtbench" if db_kind == "postgresql" else None)
    with db_engine.connect() as connection:
        stored = {leaid: (year, gap) for leaid, year, gap in connection.execute(sa.select(table))}
    assert {leaid: gap for leaid, (_, gap) in stored.items()} == expected
    assert {year for year, _ in stored.values()} == {2015}
    assert any(gap < 0 for gap in expected.values()) and any(gap > 0 for gap in expected.values())
