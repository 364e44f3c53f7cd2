"""figure sources: districtbench_figure_years records the history source of each figure's years

Issue 16.1: a source declares the measures it provides, and a state portal may fill the years
the federal data lacks, so the source of a figure is no longer fixed per figure: it is the
source of the rows of its as-of year in the state (and of its trend's base year). Two nullable
columns of districtbench's own table, `source` and `base_source`; the rows already there get
the sources that computed them until now (each figure had one), and the next `compute`
records its own. Nothing of the application's tables changes. The downgrade drops the two columns.

Revision ID: 0007_figure_sources
Revises: 0006_peers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from districtbench.db import adoption

revision = "0007_figure_sources"
down_revision = "0006_peers"
branch_labels = None
depends_on = None


from alembic import op

TABLE = "districtbench_figure_years"
# The source of each figure before this revision (one per figure).
SOURCE_OF_FIGURE = {
    "ccd_directory": (
        "enrollment", "teachers_fte", "staff_total_fte", "spec_ed_students", "ell_students", "swd_pct", "ell_pct",
        "student_teacher_ratio", "enrollment_trend_3yr", "staffing_trend_3yr", "swd_trend_3yr", "ell_trend_3yr",
        "student_teacher_ratio_trend_3yr",
    ),
    "ccd_finance": ("total_expenditure", "expenditure_per_pupil", "expenditure_pp_trend_3yr"),
    "saipe": ("children_poverty_percent",),
    "edfacts_grad": ("graduation_rate_total", "graduation_trend_3yr"),
    "edfacts_assess": ("math_proficiency_pct", "read_proficiency_pct", "math_proficiency_trend_3yr",
                       "read_proficiency_trend_3yr"),
    "crdc_absenteeism": ("chronic_absenteeism_rate", "absenteeism_trend_3yr"),
}


def upgrade() -> None:
    adoption.add_missing_columns(
        revision, TABLE, [sa.Column("source", sa.String(30)), sa.Column("base_source", sa.String(30))]
    )
    t = sa.table(TABLE, sa.column("figure", sa.String), sa.column("base_year", sa.Integer),
                 sa.column("source", sa.String), sa.column("base_source", sa.String), schema=adoption.schema_of(TABLE))
    for source, figures in SOURCE_OF_FIGURE.items():
        op.execute(t.update().where(t.c.figure.in_(figures), t.c.source.is_(None)).values(source=source))
        op.execute(
            t.update()
            .where(t.c.figure.in_(figures), t.c.base_year.is_not(None), t.c.base_source.is_(None))
            .values(base_source=source)
        )


def downgrade() -> None:
    adoption.undo(revision)
