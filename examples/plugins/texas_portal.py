"""Example source: Texas's own data portal (districtbench plugin).

The Texas Education Agency's TAPR district figures, from a Socrata-style portal: a plain JSON
list per request, paged with `$limit`/`$offset`, filtered by `year`, one record per district
and year, values as text. It fills the Texas years the federal CCD data lacks (priority 0:
the CCD's own years come first) with enrollment, special education, English learners and
teacher FTE; history source `tea_tapr`. TAPR has no graduation rates.

The portal's address is absolute: `--api-url` does not move it;
$DISTRICTBENCH_TEXAS_PORTAL_URL does (a mirror, or the fake portal of the tests and demo).
"""

from districtbench.plugin_api import DistrictSource, Endpoint, OffsetLimit, hookimpl

MEASURES = (  # (history column, portal field)
    ("enrollment", "DPETALLC"),
    ("spec_ed_students", "DPETSPEC"),
    ("ell_students", "DPETLEPC"),
    ("teachers_fte", "DPSTTOFC"),
)

TEXAS_PORTAL = DistrictSource(
    name="texas_portal",
    history_source="tea_tapr",
    description="Texas Education Agency TAPR (state portal): enrollment, special education, "
                "English learners, teacher FTE",
    endpoints=(Endpoint(
        "tapr-districts.json",
        base_url="https://texas-portal.example/resource",
        base_url_env="DISTRICTBENCH_TEXAS_PORTAL_URL",
        paginator=OffsetLimit(limit=1000),  # sends $limit=1000&$offset=0, 1000, …
        year_param="year",  # ?year=2021: the portal filters by a field, not a path segment
        state_filter=None,  # one state's portal: nothing to filter by
        required=("LEAID", "DPETALLC"),
    ),),
    years=tuple(range(2012, 2022)),  # school years 2012-13 … 2021-22
    states=("48",),  # Texas only: no request for any other state
    columns=tuple(column for column, _ in MEASURES),
    measures=MEASURES,
    leaid_field="LEAID",  # the NCES district id; no FIPS field (the leaid's first digits)
    fips_field=None,
)


@hookimpl
def register_sources(register):
    register(TEXAS_PORTAL)
