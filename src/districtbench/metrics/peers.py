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

In numpy (speed, issue 15 item 3): the nearest neighbours (`peers_nearest`, an exact k-d
tree search), the peer sums, averages, differences and flags over per-district parts that SQL
computes (`peers_sums`, one read with the eligibility columns). The three tables
(`tables.PEER_TABLES`) end every run as a full rewrite would leave them, inside the compute
transaction; only the rows that differ are deleted and written, and counted (`peers_store`).
A run whose inputs, scope and method are those of the run that last wrote the tables, with
their row counts as it left them, has nothing to write and stops there (`fingerprints`;
`compute --recompute` computes anyway).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from districtbench.db import tables
from districtbench.errors import UsageError
from districtbench.metrics.base import FamilyOutcome, MetricFamily
from districtbench.metrics.context import RunContext
from districtbench.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    import numpy

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


# What the family reads besides the pooled sums' inputs (`peers_sums.read`)
ELIGIBILITY = ("state_fips", "urban_centric_locale", "enrollment", "children_poverty_percent", "ell_pct", "swd_pct")
# Part of the inputs' fingerprint (`fingerprints`): bump it when the method's results change
# for the same inputs, so the next run recomputes the tables instead of keeping them.
METHOD_VERSION = 1


@dataclass
class Eligible:
    rows: "numpy.ndarray"  # of the districts `peers_sums.read` returns, in leaid order
    leaids: list[str]
    states: list[str]
    groups: list[int]
    enrollment: list[int]
    poverty: list
    ell: list
    swd: list


_LOCALE_SET = frozenset(LOCALES)
@dataclass(frozen=True)
class Requirement:
    column: str  # on `districts`
    label: str  # short, in counts ("a locale: 1,266")
    text: str  # what a district must have, in a sentence


# What `lacking` checks, in its order
REQUIREMENTS = (
    Requirement("enrollment", "enrollment ≥ 1", "an enrollment of at least 1"),
    Requirement("urban_centric_locale", "a locale", "a known urban-centric locale (11–13, 21–23, 31–33, 41–43)"),
    Requirement("children_poverty_percent", "poverty %", "a children's poverty percentage (SAIPE)"),
    Requirement("ell_pct", "ELL %", "an English-learner percentage"),
    Requirement("swd_pct", "SWD %", "a special-education percentage"),
)


def lacking(enrollment, locale, poverty, ell, swd) -> list[Requirement]:
    """The `REQUIREMENTS` a district's values on `districts` miss (none: it is eligible)."""
    return [requirement for requirement, ok in zip(REQUIREMENTS, (
        enrollment is not None and enrollment >= 1, locale is not None and int(locale) in _LOCALE_SET,
        poverty is not None, ell is not None, swd is not None)) if not ok]


def eligible(columns: dict) -> Eligible:
    """The eligible districts among those read (`lacking`: nothing), with their values as
    stored."""
    import numpy as np

    rows = [
        i for i, values in enumerate(zip(*(columns[f"stored_{r.column}"] for r in REQUIREMENTS)))
        if not lacking(*values)
    ]
    index = np.array(rows, dtype=np.int64)

    def of(name: str) -> list:
        return columns[name if name == "leaid" else f"stored_{name}"][index].tolist()

    return Eligible(index, of("leaid"), of("state_fips"), [int(v) // 10 for v in of("urban_centric_locale")],
                    [int(v) for v in of("enrollment")], of("children_poverty_percent"), of("ell_pct"), of("swd_pct"))


def compute(ctx: RunContext) -> FamilyOutcome:
    # numpy only when peers are computed: `metrics`, `run --help` and the like load this module
    import numpy as np

    from districtbench import __version__
    from districtbench.metrics import averages, fingerprints, peers_nearest, peers_store, peers_sums

    scope = check_scope(ctx.options.get(SCOPE_OPTION))
    owned = (tables.peer_groups, tables.peers, tables.peer_benchmarks)
    inputs = averages.district_inputs(ctx, *ELIGIBILITY)
    digest = fingerprints.digest(ctx, inputs, inputs.c.leaid,
                                 salt=f"peers {METHOD_VERSION} {__version__} {scope} {PEER_COUNT}")
    if fingerprints.unchanged(ctx, FAMILY.name, digest, owned):
        return FamilyOutcome(rows_changed={table.name: 0 for table in owned}, inputs_unchanged=True)
    columns, sums = peers_sums.read(ctx, inputs, ELIGIBILITY)
    e = eligible(columns)
    changes = peers_store.Changes()
    if e.leaids:
        z = peers_nearest.z_scores([[math.log(v) for v in e.enrollment], [float(v) for v in e.poverty],
                                    [float(v) for v in e.ell], [float(v) for v in e.swd]])
        keys = list(zip(e.groups, e.states)) if scope == "state" else [(g,) for g in e.groups]
        peers, distances, counts = peers_nearest.peer_lists(z, keys, PEER_COUNT)
    else:
        peers, distances, counts = (np.empty((0, PEER_COUNT), np.int64), np.empty((0, PEER_COUNT)),
                                    np.empty(0, np.int64))
    group_rows = [
        (e.leaids[i], scope, e.groups[i], e.enrollment[i], e.poverty[i], e.ell[i], e.swd[i], int(counts[i]))
        for i in range(len(e.leaids))
    ]
    groups_changed = peers_store.write_groups(ctx, group_rows, changes)
    peers_store.write_peers(ctx, e.leaids, peers, distances, counts, groups_changed, changes)
    chosen = {key: values[e.rows] for key, values in columns.items()}
    marks = peers_sums.marks(chosen, sums, peers) if e.leaids else {}
    peers_store.write_benchmarks(ctx, e.leaids, marks, changes)
    left = {tables.peer_groups.name: len(e.leaids), tables.peers.name: int(counts.sum()),
            tables.peer_benchmarks.name: len(e.leaids) * len(marks)}
    fingerprints.record(ctx, FAMILY.name, fingerprints.with_counts(digest, left))
    return FamilyOutcome(districts_updated=len(changes.districts), rows_changed=changes.rows)


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
