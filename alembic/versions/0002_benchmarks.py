"""benchmarks: the 43 benchmark columns and the states reference rows

Adds 34 columns to districts, 7 to states and 2 to district_data_history, each only if
absent, and upserts the 56 state/territory rows plus the national row ('00', 'US',
'United States'). The downgrade drops the columns this revision added (all 43 on a database
it created) and the US row if it inserted it; the other reference rows stay, since districts
may refer to them.

Revision ID: 0002_benchmarks
Revises: 0001_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from districtbench.db import adoption, layout
from districtbench.db.seed import REFERENCE_ROWS, upsert_states_statement
from districtbench.errors import NotMigratedError

revision = "0002_benchmarks"
down_revision = "0001_base"
branch_labels = None
depends_on = None

METRIC_KEYS = (
    "absenteeism",
    "graduation",
    "student_teacher_ratio",
    "swd_pct",
    "ell_pct",
    "math_proficiency",
    "read_proficiency",
    "expenditure_pp",
)
TRENDS = ("swd", "ell", "absenteeism", "graduation", "student_teacher_ratio",
          "math_proficiency", "read_proficiency", "expenditure_pp")


def _district_columns() -> list[sa.Column]:
    columns = [sa.Column(name, sa.Numeric(5, 2)) for name in ("swd_pct", "ell_pct")]
    columns += [sa.Column(f"{key}_trend_3yr", sa.Numeric(8, 2)) for key in TRENDS]
    columns += [sa.Column(f"{key}_vs_state", sa.Numeric(8, 2)) for key in METRIC_KEYS]
    columns += [sa.Column(f"{key}_vs_national", sa.Numeric(8, 2)) for key in METRIC_KEYS]
    columns += [sa.Column(f"{key}_quartile_state", sa.String(15)) for key in METRIC_KEYS]
    return columns


def _state_columns() -> list[sa.Column]:
    return [
        sa.Column("avg_chronic_absenteeism_rate", sa.Numeric(5, 2)),
        sa.Column("avg_student_teacher_ratio", sa.Numeric(8, 2)),
        sa.Column("avg_swd_pct", sa.Numeric(5, 2)),
        sa.Column("avg_ell_pct", sa.Numeric(5, 2)),
        sa.Column("avg_enrollment", sa.Integer()),
        sa.Column("avg_math_proficiency", sa.Numeric(5, 2)),
        sa.Column("avg_read_proficiency", sa.Numeric(5, 2)),
    ]


def _history_columns() -> list[sa.Column]:
    return [
        sa.Column("ell_students", sa.Integer()),
        sa.Column("chronic_absenteeism_rate", sa.Numeric(5, 2)),
    ]


def _has_us_row() -> bool:
    query = sa.text("SELECT 1 FROM states WHERE fips = '00'")
    return op.get_bind().execute(query).first() is not None


SEEDED = ("fips", "abbrev", "name", "total_districts", "created_at", "updated_at")


def _states_refusing_new_rows() -> list[str]:
    """The app's NOT NULL columns of `states` without a default, which the seed cannot fill."""
    present = layout.physical_columns(op.get_bind(), ["states"]).get("states", {})
    return [c.name for c in present.values() if not c.nullable and not c.has_default and c.name not in SEEDED]


def _seed() -> None:
    if adoption.offline():
        op.execute(upsert_states_statement(op.get_context().dialect.name))
        return
    refusing = _states_refusing_new_rows()
    existing = set(op.get_bind().execute(sa.text("SELECT fips FROM states")).scalars())
    missing = [row for row in REFERENCE_ROWS if row[0] not in existing]
    if refusing and missing:
        listed = ", ".join(refusing)
        raise NotMigratedError(
            f"states: the app's column(s) {listed} are NOT NULL without a default, so districtbench cannot "
            f"add the {len(missing)} missing state reference rows (e.g. {missing[0][0]} {missing[0][2]}; "
            "the US row '00' carries the national averages).",
            hint="Allow NULL or give them a default ("
            + " ".join(f"ALTER TABLE states ALTER COLUMN {c} DROP NOT NULL;" for c in refusing)
            + "), or insert those rows yourself; then run `districtbench migrate` again.",
        )
    if refusing:
        return  # every row is there; PostgreSQL would check the column even on the upsert's updates
    op.execute(upsert_states_statement(op.get_context().dialect.name))


def upgrade() -> None:
    adoption.create_bookkeeping()
    adoption.add_missing_columns(revision, "districts", _district_columns())
    adoption.add_missing_columns(revision, "states", _state_columns())
    adoption.add_missing_columns(revision, "district_data_history", _history_columns())
    us_row_existed = not adoption.offline() and _has_us_row()
    _seed()
    if not us_row_existed:
        adoption.record(revision, "row", "states", "fips=00")


def downgrade() -> None:
    adoption.undo(revision)
