"""Family `peers` (issue 15): each district's 20 nearest peers and its benchmarks against them.

The method (metrics.md, "Peer groups"):
* Eligible: enrollment ≥ 1, an urban-centric locale of 11–13, 21–23, 31–33 or 41–43, and
  non-NULL children_poverty_percent, ell_pct and swd_pct (this run's values on `districts`).
* Features: ln(enrollment), children_poverty_percent, ell_pct, swd_pct, each turned into a
  z-score over all eligible districts (whatever the scope): (x − mean) / SD with the
  population SD (mean and sum of squares added exactly, `math.fsum`; a feature with SD 0
  gets z = 0 everywhere).
* Peers: the 20 eligible districts with the smallest Euclidean distance on the four
  z-scores, within the district's locale group (City, Suburb, Town, Rural) and — with the
  `state` scope (`compute --peer-scope state`) — its state; itself excluded; equal
  distances ordered by leaid. A group with fewer than 21 districts gives each of them all
  the others. The distance is computed in double precision as
  sqrt(((d₁² + d₂²) + d₃²) + d₄²) of the z-score differences, in that order, so the same
  inputs give the same doubles (and the same ties) in any implementation that follows it.
* Per district and metric: the peer average, pooled exactly like the state average (the
  sums of `averages.stage_sums` grouped by peer group instead of by state), the district's
  value minus it, and its quartile flag among itself and its peers (`quartiles`: RANK() is
  1 + the number of smaller values, the group is NTILE(4)'s for that row; fewer than 4
  values: no flag).

The nearest-neighbour step runs in numpy (an exact brute force: a matrix product screens
candidates, the distances of the candidates are then computed exactly as above). The three
tables (`tables.PEER_TABLES`) are emptied and rewritten whole on every run, inside the
compute transaction; the peer sums and flags are set-based SQL over them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import sqlalchemy as sa

from districtbench.db import tables
from districtbench.db.engine import own_schema
from districtbench.errors import UsageError
from districtbench.metrics import averages
from districtbench.metrics.arith import column_scale, lit
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.metrics.definitions import METRICS
from districtbench.metrics.quantities import RESULT_SCALE
from districtbench.metrics.quartiles import FLAGS, MIN_DISTRICTS, ntile_group, rankable
from districtbench.plugins.hookspecs import hookimpl

PEER_COUNT = 20
SCOPES = ("national", "state")
DEFAULT_SCOPE = "national"
SCOPE_OPTION = "peer_scope"
LOCALE_GROUPS = {1: "City", 2: "Suburb", 3: "Town", 4: "Rural"}
LOCALES = tuple(10 * group + k for group in LOCALE_GROUPS for k in (1, 2, 3))
FEATURES = ("ln(enrollment)", "children_poverty_percent", "ell_pct", "swd_pct")


def check_scope(value: str | None) -> str:
    scope = (value or DEFAULT_SCOPE).strip().lower()
    if scope not in SCOPES:
        raise UsageError(
            f"Unknown peer scope {value!r}.",
            hint=f"Use --peer-scope {' or --peer-scope '.join(SCOPES)} (the default is {DEFAULT_SCOPE}).",
        )
    return scope


@dataclass
class Eligible:
    leaids: list[str]
    states: list[str]
    groups: list[int]
    enrollment: list[int]
    poverty: list
    ell: list
    swd: list


def _eligible(ctx: RunContext) -> Eligible:
    d = ctx.districts("enrollment", "children_poverty_percent", "ell_pct", "swd_pct", "urban_centric_locale")
    query = (
        sa.select(
            d.c.leaid, d.c.state_fips, d.c.urban_centric_locale, d.c.enrollment,
            d.c.children_poverty_percent, d.c.ell_pct, d.c.swd_pct,
        )
        .where(
            d.c.enrollment >= lit(1),
            d.c.urban_centric_locale.in_(LOCALES),
            d.c.children_poverty_percent.is_not(None),
            d.c.ell_pct.is_not(None),
            d.c.swd_pct.is_not(None),
        )
        .order_by(ctx.arith.binary(d.c.leaid))
    )
    rows = ctx.connection.execute(query).all()
    return Eligible(
        [r[0] for r in rows], [r[1] for r in rows], [int(r[2]) // 10 for r in rows], [int(r[3]) for r in rows],
        [r[4] for r in rows], [r[5] for r in rows], [r[6] for r in rows],
    )


def z_scores(columns: list[list[float]]):
    """(n, 4) array of z-scores (module doc)."""
    import numpy as np

    out = np.empty((len(columns[0]), len(columns)))
    for k, values in enumerate(columns):
        x = np.asarray(values, dtype=np.float64)
        n = len(values)
        mean = math.fsum(values) / n
        centred = x - mean
        sd = math.sqrt(math.fsum((centred * centred).tolist()) / n)
        out[:, k] = centred / sd if sd > 0 else 0.0
    return out


def nearest(z, k: int = PEER_COUNT, chunk_cells: int = 1 << 21):
    """Exact k nearest rows of each row of `z` (rows in leaid order) by the distance of the
    module doc, itself excluded, ties by row order: (indices (n, k'), distances (n, k')),
    k' = min(k, n − 1). A matrix product |a|² + |b|² − 2a·b screens candidates (within a
    tolerance far above its rounding error); the candidates' distances are then computed
    exactly and sorted by (distance, row)."""
    import numpy as np

    n, width = z.shape
    kk = min(k, n - 1)
    if kk <= 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0))
    sq = np.einsum("ij,ij->i", z, z)
    slack = 1e-8 * (1.0 + float(sq.max()))
    out_i = np.empty((n, kk), np.int64)
    out_d = np.empty((n, kk))
    step = max(1, chunk_cells // n)
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = z[start:stop]
        approx = block @ z.T
        approx *= -2.0
        approx += sq[start:stop, None]
        approx += sq[None, :]
        local = np.arange(stop - start)
        approx[local, local + start] = np.inf
        if kk < n - 1:
            limit = np.partition(approx, kk - 1, axis=1)[:, kk - 1] + slack
            rows, cols = np.nonzero(approx <= limit[:, None])
        else:
            rows, cols = np.nonzero(np.isfinite(approx))
        diff = block[rows] - z[cols]
        d2 = diff[:, 0] * diff[:, 0]
        for f in range(1, width):
            d2 = d2 + diff[:, f] * diff[:, f]
        distance = np.sqrt(d2)
        order = np.lexsort((cols, distance, rows))
        cols, distance = cols[order], distance[order]
        counts = np.bincount(rows, minlength=stop - start)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        take = first[:, None] + np.arange(kk)[None, :]
        out_i[start:stop] = cols[take]
        out_d[start:stop] = distance[take]
    return out_i, out_d


def peer_groups(e: Eligible, scope: str):
    """Per eligible district (index into `e`): its peers' indices and distances."""
    import numpy as np

    if not e.leaids:
        return [], []
    z = z_scores([[math.log(v) for v in e.enrollment], [float(v) for v in e.poverty],
                  [float(v) for v in e.ell], [float(v) for v in e.swd]])
    keys = list(zip(e.groups, e.states)) if scope == "state" else [(g,) for g in e.groups]
    members: dict[tuple, list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(key, []).append(index)
    peers: list = [None] * len(e.leaids)
    distances: list = [None] * len(e.leaids)
    for indices in members.values():
        index = np.asarray(indices)
        found, dist = nearest(z[index])
        for row, owner in enumerate(indices):
            peers[owner] = index[found[row]]
            distances[owner] = dist[row]
    return peers, distances


def _write_groups(ctx: RunContext, e: Eligible, scope: str, peers, distances) -> int:
    c = ctx.connection
    for table in (tables.peer_benchmarks, tables.peers, tables.peer_groups):
        c.execute(table.delete())
    if not e.leaids:
        return 0
    group_rows = [
        {"leaid": e.leaids[i], "scope": scope, "locale_group": e.groups[i], "enrollment": e.enrollment[i],
         "children_poverty_percent": e.poverty[i], "ell_pct": e.ell[i], "swd_pct": e.swd[i],
         "peer_count": len(peers[i])}
        for i in range(len(e.leaids))
    ]
    c.execute(tables.peer_groups.insert(), group_rows)
    leaids = e.leaids
    if ctx.arith.postgresql:
        buffer = io.StringIO()
        for i, owner in enumerate(leaids):
            for rank, (j, dist) in enumerate(zip(peers[i].tolist(), distances[i].tolist()), 1):
                buffer.write(f"{owner}\t{rank}\t{leaids[j]}\t{dist!r}\n")
        buffer.seek(0)
        schema = own_schema(c)
        name = tables.peers.name if schema is None else f'"{schema}".{tables.peers.name}'
        cursor = c.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(f"COPY {name} (leaid, rank, peer_leaid, distance) FROM STDIN", buffer)
        finally:
            cursor.close()
        # Planner statistics of the refilled tables (this transaction sees its own rows).
        for table in (tables.peers, tables.peer_groups):
            qualified = table.name if schema is None else f'"{schema}".{table.name}'
            c.exec_driver_sql(f"ANALYZE {qualified}")
    else:
        rows = [
            (owner, rank, leaids[j], dist)
            for i, owner in enumerate(leaids)
            for rank, (j, dist) in enumerate(zip(peers[i].tolist(), distances[i].tolist()), 1)
        ]
        c.exec_driver_sql(f"INSERT INTO {tables.peers.name} (leaid, rank, peer_leaid, distance) VALUES (?, ?, ?, ?)",
                          rows)
    return len(e.leaids)


def _benchmarks(ctx: RunContext) -> None:
    """Peer averages, differences and flags (module doc), set-based, into peer_benchmarks."""
    arith = ctx.arith
    g, p = tables.peer_groups, tables.peers
    rows = averages.district_inputs(ctx)
    # The rows of the eligible districts (owners and peers alike), read once.
    staged = ctx.stage_as(
        "peer_rows",
        sa.select(*rows.c).where(rows.c.leaid.in_(sa.select(g.c.leaid))),
        key=("leaid",),
    )
    # Peer sums: the averages' sums over each owner's peers (itself not included).
    members = sa.select(p.c.leaid.label("peer_owner"), *staged.c).select_from(
        p.join(staged, staged.c.leaid == p.c.peer_leaid)
    ).subquery("peer_members")
    sum_stage, sums = averages.stage_sums(ctx, "peer_sums", members, "peer_owner")
    averaged = averages.group_values(arith, sum_stage, sums)
    # Ranks among the owner and its peers: per metric the number of values and of smaller ones.
    circle = sa.union_all(
        sa.select(p.c.leaid.label("owner"), p.c.peer_leaid.label("member")),
        sa.select(g.c.leaid.label("owner"), g.c.leaid.label("member")),
    ).subquery("peer_circle")
    own, other = staged.alias("own_row"), staged.alias("member_row")
    counted = []
    for index, metric in enumerate(METRICS):
        scale = column_scale(tables.districts.c[metric.district_column])
        mine = arith.exact(rankable(own, metric.district_column), scale)
        theirs = arith.exact(rankable(other, metric.district_column), scale)
        counted.append(sa.func.count(theirs).label(f"values_{index}"))
        counted.append(sa.func.count(sa.case((theirs < mine, lit(1)), else_=sa.null())).label(f"smaller_{index}"))
    rank_stage = ctx.stage_as(
        "peer_ranks",
        sa.select(circle.c.owner, *counted)
        .select_from(circle.join(own, own.c.leaid == circle.c.owner).join(other, other.c.leaid == circle.c.member))
        .group_by(circle.c.owner),
        key=("owner",),
    )
    joined = (
        g.join(staged, staged.c.leaid == g.c.leaid)
        .join(rank_stage, rank_stage.c.owner == g.c.leaid)
        .outerjoin(sum_stage, sum_stage.c.group == g.c.leaid)
    )
    selects = []
    for index, metric in enumerate(METRICS):
        name = metric.average_column
        average = averaged[name]
        value = staged.c[metric.district_column]
        count = rank_stage.c[f"values_{index}"]
        has_flag = sa.and_(rankable(staged, metric.district_column).is_not(None), count >= lit(MIN_DISTRICTS))
        group = sa.case((has_flag, ntile_group(rank_stage.c[f"smaller_{index}"] + lit(1), count)), else_=sa.null())
        flag = sa.case({number: sa.literal(label) for number, label in FLAGS.items()}, value=group, else_=sa.null())
        selects.append(
            sa.select(
                g.c.leaid,
                sa.literal(metric.key, sa.String(30)),
                average,
                arith.difference(value, average, RESULT_SCALE),
                flag,
            ).select_from(joined)
        )
    columns = ["leaid", "metric", "peer_average", "vs_peers", "peer_quartile"]
    ctx.connection.execute(tables.peer_benchmarks.insert().from_select(columns, sa.union_all(*selects)))


def compute(ctx: RunContext) -> FamilyOutcome:
    scope = check_scope(ctx.options.get(SCOPE_OPTION))
    eligible = _eligible(ctx)
    peers, distances = peer_groups(eligible, scope)
    written = _write_groups(ctx, eligible, scope, peers, distances)
    if written:
        _benchmarks(ctx)
    return FamilyOutcome()


FAMILY = MetricFamily(
    name="peers",
    runs_after=("averages",),
    columns=tuple(
        f"{table.name}.{column.name}"
        for table in (tables.peer_groups, tables.peers, tables.peer_benchmarks)
        for column in table.c
    ),
    description="Each district's 20 nearest peers (size, poverty, English learners, special education; "
    "same locale group) and its benchmarks against them.",
    compute=compute,
)


@hookimpl
def register_metric_families(register) -> None:
    register(FAMILY)
