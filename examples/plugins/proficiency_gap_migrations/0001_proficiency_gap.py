"""proficiency gap: the example family's own table, in districtbench's own schema

Revision ID: proficiency_gap_0001
"""

import sqlalchemy as sa
from alembic import op

from districtbench.plugin_api import own_schema

revision = "proficiency_gap_0001"
down_revision = None
branch_labels = ("proficiency_gap",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "districtbench_proficiency_gap",
        sa.Column("leaid", sa.String(7), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("gap", sa.Numeric(6, 2), nullable=False),
        schema=own_schema(),
    )


def downgrade() -> None:
    op.drop_table("districtbench_proficiency_gap", schema=own_schema())
