"""Everything `districtbench show LEAID` says about one district, read in a few queries."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout
from districtbench.db.states import NATIONAL_FIPS
from districtbench.errors import UsageError
from districtbench.db import tables
from districtbench.formatting import grades_label, locale_name, school_year
from districtbench.metrics.definitions import METRICS, Metric
from districtbench.metrics.measures import Measures
from districtbench.reporting.provenance import figure_source, figure_years, trend_years
from districtbench.reporting.series import district_series


# What each metric is called in front of a person (`show`, `report`).
METRIC_LABELS = {
    "absenteeism": "Chronic absenteeism %",
    "graduation": "Graduation rate %",
    "student_teacher_ratio": "Students per teacher",
    "swd_pct": "Special education %",
    "ell_pct": "English learners %",
    "math_proficiency": "Math proficient %",
    "read_proficiency": "Reading proficient %",
    "expenditure_pp": "Spending per pupil $",
}

# How a quartile flag reads for a metric of each direction.
FLAG_TEXT = {
    "well_above": "well above most districts in the state",
    "above": "above the state's middle",
    "below": "below the state's middle",
    "well_below": "well below most districts in the state",
}


@dataclass
class MetricView:
    key: str
    units: str
    higher_is_better: bool | None
    value: Decimal | None
    data_year: int | None
    state_average: Decimal | None
    national_average: Decimal | None
    vs_state: Decimal | None
    vs_national: Decimal | None
    quartile_state: str | None
    reading: str | None  # "good", "concern" or None (no direction / no flag)
    trend_3yr: Decimal | None
    trend_kind: str
    trend_years: tuple[int, int] | None
    source: str | None = None  # who publishes the figure (reporting.provenance)
    source_short: str | None = None
    history: dict[int, Decimal] = field(default_factory=dict)  # year → the district's value
    # The average of the district's peer group: filled once peer groups exist (family
    # `peers`); every display shows a peer column only when some metric has one.
    peer_average: Decimal | None = None

    @property
    def school_year(self) -> str | None:
        return school_year(self.data_year) if self.data_year is not None else None


@dataclass
class DistrictView:
    leaid: str
    name: str
    state_abbrev: str | None
    state_name: str | None
    city: str | None
    county: str | None
    enrollment: int | None
    state_fips: str | None = None
    locale_code: int | None = None
    number_of_schools: int | None = None
    directory_year: int | None = None  # the school year of the roster and enrollment
    lowest_grade: int | None = None  # CCD codes, of the latest directory year that has them
    highest_grade: int | None = None
    metrics: list[MetricView] = field(default_factory=list)

    @property
    def locale(self) -> str | None:
        return locale_name(self.locale_code)

    @property
    def grades(self) -> str | None:
        """"Grades PK–12" (None: no directory year gave them)."""
        return grades_label(self.lowest_grade, self.highest_grade)

    @property
    def has_peers(self) -> bool:
        return any(metric.peer_average is not None for metric in self.metrics)

    def to_json(self) -> dict:
        def encode(value):
            if isinstance(value, Decimal):
                return float(value)
            if isinstance(value, tuple):
                return list(value)
            return value

        data = asdict(self)
        data["locale"] = self.locale
        data["grades"] = self.grades
        data["school_year"] = school_year(self.directory_year) if self.directory_year else None
        metrics = []
        for metric, raw in zip(self.metrics, data["metrics"]):
            history = raw.pop("history")
            encoded = {key: encode(value) for key, value in raw.items()}
            encoded["school_year"] = metric.school_year
            encoded["history"] = [[year, float(number)] for year, number in sorted(history.items())]
            metrics.append(encoded)
        data["metrics"] = metrics
        return data


def normalize_leaid(text: str) -> str | None:
    text = text.strip()
    return text.zfill(7) if text.isdigit() and len(text) <= 7 else None


def reading(metric: Metric, flag: str | None) -> str | None:
    """Whether a flag is good news: `well_above` absenteeism is a concern, not a strength."""
    if flag is None or metric.higher_is_better is None:
        return None
    high = flag in ("well_above", "above")
    return "good" if high == metric.higher_is_better else "concern"


def find_district(connection: Connection, query: str) -> str:
    """The leaid of the district asked for, or a UsageError with close matches.

    `query` is a leaid (leading zeros optional) or part of a district's name: a name that
    matches exactly one district (or exactly one district by its full name) selects it.
    """
    districts = layout.of(connection).districts
    if connection.execute(sa.select(districts.c.leaid).limit(1)).first() is None:
        raise UsageError(
            "No data yet — run `districtbench run` first.",
            hint="For example `districtbench run --years 2019-2022 --states TX`, or `districtbench demo` for the shipped data.",
        )
    leaid = normalize_leaid(query)
    if leaid and connection.execute(sa.select(districts.c.leaid).where(districts.c.leaid == leaid)).first():
        return leaid
    several = False
    if not leaid and query.strip():
        matches = _name_matches(connection, query.strip().lower())
        if len(matches) == 1:
            return matches[0]
        several = bool(matches)
    suggestions = _close_matches(connection, query, leaid)
    hint = "Close matches: " + "; ".join(suggestions) if suggestions else (
        "Check the NCES LEAID (7 digits, e.g. 0622710), or run `districtbench export` to list districts."
    )
    if several:
        raise UsageError(f"Several districts match {query!r}: name one by its leaid.", hint=hint)
    what = f"leaid {leaid}" if leaid else f"district {query!r}"
    raise UsageError(f"No {what} in the database.", hint=hint)


def example_district(connection: Connection, state_fips, preferred: str | None = None) -> str | None:
    """A district to suggest in "Next:" lines: `preferred` when it is loaded, else the one
    with the largest enrollment among `state_fips`."""
    districts = layout.of(connection).districts
    if preferred and connection.execute(sa.select(districts.c.leaid).where(districts.c.leaid == preferred)).first():
        return preferred
    return connection.execute(
        sa.select(districts.c.leaid)
        .where(districts.c.state_fips.in_(list(state_fips)), districts.c.enrollment.is_not(None))
        .order_by(districts.c.enrollment.desc(), districts.c.leaid)
        .limit(1)
    ).scalar()


def example_peer_district(connection: Connection, state_fips, preferred: str | None) -> str | None:
    """A district to suggest `show LEAID --peers` for: `preferred` when it has a peer group,
    else the one with the largest enrollment among those of `state_fips` that have one."""
    g = tables.peer_groups
    districts = layout.of(connection).districts
    if preferred and connection.execute(sa.select(g.c.leaid).where(g.c.leaid == preferred)).first():
        return preferred
    return connection.execute(
        sa.select(g.c.leaid)
        .select_from(g.join(districts, districts.c.leaid == g.c.leaid))
        .where(districts.c.state_fips.in_(list(state_fips)))
        .order_by(g.c.enrollment.desc(), g.c.leaid)
        .limit(1)
    ).scalar()


def _name_matches(connection: Connection, words: str) -> list[str]:
    """Leaids (at most 2) of the districts named `words` (case-insensitive), else of those
    whose name contains it: one leaid means the query names a single district."""
    districts = layout.of(connection).districts
    lowered = sa.func.lower(districts.c.name)
    leaids: list[str] = []
    for condition in (lowered == words, lowered.contains(words, autoescape=True)):
        leaids = connection.execute(sa.select(districts.c.leaid).where(condition).limit(2)).scalars().all()
        if len(leaids) == 1:
            return leaids
    return leaids


def _close_matches(connection: Connection, query: str, leaid: str | None) -> list[str]:
    districts = layout.of(connection).districts
    label = lambda row: f"{row.leaid} {row.name} ({row.state_abbrev or row.state_fips})"  # noqa: E731
    columns = (districts.c.leaid, districts.c.name, districts.c.state_abbrev, districts.c.state_fips)
    if leaid:
        rows = connection.execute(
            sa.select(*columns).where(districts.c.leaid.like(leaid[:5] + "%")).order_by(districts.c.leaid).limit(5)
        ).all()
        return [label(row) for row in rows]
    words = query.strip().lower()
    rows = connection.execute(
        sa.select(*columns).where(sa.func.lower(districts.c.name).contains(words, autoescape=True)).order_by(districts.c.name).limit(8)
    ).all()
    if rows:
        return [label(row) for row in rows]
    names = connection.execute(sa.select(*columns)).all()
    close = difflib.get_close_matches(words, [row.name.lower() for row in names], n=5, cutoff=0.75)
    return [label(row) for row in names if row.name.lower() in close][:5]


def district_grades(connection: Connection, leaid: str) -> tuple[int | None, int | None]:
    """(lowest, highest) grade offered in the district's latest CCD directory year that says
    (districtbench_history_extras; (None, None) when none does)."""
    x = tables.history_extras
    row = connection.execute(
        sa.select(x.c.lowest_grade, x.c.highest_grade)
        .where(x.c.leaid == leaid, x.c.source == "ccd_directory",
               sa.or_(x.c.lowest_grade.is_not(None), x.c.highest_grade.is_not(None)))
        .order_by(x.c.year.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def district_peer_averages(connection: Connection, leaid: str) -> dict[str, Decimal]:
    """metric key -> the average of the district's peer group (family `peers`;
    districtbench_peer_benchmarks), for the metrics whose peer average is a value."""
    b = tables.peer_benchmarks
    rows = connection.execute(
        sa.select(b.c.metric, b.c.peer_average).where(b.c.leaid == leaid, b.c.peer_average.is_not(None))
    ).all()
    return {metric: Decimal(str(average)) for metric, average in rows}


@dataclass
class PeerView:
    """One peer of a district (family `peers`): why it is a peer — its distance and the four
    feature values the distance was computed from."""

    rank: int
    leaid: str
    name: str | None
    state_abbrev: str | None
    distance: float
    enrollment: int
    children_poverty_percent: Decimal
    ell_pct: Decimal
    swd_pct: Decimal


def district_peers(connection: Connection, leaid: str) -> tuple[dict | None, list[PeerView]]:
    """The district's own peer-group row (scope, locale group, its feature values; None when it
    has no peer group) and its peers nearest first."""
    g, p = tables.peer_groups, tables.peers
    d = layout.of(connection).districts
    own = connection.execute(sa.select(g).where(g.c.leaid == leaid)).mappings().first()
    if own is None:
        return None, []
    rows = connection.execute(
        sa.select(p.c.rank, p.c.peer_leaid, d.c.name, d.c.state_abbrev, p.c.distance, g.c.enrollment,
                  g.c.children_poverty_percent, g.c.ell_pct, g.c.swd_pct)
        .select_from(p.join(g, g.c.leaid == p.c.peer_leaid).outerjoin(d, d.c.leaid == p.c.peer_leaid))
        .where(p.c.leaid == leaid)
        .order_by(p.c.rank)
    ).all()
    return dict(own), [PeerView(*row) for row in rows]


def peer_requirements_missing(connection: Connection, leaid: str) -> list[str]:
    """What the district lacks, on `districts` now, to be in a peer group, in words
    (`peers.lacking`; none: it is eligible, and `compute` has not written its group yet)."""
    from districtbench.metrics.peers import REQUIREMENTS, lacking

    d = layout.of(connection).districts
    values = connection.execute(sa.select(*(d.c[r.column] for r in REQUIREMENTS)).where(d.c.leaid == leaid)).one()
    return [requirement.text for requirement in lacking(*values)]


def district_view(connection: Connection, leaid: str, measures: Measures | None = None) -> DistrictView:
    """`measures`: which sources provide which measures (the registered sources'
    declarations; None: the built-in sources') — the history chart's years."""
    t = layout.of(connection)
    districts, states = t.districts, t.states
    district = connection.execute(sa.select(*_by_logical_names(districts)).where(districts.c.leaid == leaid)).mappings().one()
    state = connection.execute(
        sa.select(*_by_logical_names(states)).where(states.c.fips == district["state_fips"])
    ).mappings().first()
    national = connection.execute(sa.select(*_by_logical_names(states)).where(states.c.fips == NATIONAL_FIPS)).mappings().first()
    state_years = figure_years(connection, [district["state_fips"]]).get(district["state_fips"], {})
    history = district_series(connection, leaid, measures)
    view = DistrictView(
        leaid=leaid,
        name=district["name"],
        state_abbrev=district["state_abbrev"],
        state_name=state["name"] if state else None,
        city=district["city_location"],
        county=district["county_name"],
        enrollment=district["enrollment"],
        state_fips=district["state_fips"],
        locale_code=district["urban_centric_locale"],
        number_of_schools=district["number_of_schools"],
        directory_year=district["urban_institute_year"],
    )
    view.lowest_grade, view.highest_grade = district_grades(connection, leaid)
    peer_averages = district_peer_averages(connection, leaid)
    for metric in METRICS:
        flag = district[metric.quartile_column]
        value = district[metric.district_column]
        provenance = figure_source(metric.district_column)
        view.metrics.append(
            MetricView(
                key=metric.key,
                units=metric.units,
                higher_is_better=metric.higher_is_better,
                value=value,
                data_year=provenance.year(district, state_years),
                state_average=state[metric.average_column] if state else None,
                national_average=national[metric.average_column] if national else None,
                vs_state=district[metric.vs_state_column],
                vs_national=district[metric.vs_national_column],
                quartile_state=flag,
                reading=reading(metric, flag),
                trend_3yr=district[metric.trend_column],
                trend_kind=metric.trend_kind,
                trend_years=trend_years(state_years, metric.trend_column),
                source=provenance.name(state_years),
                source_short=provenance.short_name(state_years),
                history=history[metric.key],
                peer_average=peer_averages.get(metric.key),
            )
        )
    return view


def _by_logical_names(table: sa.Table) -> list:
    """The table's columns labelled with districtbench's names (rows keyed by them)."""
    return [column.label(column.key) for column in table.c]
