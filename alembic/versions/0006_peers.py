"""peers: districtbench_peer_groups, districtbench_peers, districtbench_peer_benchmarks

Issue 15: every district benchmarked against the 20 districts most like it. Three tables of
districtbench's own, in its own schema, rewritten whole by each run of the `peers` family:
the peer group of each eligible district (scope, locale group, the feature values used),
its peers (rank, peer, distance), and per district and metric the peer average, the
difference from it and the quartile flag among the district and its peers. Nothing of the
application's tables changes. The downgrade drops the three tables.

Revision ID: 0006_peers
Revises: 0005_history_extras
"""

from __future__ import annotations

import sqlalchemy as sa

from districtbench.db import adoption
from districtbench.db.adoption import TableSpec

revision = "0006_peers"
down_revision = "0005_history_extras"
branch_labels = None
depends_on = None


def _peer_groups() -> TableSpec:
    return TableSpec(
        "districtbench_peer_groups",
        [
            sa.Column("leaid", sa.String(7), nullable=False),
            sa.Column("scope", sa.String(10), nullable=False),
            sa.Column("locale_group", sa.Integer(), nullable=False),
            sa.Column("enrollment", sa.Integer(), nullable=False),
            sa.Column("children_poverty_percent", sa.Numeric(5, 2), nullable=False),
            sa.Column("ell_pct", sa.Numeric(5, 2), nullable=False),
            sa.Column("swd_pct", sa.Numeric(5, 2), nullable=False),
            sa.Column("peer_count", sa.Integer(), nullable=False),
        ],
        primary_key=("leaid",),
    )


def _peers() -> TableSpec:
    return TableSpec(
        "districtbench_peers",
        [
            sa.Column("leaid", sa.String(7), nullable=False),
            sa.Column("rank", sa.Integer(), nullable=False),
            sa.Column("peer_leaid", sa.String(7), nullable=False),
            sa.Column("distance", sa.Double(), nullable=False),
        ],
        primary_key=("leaid", "rank"),
    )


def _peer_benchmarks() -> TableSpec:
    return TableSpec(
        "districtbench_peer_benchmarks",
        [
            sa.Column("leaid", sa.String(7), nullable=False),
            sa.Column("metric", sa.String(30), nullable=False),
            sa.Column("peer_average", sa.Numeric(12, 2)),
            sa.Column("vs_peers", sa.Numeric(14, 2)),
            sa.Column("peer_quartile", sa.String(15)),
        ],
        primary_key=("leaid", "metric"),
    )


def upgrade() -> None:
    adoption.create_bookkeeping()
    for spec in (_peer_groups(), _peers(), _peer_benchmarks()):
        adoption.ensure_table(revision, spec)


def downgrade() -> None:
    adoption.undo(revision)
