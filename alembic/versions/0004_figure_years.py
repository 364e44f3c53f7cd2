"""figure years: districtbench_figure_years, the as-of year of each computed figure per state

The year of a district's figure is no longer one per source: each measure has its own as-of
year in each state (a CCD directory year with enrollment but no English-learner counts moves
the enrollment's year only). This bookkeeping table of districtbench's own, in its own schema,
holds them: one row per (state, figure), where the figure is the `districts` column it is
stored in, with the base year of the 3-year trend for trend columns. Nothing of the
application's tables changes. The downgrade drops the table.

Revision ID: 0004_figure_years
Revises: 0003_own_schema
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import adoption
from districtbench.db.adoption import TableSpec

revision = "0004_figure_years"
down_revision = "0003_own_schema"
branch_labels = None
depends_on = None


def _figure_years() -> TableSpec:
    return TableSpec(
        "districtbench_figure_years",
        [
            sa.Column("state_fips", sa.String(2), nullable=False),
            sa.Column("figure", sa.String(63), nullable=False),
            sa.Column("year", sa.Integer(), nullable=False),
            sa.Column("base_year", sa.Integer()),
        ],
        primary_key=("state_fips", "figure"),
    )


def upgrade() -> None:
    adoption.create_bookkeeping()
    adoption.ensure_table(revision, _figure_years())


def downgrade() -> None:
    adoption.undo(revision)
