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

from districtbench.db import adoption
from districtbench.db.seed import upsert_states_statement

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


def upgrade() -> None:
    adoption.create_bookkeeping()
    adoption.add_missing_columns(revision, "districts", _district_columns())
    adoption.add_missing_columns(revision, "states", _state_columns())
    adoption.add_missing_columns(revision, "district_data_history", _history_columns())
    us_row_existed = not adoption.offline() and _has_us_row()
    op.execute(upsert_states_statement(op.get_context().dialect.name))
    if not us_row_existed:
        adoption.record(revision, "row", "states", "fips=00")


def downgrade() -> None:
    adoption.undo(revision)
