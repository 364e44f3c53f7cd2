"""`districtbench backfill` against the Urban API as it really is (issues 10 and 12), end to end:
the real CLI, sources and client, real HTTP to the fake API, SQLite and PostgreSQL.

Server-side filters and `fields=`, years from the catalog, and the real failure modes: a
redirect or an answer of another state, a field renamed on one page, the bot protection."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.fakeapi import Dataset, FakeUrbanApi, load_dataset
from districtbench.fakeapi import dataset as ds
from districtbench.fakeapi.catalog import Catalog, shipped_catalog
from districtbench.sources import absenteeism, graduation


@pytest.fixture(autouse=True)
def decoded_dataset():
    load_dataset().load_all()


def backfill(db_url, api_url, *args):
    env = {"DISTRICTBENCH_DATABASE_URL": db_url, "DISTRICTBENCH_API_URL": api_url, "DISTRICTBENCH_BACKOFF_BASE": "0.01"}
    return CliRunner().invoke(build_app(), ["backfill", *args], env=env)


def text(result) -> str:
    return " ".join(result.output.replace("│", " ").split())


def units(engine) -> dict:
    f = tables.fetch_units
    with engine.connect() as connection:
        return {(r.source, r.year, r.state_fips): (r.status, r.error_message) for r in connection.execute(sa.select(f))}


def history_count(engine, source) -> int:
    h = tables.district_data_history
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).where(h.c.source == source)).scalar_one()


def queries(api, fragment):
    return [parse_qs(urlsplit(target).query) for target in api.requests_log if fragment in target]


# --- issue 10: ask for what is needed, for the years the API has --------------------------

def test_every_source_asks_for_its_all_students_rows_and_fields_only(db_url, db_engine, fake_api):
    fake_api.page_size = 1000
    result = backfill(db_url, fake_api.url, "all", "--years", "2013,2017,2018", "--states", "AK,AR")
    assert result.exit_code == 0, result.output
    crdc = queries(fake_api, "schools/crdc/enrollment/2017/")
    assert crdc and all(q["race"] == q["sex"] == q["disability"] == q["lep"] == ["99"] for q in crdc)
    absent = queries(fake_api, "schools/crdc/chronic-absenteeism/2017/")
    assert absent and all(q["homeless"] == ["99"] and q["race"] == ["99"] for q in absent)
    grad = queries(fake_api, "grad-rates/2013/")
    assert grad and all(all(q[name] == ["99"] for name in graduation.SUBGROUPS) for q in grad)
    directory = queries(fake_api, "ccd/directory/2017/")
    assert directory and all({"leaid", "lea_name", "enrollment", "english_language_learners"}
                             <= set(q["fields"][0].split(",")) for q in directory)
    assert all("fields" in q for target in ("directory", "finance", "saipe", "grad-rates", "crdc")
               for q in queries(fake_api, target))
    # one request per listing (a state's rows fit one 1,000-row page once filtered); a listing
    # the filters left empty is asked once more without them — here only those without data
    data_requests = [t for t in fake_api.requests_log if "/api-endpoint" not in t]
    assert len(data_requests) == len(set(data_requests))
    unfiltered = [t for t in data_requests if ("/race/sex/" in t or "grad-rates" in t) and "race=99" not in t]
    assert unfiltered
    for target in unfiltered:
        template, year = fake_api.dataset.resolve(urlsplit(target).path.removeprefix("/api/v1/"))
        assert not fake_api.dataset.records(template, year, fips=int(parse_qs(urlsplit(target).query)["fips"][0]))
    # what was written is the all-students rate of each district
    assert history_count(db_engine, "crdc_absenteeism") > 40
    assert history_count(db_engine, "edfacts_grad") > 40


def test_absenteeism_2022_is_skipped_with_a_note_naming_the_missing_enrollment_year(db_url, fake_api):
    fake_api.page_size = 1000
    result = backfill(db_url, fake_api.url, "all", "--years", "2022", "--states", "AK")
    assert result.exit_code == 0, result.output
    assert "absenteeism: skipping 2022 (schools/crdc/enrollment/{year}/race/sex/ has no 2022)" in text(result)
    assert not [t for t in fake_api.requests_log if "/2022/race/sex/" in t]  # never asked
    strict = backfill(db_url, fake_api.url, "absenteeism", "--years", "2022")
    assert strict.exit_code == 2
    assert "absenteeism has no data for 2022 (schools/crdc/enrollment/{year}/race/sex/ has no 2022)" in text(strict)
    assert "Years available for absenteeism: 2013, 2015, 2017, 2020–2021" in text(strict)


def test_a_year_the_catalog_adds_is_fetched_without_a_code_change(db_url, db_engine):
    rows = [dict(r, year=2025) for r in load_dataset().records(ds.DIRECTORY, 2018, fips=5)]
    dataset = Dataset({(ds.DIRECTORY, 2025): rows}, valid_years={ds.DIRECTORY: range(1986, 2026)})
    with FakeUrbanApi(dataset) as api:
        result = backfill(db_url, api.url, "enrollment", "--years", "latest", "--states", "AR")
    assert result.exit_code == 0, result.output
    h = tables.district_data_history
    with db_engine.connect() as connection:
        years = Counter(connection.execute(sa.select(h.c.year)).scalars())
    assert years == {2025: 42}


def test_the_catalog_is_cached_and_refreshed_on_demand(db_url, fake_api):
    fake_api.page_size = 1000
    args = ("finance", "--years", "2018", "--states", "AK")
    assert backfill(db_url, fake_api.url, *args).exit_code == 0
    assert len([t for t in fake_api.requests_log if "/api-endpoints/" in t]) == 1
    again = backfill(db_url, fake_api.url, *args, "--force")
    assert again.exit_code == 0 and "cached copy fetched" in text(again)
    assert len([t for t in fake_api.requests_log if "/api-endpoints/" in t]) == 1
    refreshed = backfill(db_url, fake_api.url, *args, "--refresh-catalog")
    assert refreshed.exit_code == 0 and "cached copy" not in text(refreshed)
    assert len([t for t in fake_api.requests_log if "/api-endpoints/" in t]) == 2


def test_an_unreachable_catalog_means_the_built_in_years_with_a_warning(db_url, db_engine, fake_api):
    fake_api.page_size = 1000
    fake_api.add_fault("status", status=503, path_contains="/api-endpoint", times=None)
    result = backfill(db_url, fake_api.url, "enrollment", "--years", "2018", "--states", "AK")
    assert result.exit_code == 0, result.output
    assert "warning: the API's catalog could not be read (retries exhausted after 3 attempts: HTTP 503" in text(result)
    assert "using the built-in years" in text(result)
    assert history_count(db_engine, "ccd_directory") == 54


def test_a_field_gone_from_the_varlist_fails_its_source_before_any_data_request(db_url, db_engine):
    shipped = shipped_catalog()
    varlist = [r for r in shipped.varlist if not (r["endpoint_id"] == "54" and r["variable"] == "english_language_learners")]
    rows = load_dataset().records(ds.DIRECTORY, 2018, fips=5)
    dataset = Dataset({(ds.DIRECTORY, 2018): rows}, catalog=Catalog(shipped.endpoints, varlist))
    with FakeUrbanApi(dataset, page_size=1000) as api:
        result = backfill(db_url, api.url, "enrollment", "ell", "--years", "2018", "--states", "AR")
        data_requests = [t for t in api.requests_log if "ccd/directory/2018" in t]
    assert result.exit_code == 1
    assert units(db_engine) == {
        ("enrollment", 2018, "05"): ("complete", None),
        ("ell", 2018, "05"): ("failed", "field 'english_language_learners' no longer in the API's variable list "
                                        "of school-districts/ccd/directory/{year}/ (renamed?); the source plugin "
                                        "needs updating"),
    }
    assert len(data_requests) == 1 and "english_language_learners" not in data_requests[0]


# --- issue 10 item 3: the real failure modes ----------------------------------------------

def test_the_bot_protection_is_a_named_resumable_failure(db_url, db_engine, fake_api):
    fake_api.page_size = 1000
    fake_api.add_fault("challenge", path_contains="school-districts/", times=None)
    result = backfill(db_url, fake_api.url, "finance", "poverty", "--years", "2018", "--states", "AL,AK,AZ,AR")
    assert result.exit_code == 1
    reason = "blocked by the API's bot protection (HTTP 403 with a challenge page) — resumable, try later"
    statuses = units(db_engine)
    assert len(statuses) == 8 and all(status == "failed" and reason in message for status, message in statuses.values())
    # the requests already in flight (concurrency 4), then no more
    assert len([t for t in fake_api.requests_log if "school-districts/" in t]) <= 4
    fake_api.clear_faults()
    assert backfill(db_url, fake_api.url, "finance", "poverty", "--years", "2018", "--states", "AL,AK,AZ,AR").exit_code == 0
    assert {status for status, _ in units(db_engine).values()} == {"complete"}


def test_a_deterministic_500_on_one_path_does_not_make_the_api_look_down(db_url, db_engine, fake_api):
    """CRDC enrollment 2021 answers 500 to every attempt (as the API does for a year it lacks):
    those units fail, and the run goes on — six such paths used to count as "the API is down"
    (after five, later requests failed without being sent)."""
    fake_api.page_size = 1000
    fake_api.add_fault("status", status=500, path_contains="schools/crdc/enrollment/2021/", times=None)
    states = ("AL", "AK", "AZ", "AR", "CA", "CO")
    result = backfill(db_url, fake_api.url, "absenteeism", "poverty", "--years", "2021", "--states", ",".join(states))
    assert result.exit_code == 1
    statuses = units(db_engine)
    failed = {key: message for key, (status, message) in statuses.items() if status == "failed"}
    assert set(failed) == {("absenteeism", 2021, fips) for fips in ("01", "02", "04", "05", "06", "08")}
    assert all("HTTP 500 on every attempt" in message for message in failed.values())
    assert [status for (source, _, _), (status, _) in statuses.items() if source == "poverty"] == ["complete"] * 6


# --- issue 12 items 5 and 6 -----------------------------------------------------------------

def test_a_redirect_to_another_listing_fails_the_unit_and_resumes(db_url, db_engine, fake_api):
    fake_api.page_size = 2000
    fake_api.add_fault("redirect", path_contains="directory/2018/?fips=48", to="school-districts/ccd/directory/2018/?fips=5")
    result = backfill(db_url, fake_api.url, "enrollment", "--years", "2018", "--states", "TX")
    assert result.exit_code == 1
    status, message = units(db_engine)[("enrollment", 2018, "48")]
    assert status == "failed" and "redirected to another listing" in message
    assert history_count(db_engine, "ccd_directory") == 0
    assert backfill(db_url, fake_api.url, "enrollment", "--years", "2018", "--states", "TX").exit_code == 0
    assert history_count(db_engine, "ccd_directory") == len(load_dataset().records(ds.DIRECTORY, 2018, fips=48))


def test_an_answer_that_is_another_states_listing_fails_the_unit(db_url, db_engine, fake_api):
    fake_api.page_size = 2000
    fake_api.add_fault("wrong_listing", path_contains="directory/2018/?fips=48", to="school-districts/ccd/directory/2018/?fips=5")
    result = backfill(db_url, fake_api.url, "enrollment", "ell", "--years", "2018", "--states", "TX")
    assert result.exit_code == 1
    for source in ("enrollment", "ell"):
        status, message = units(db_engine)[(source, 2018, "48")]
        assert status == "failed"
        assert message.startswith("42 of 42 rows of school-districts/ccd/directory/…/ belong to another state (AR 42), not TX")
    assert history_count(db_engine, "ccd_directory") == 0


def test_a_field_renamed_on_one_page_fails_the_unit_naming_the_field_and_the_page(db_url, db_engine, fake_api):
    fake_api.page_size = 500
    texas = load_dataset().records(ds.DIRECTORY, 2019, fips=48)
    assert 1000 < len(texas) <= 1500  # three pages
    fake_api.add_fault("rename_field", path_contains="page=2", old="enrollment", new="enrollment_total", times=None)
    result = backfill(db_url, fake_api.url, "enrollment", "ell", "--years", "2019", "--states", "TX")
    assert result.exit_code == 1
    statuses = units(db_engine)
    assert statuses[("enrollment", 2019, "48")] == (
        "failed", "Field 'enrollment' is missing from all 500 rows of page 2 (of 3) of school-districts/ccd/directory/{year}/")
    assert statuses[("ell", 2019, "48")] == ("complete", None)  # ell does not read it


def test_sources_shows_the_catalogs_years_and_where_they_came_from(fake_api):
    import os
    import subprocess
    import sys

    env = dict(os.environ, DISTRICTBENCH_API_URL=fake_api.url, DISTRICTBENCH_BACKOFF_BASE="0.01", COLUMNS="300")

    def sources(*args):
        return subprocess.run([sys.executable, "-m", "districtbench", "sources", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    result = sources()
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.replace("│", " ").split())
    assert "Years from the API's catalog, fetched" in result.stderr
    assert "schools/crdc/chronic-absenteeism/{year}/race/sex/ (2013, 2015, 2017, 2020–2022)" in out
    assert "2022 skipped: schools/crdc/enrollment/{year}/race/sex/ has no 2022" in out
    assert "school-districts/edfacts/assessments/{year}/grade-99/ (2009–2018, 2020)" in out
    fake_api.stop()
    down = sources("--refresh-catalog")
    assert down.returncode == 0
    assert "using the built-in years" in " ".join(down.stderr.split())
    assert "Years from built-in years (catalog unreachable)." in " ".join(down.stderr.split())


def test_an_ignored_filter_does_not_let_subgroup_rows_through(db_url, db_engine):
    """An API that takes none of the CRDC subgroup columns as filters answers every race × sex
    row: the source keeps each school's all-students row, and writes the same rates."""
    shipped = shipped_catalog()
    not_filters = {"race", "sex", "disability", "lep", "homeless"}
    varlist = [dict(r, is_filter="None") if r["endpoint_id"] in ("37", "60") and r["variable"] in not_filters else r
               for r in shipped.varlist]
    rates = {}
    for catalog in (shipped, Catalog(shipped.endpoints, varlist)):
        dataset = Dataset({(template, year): load_dataset().table(template, year)
                           for template, year in ((ds.CRDC_ABSENTEEISM, 2017), (ds.CRDC_ENROLLMENT, 2017),
                                                  (ds.DIRECTORY, 2018))}, catalog=catalog)
        with FakeUrbanApi(dataset, page_size=5000) as api:
            assert backfill(db_url, api.url, "enrollment", "--years", "2018", "--states", "AK").exit_code == 0
            result = backfill(db_url, api.url, "absenteeism", "--years", "2017", "--states", "AK", "--force",
                              "--refresh-catalog")
            assert result.exit_code == 0, result.output
            sent = [t for t in api.requests_log if "/race/sex/" in t]
        h = tables.district_data_history
        with db_engine.connect() as connection:
            rates[catalog is shipped] = dict(connection.execute(
                sa.select(h.c.leaid, h.c.chronic_absenteeism_rate).where(h.c.source == "crdc_absenteeism")).all())
        assert all(("race=99" in t) is (catalog is shipped) for t in sent)
    assert rates[True] == rates[False] and len(rates[True]) > 20
    assert absenteeism.NOT_SUBGROUP_TOTAL in " ".join(result.output.split())  # the subgroup rows were skipped
