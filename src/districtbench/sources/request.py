"""What a source asks of one API endpoint, as data: the host builds and sends the request.

    Endpoint(
        "schools/crdc/enrollment/{year}/race/sex/",
        filters={"race": 99, "sex": 99, "disability": 99, "lep": 99},
        fields=("ncessch", "crdc_id", "leaid", "fips", "race", "sex", "disability", "lep",
                "enrollment_crdc"),
        required=("race", "sex", "ncessch|crdc_id", "enrollment_crdc"),
    )

The host asks `path(year)?fips=N&<filters>&fields=<fields>`, paged by the endpoint's paginator
(the Urban envelope, following `next` to the end, unless it names another), once per (year,
state) for every source that reads the same endpoint with the same filters (their fields are
merged). An endpoint of another API names its own `base_url` (not rewritten by `--api-url`).
Before a run the host checks an Urban endpoint against the API's catalog and varlist: years,
which filters are filter variables (only those are sent: the API ignores any other and answers
unfiltered), and whether every required field still exists. A source keeps checking
the all-students rows itself: a filter the API ignores must not let subgroup rows through.
"""

from __future__ import annotations

import dataclasses
import os
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from districtbench.urban.paginators import Paginator, UrbanEnvelope

FieldSpec = str  # "name", or "a|b": either name (the API has published some fields under two)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint read by a source.

    template: the path as the API's catalog writes its `endpoint_url`, relative to `/api/v1/`,
        with `{year}` and possibly other placeholders
        (`school-districts/edfacts/assessments/{year}/{grade_edfacts}/`).
    segments: values of the placeholders other than `{year}` (`{"grade_edfacts": "grade-99"}`).
    state_filter: the filter variable, and row field, that selects one state (`fips`; sent
        unpadded). None: the endpoint is asked without a state filter.
    filters: server-side filters that select the all-students rows (`{"race": 99}`).
    fields: the columns to ask for (`fields=`); empty asks for every column. Must include the
        state filter, every filter and each required field (one name of an `a|b`).
    required: fields that must be in the response: one absent from every row of a page fails
        the unit, naming the field and the page (the API has renamed fields before).
    paginator: how the listing is paged and where its records are (`urban.paginators`):
        `UrbanEnvelope()` by default; `OffsetLimit`, `PlainList`, `Cursor` for other APIs.
    base_url: an absolute base URL (`https://data.example.gov/resource`) the template is
        relative to; None: the Urban API's (`--api-url`). An absolute one is never rewritten
        by `--api-url`, and its endpoint is not looked up in the Urban API's catalog.
    base_url_env: an environment variable that, when set, replaces `base_url` (a mirror, or a
        local fake in tests and demos).
    year_param: for an API that filters by year with a query parameter instead of a path
        segment: its name (`year=2021` is sent); the template then needs no `{year}`.
    """

    template: str
    segments: Mapping[str, str] = field(default_factory=dict)
    state_filter: str | None = "fips"
    filters: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    required: tuple[FieldSpec, ...] = ()
    paginator: Paginator = UrbanEnvelope()
    base_url: str | None = None
    base_url_env: str | None = None
    year_param: str | None = None

    def __post_init__(self) -> None:
        # frozen and hashable: mappings are stored as sorted tuples of pairs, read back as dicts
        object.__setattr__(self, "segments", _Pairs(self.segments))
        object.__setattr__(self, "filters", _Pairs(self.filters))
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "required", tuple(self.required))
        placeholders = {name for _, name, _, _ in string.Formatter().parse(self.template) if name}
        year_needed = self.year_param is None
        if ("year" in placeholders) != year_needed or placeholders - {"year"} != set(self.segments):
            raise ValueError(f"{self.template!r}: placeholders {sorted(placeholders)} need "
                             + ("`year` " if year_needed else "no `year` (it is the query's `year_param`) ")
                             + f"and a segment value for each other one (got {sorted(self.segments)})")
        if self.base_url is not None and "://" not in self.base_url:
            raise ValueError(f"{self.template!r}: base_url must be absolute (https://…), not {self.base_url!r}")
        if self.fields:
            needed = [*self.filters, *([self.state_filter] if self.state_filter else [])]
            needed += [spec for spec in self.required if not any(n in self.fields for n in spec.split("|"))]
            missing = [name for name in needed if name not in self.fields]
            if missing:
                raise ValueError(f"{self.template!r}: fields= must include {', '.join(missing)}")

    @property
    def key(self) -> str:
        """The path with every placeholder filled but `{year}`: the name of this endpoint's
        listing in `parse_unit`, and in messages (`…/assessments/{year}/grade-99/`)."""
        return self.template.format(year="{year}", **self.segments)

    def path(self, year: int) -> str:
        """The path relative to the Urban API's base URL, or — with a base URL of its own —
        the absolute URL (`base_url_env`, when set, first)."""
        path = self.template.format(year=year, **self.segments) if self.year_param is None \
            else self.template.format(**self.segments)
        base = self.resolved_base_url()
        return path if base is None else base.rstrip("/") + "/" + path.lstrip("/")

    def resolved_base_url(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """The base URL this endpoint is asked at: `$base_url_env` if set, else `base_url`
        (None: the Urban API's)."""
        override = (environ.get(self.base_url_env) or "").strip() if self.base_url_env else ""
        return override or self.base_url

    @property
    def own_api(self) -> bool:
        """Asked at a base URL of its own, not the Urban API's (no catalog applies)."""
        return self.base_url is not None or self.base_url_env is not None

    def params(self, state_fips: str | None, year: int | None = None) -> dict[str, Any]:
        """The query of one state's listing, `fips` first."""
        params: dict[str, Any] = {}
        if self.state_filter and state_fips is not None:
            params[self.state_filter] = int(state_fips)  # ?fips=6, never ?fips=06
        if self.year_param and year is not None:
            params[self.year_param] = year
        params.update(self.filters)
        if self.fields:
            params["fields"] = ",".join(self.fields)
        return params

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(name for spec in self.required for name in spec.split("|"))


class _Pairs(dict):
    """A read-only dict that hashes by content (so a frozen Endpoint can be a dict key)."""

    def __init__(self, pairs: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()):
        super().__init__(pairs)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted((key, repr(value)) for key, value in self.items())))

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Endpoint mappings are read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only  # type: ignore[assignment]


def merged(endpoints: Iterable[Endpoint]) -> Endpoint:
    """One request for several sources' declarations of the same endpoint (same key, state
    filter and filters): the union of their fields — or every column if one asks for all."""
    endpoints = list(endpoints)
    first = endpoints[0]
    if len(endpoints) == 1:
        return first
    fields: list[str] = []
    for endpoint in endpoints:
        if not endpoint.fields:
            fields = []
            break
        fields += [name for name in endpoint.fields if name not in fields]
    return dataclasses.replace(first, fields=tuple(fields), required=())


def request_identity(endpoint: Endpoint) -> tuple:
    """What must be equal for two declarations to be served by one request (fields aside)."""
    return (endpoint.key, endpoint.state_filter, endpoint.filters, endpoint.paginator,
            endpoint.base_url, endpoint.base_url_env, endpoint.year_param)
