"""family inputs: districtbench_family_inputs, the digest of what a metric family last computed from

Issue 15 item 3 (speed): the `peers` family's results are a function of this run's district
values alone, so a run that finds them as the last run that wrote the peer tables left them can
skip the work. One row per family that keeps such a digest: `fingerprint` is a digest of the
inputs the family read and of the row counts of the tables it wrote (module doc of
`metrics.fingerprints`), `recorded_at` when it was written. districtbench's own table, in its
own schema; nothing of the application's tables changes. The downgrade drops the table.

Revision ID: 0008_family_inputs
Revises: 0007_figure_sources
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import adoption
from districtbench.db.adoption import TableSpec

revision = "0008_family_inputs"
down_revision = "0007_figure_sources"
branch_labels = None
depends_on = None

TIMESTAMP = sa.dialects.postgresql.TIMESTAMP(precision=3)


def _family_inputs() -> TableSpec:
    return TableSpec(
        "districtbench_family_inputs",
        [
            sa.Column("family", sa.String(63), nullable=False),
            sa.Column("fingerprint", sa.String(200), nullable=False),
            sa.Column("recorded_at", TIMESTAMP, nullable=False),
        ],
        primary_key=("family",),
    )


def upgrade() -> None:
    adoption.create_bookkeeping()
    adoption.ensure_table(revision, _family_inputs())


def downgrade() -> None:
    adoption.undo(revision)
