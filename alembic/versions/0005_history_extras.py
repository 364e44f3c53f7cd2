"""history extras: districtbench_history_extras, the denominators of pooled averages and the grades

State and national averages are pooled over each measure's own denominator (issue 13.2): the
graduation cohort, the valid test takers, the CRDC absent and enrolled students of the schools
counted, current spending and the pupils it is for, SAIPE's children and poor children. The
app's history table has no place for them, so districtbench keeps them in a table of its own,
in its own schema, one row per history row with the same key (leaid, year, source), together
with the lowest and highest grade a CCD directory year says the district offers (the report's
header). Nothing of the application's tables changes. The downgrade drops the table.

Revision ID: 0005_history_extras
Revises: 0004_figure_years
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import adoption
from districtbench.db.adoption import TableSpec

revision = "0005_history_extras"
down_revision = "0004_figure_years"
branch_labels = None
depends_on = None

COUNTS = ("cohort", "math_takers", "read_takers", "absent_students", "crdc_enrollment")


def _history_extras() -> TableSpec:
    return TableSpec(
        "districtbench_history_extras",
        [
            sa.Column("leaid", sa.String(7), nullable=False),
            sa.Column("year", sa.Integer(), nullable=False),
            sa.Column("source", sa.String(30), nullable=False),
            *[sa.Column(name, sa.Integer()) for name in COUNTS],
            sa.Column("current_spending", sa.Numeric(15, 2)),
            sa.Column("pupils", sa.Integer()),
            sa.Column("children", sa.Integer()),
            sa.Column("poor_children", sa.Integer()),
            sa.Column("lowest_grade", sa.Integer()),
            sa.Column("highest_grade", sa.Integer()),
        ],
        primary_key=("leaid", "year", "source"),
    )


def upgrade() -> None:
    adoption.create_bookkeeping()
    adoption.ensure_table(revision, _history_extras())


def downgrade() -> None:
    adoption.undo(revision)
