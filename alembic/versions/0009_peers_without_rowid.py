"""peers without rowid: on SQLite, the three peer tables keyed by their primary key alone

Issue 15 item 3 (speed): a run that computes rewrites nearly all ~360,000 rows of
districtbench_peers (and many of districtbench_peer_benchmarks) and reads them back in key
order. A SQLite table with a rowid keeps two b-trees for them — the rows by rowid and the
primary key's index — so every insert writes both and a read in key order looks each row up
through the index; a WITHOUT ROWID table is one b-tree in primary-key order (19,000 districts:
inserting the peers rows 0.77 s instead of 1.26 s, reading them back ~20 % faster). The
upgrade rebuilds the three tables that way, keeping their rows (Alembic's batch mode: a new
table, the rows copied, the old one dropped, the new one renamed); the downgrade rebuilds them
with a rowid. PostgreSQL has no rowid: nothing changes there. Nothing of the application's
tables changes.

Revision ID: 0009_peers_without_rowid
Revises: 0008_family_inputs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_peers_without_rowid"
down_revision = "0008_family_inputs"
branch_labels = None
depends_on = None


def _as_created() -> list[sa.Table]:
    """The three tables as revision 0006 creates them: what an offline script (`--sql`,
    no database to read them from) rebuilds."""
    metadata = sa.MetaData()
    return [
        sa.Table("districtbench_peer_groups", metadata,
                 sa.Column("leaid", sa.String(7), primary_key=True),
                 sa.Column("scope", sa.String(10), nullable=False),
                 sa.Column("locale_group", sa.Integer(), nullable=False),
                 sa.Column("enrollment", sa.Integer(), nullable=False),
                 *[sa.Column(name, sa.Numeric(5, 2), nullable=False)
                   for name in ("children_poverty_percent", "ell_pct", "swd_pct")],
                 sa.Column("peer_count", sa.Integer(), nullable=False)),
        sa.Table("districtbench_peers", metadata,
                 sa.Column("leaid", sa.String(7), primary_key=True),
                 sa.Column("rank", sa.Integer(), primary_key=True, autoincrement=False),
                 sa.Column("peer_leaid", sa.String(7), nullable=False),
                 sa.Column("distance", sa.Double(), nullable=False)),
        sa.Table("districtbench_peer_benchmarks", metadata,
                 sa.Column("leaid", sa.String(7), primary_key=True),
                 sa.Column("metric", sa.String(30), primary_key=True),
                 sa.Column("peer_average", sa.Numeric(12, 2)),
                 sa.Column("vs_peers", sa.Numeric(14, 2)),
                 sa.Column("peer_quartile", sa.String(15))),
    ]


def _rebuild(with_rowid: bool) -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    offline = op.get_context().as_sql
    for table in _as_created():
        # online, the table as it is (read by Alembic), extra columns and all
        with op.batch_alter_table(table.name, recreate="always", copy_from=table if offline else None,
                                  table_kwargs={"sqlite_with_rowid": with_rowid}):
            pass


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
