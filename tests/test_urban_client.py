"""UrbanClient against the fake Urban API over real HTTP (no mocks of requests).

Expected numbers come from the shipped data file read with plain gzip + json, not from the
code under test.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from districtbench.errors import FetchError
from districtbench.urban import UrbanClient

DATA = Path(__file__).parents[1] / "src" / "districtbench" / "fakeapi" / "data"
DIRECTORY_2018 = "school-districts/ccd/directory/2018/"
PAGE = 20  # tests set fake_api.page_size to this explicitly


@functools.lru_cache(maxsize=None)
def directory_file() -> dict:
    with gzip.open(DATA / "directory.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


def directory_leaids(year: int, fips: int) -> list[str]:
    """leaids of the directory rows of (year, fips), straight from the data file (columns,
    or a constant for a field every row shares)."""
    listing = directory_file()["listings"][str(year)]
    n = listing["n"]

    def column(name):
        if name in listing["constants"]:
            return [listing["constants"][name]] * n
        return listing["columns"][name]

    return [leaid for leaid, f in zip(column("leaid"), column("fips")) if f == fips]


ARKANSAS_2018 = directory_leaids(2018, 5)
ARKANSAS_PAGES = math.ceil(len(ARKANSAS_2018) / PAGE)


class Sleeps(list):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake_api, sleeps):
    fake_api.page_size = PAGE
    c = UrbanClient(fake_api.url, sleep=sleeps, read_timeout=5, deadline=10, max_retries=3)
    yield c
    c.close()


def test_the_fixture_file_gives_several_pages():
    assert len(ARKANSAS_2018) == 42  # the real 2018 page has 42 Arkansas districts
    assert ARKANSAS_PAGES >= 3


def test_pagination_follows_next_to_the_end(fake_api, client):
    rows = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert len(rows) == len(ARKANSAS_2018)
    assert sorted(r["leaid"] for r in rows) == sorted(ARKANSAS_2018)
    assert client.request_count == ARKANSAS_PAGES
    assert len(fake_api.requests_log) == ARKANSAS_PAGES
    assert len(set(fake_api.requests_log)) == ARKANSAS_PAGES  # every page fetched once
    assert all("fips=5" in target for target in fake_api.requests_log)


def test_a_long_listing_many_pages(fake_api, client):
    fake_api.page_size = 100
    texas = directory_leaids(2019, 48)
    rows = client.fetch_all("school-districts/ccd/directory/2019/", {"fips": 48})
    assert sorted(r["leaid"] for r in rows) == sorted(texas)
    assert client.request_count == math.ceil(len(texas) / 100)


@pytest.mark.parametrize("form", ["path", "query"])
def test_relative_next_links(fake_api, client, form):
    fake_api.add_fault("relative_next", form=form, times=None)
    rows = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert sorted(r["leaid"] for r in rows) == sorted(ARKANSAS_2018)
    assert client.request_count == ARKANSAS_PAGES


def test_empty_listing_is_a_success(fake_api, client):
    assert client.fetch_all("school-districts/ccd/directory/2016/", {"fips": 5}) == []
    assert client.request_count == 1


@pytest.mark.parametrize("fips", [5, "5", "05"])
def test_fips_is_sent_unpadded(fake_api, client, fips):
    rows = client.fetch_all(DIRECTORY_2018, {"fips": fips})
    assert len(rows) == len(ARKANSAS_2018)
    assert fake_api.requests_log[0].endswith("/directory/2018/?fips=5")


def test_padded_fips_would_return_nothing(fake_api):
    # Why the client unpads: the API (and the fake) answer 0 rows to fips=05.
    page = requests.get(f"{fake_api.url}/{DIRECTORY_2018}?fips=05", timeout=5).json()
    assert page["count"] == 0 and page["results"] == []


def test_results_are_cached(fake_api, client):
    first = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    first[0]["leaid"] = "mutated"
    again = client.fetch_all(DIRECTORY_2018, {"fips": "05"})
    assert client.request_count == ARKANSAS_PAGES
    assert "mutated" not in {r["leaid"] for r in again}
    client.fetch_all(DIRECTORY_2018, {"fips": 4})
    assert client.request_count > ARKANSAS_PAGES


def _fetch_arkansas_at_once(client: UrbanClient, callers: int) -> list[list[dict]]:
    """`callers` threads asking for the same listing at the same moment."""
    barrier = threading.Barrier(callers)

    def fetch():
        barrier.wait()
        return client.fetch_all(DIRECTORY_2018, {"fips": 5})

    with ThreadPoolExecutor(callers) as pool:
        return list(pool.map(lambda _: fetch(), range(callers)))


def test_concurrent_callers_share_one_fetch(fake_api, client):
    fake_api.latency = 0.05  # so that every thread arrives while the fetch is running
    results = _fetch_arkansas_at_once(client, 8)
    assert all(sorted(r["leaid"] for r in rows) == sorted(ARKANSAS_2018) for rows in results)
    assert len(fake_api.requests_log) == ARKANSAS_PAGES
    assert client.request_count == ARKANSAS_PAGES


def test_without_keep_results_a_listing_is_shared_only_while_in_flight(fake_api):
    client = UrbanClient(fake_api.url, keep_results=False, backoff_base=0)
    fake_api.latency = 0.05
    results = _fetch_arkansas_at_once(client, 4)
    assert all(sorted(r["leaid"] for r in rows) == sorted(ARKANSAS_2018) for rows in results)
    assert client.request_count == ARKANSAS_PAGES  # concurrent callers: one fetch
    client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert client.request_count == 2 * ARKANSAS_PAGES  # afterwards: forgotten, fetched again
    client.close()


def test_gives_up_at_once_after_several_requests_exhausted_their_retries(fake_api):
    fake_api.add_fault("status", status=503, times=None)
    client = UrbanClient(fake_api.url, max_retries=1, backoff_base=0, give_up_after=3)
    for fips in (1, 2, 4):
        with pytest.raises(FetchError, match="retries exhausted after 2 attempts"):
            client.fetch_all(DIRECTORY_2018, {"fips": fips})
    assert client.request_count == 6
    with pytest.raises(FetchError, match="not attempted: the API did not answer the last 3") as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.url == f"{fake_api.url}/{DIRECTORY_2018}?fips=5"
    assert client.request_count == 6  # nothing sent, no backoff waited
    client.close()


def test_a_success_resets_the_count_of_exhausted_requests(fake_api):
    client = UrbanClient(fake_api.url, max_retries=0, backoff_base=0, give_up_after=2)
    fake_api.add_fault("status", status=503, times=1)
    with pytest.raises(FetchError, match="retries exhausted"):
        client.fetch_all(DIRECTORY_2018, {"fips": 1})
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)
    fake_api.add_fault("status", status=503, times=1)
    with pytest.raises(FetchError, match="retries exhausted"):
        client.fetch_all(DIRECTORY_2018, {"fips": 2})
    assert client.fetch_all(DIRECTORY_2018, {"fips": 4})  # one in a row: still trying
    client.close()


def test_concurrent_different_listings_use_the_pool(fake_api, client, caplog):
    caplog.set_level(logging.WARNING, logger="urllib3")
    fake_api.latency, fake_api.page_size = 0.02, 200
    listings = [(year, 48) for year in range(2012, 2022)] + [(2018, f) for f in (1, 2, 4, 5)]
    with ThreadPoolExecutor(14) as pool:
        counts = list(pool.map(
            lambda yf: len(client.fetch_all(f"school-districts/ccd/directory/{yf[0]}/",
                                            {"fips": yf[1]})), listings))
    assert counts == [len(directory_leaids(y, f)) for y, f in listings]
    assert "pool is full" not in caplog.text


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff(fake_api, client, sleeps, status):
    fake_api.add_fault("status", status=status, times=2)
    rows = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert len(rows) == len(ARKANSAS_2018)
    assert client.request_count == ARKANSAS_PAGES + 2
    assert sleeps == [1.0, 2.0]  # backoff_base 1 s, doubling


def test_retries_exhausted(fake_api, client, sleeps):
    fake_api.add_fault("status", status=503, times=None)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    error = caught.value
    assert error.reason == "retries exhausted after 4 attempts: HTTP 503"
    assert error.url == f"{fake_api.url}/{DIRECTORY_2018}?fips=5"
    assert client.request_count == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_failed_listing_is_not_cached(fake_api, client):
    fake_api.add_fault("status", status=503, times=4)
    with pytest.raises(FetchError):
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)


def test_rate_limit_honours_retry_after(fake_api, client, sleeps):
    fake_api.add_fault("rate_limit", retry_after=7)
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)
    assert sleeps == [7.0]
    assert client.request_count == ARKANSAS_PAGES + 1


def test_retry_after_is_capped(fake_api, sleeps):
    fake_api.add_fault("rate_limit", retry_after=3600)
    client = UrbanClient(fake_api.url, sleep=sleeps, max_retry_after=60)
    client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert sleeps == [60.0]


@pytest.mark.parametrize("status", [400, 403, 404, 413])
def test_other_client_errors_are_not_retried(fake_api, client, sleeps, status):
    fake_api.add_fault("status", status=status, times=None)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason.startswith(f"HTTP {status}")
    assert client.request_count == 1 and sleeps == []


def test_unknown_path_is_a_404(fake_api, client):
    with pytest.raises(FetchError) as caught:
        client.fetch_all("school-districts/ccd/no-such-thing/2018/", {"fips": 5})
    assert caught.value.reason == "HTTP 404: Not found."
    assert client.request_count == 1


def test_html_page_is_an_error(fake_api, client):
    fake_api.add_fault("html", path_contains="page=2")
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == "response is HTML, not JSON"
    assert "page=2" in caught.value.url


def test_truncated_json_is_an_error(fake_api, client):
    fake_api.add_fault("truncated", fraction=0.6)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason.startswith("truncated or malformed JSON")


def test_connection_closed_mid_body_is_retried(fake_api, client, sleeps):
    fake_api.add_fault("truncated", declare_full_length=True)
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)
    assert client.request_count == ARKANSAS_PAGES + 1 and sleeps == [1.0]


def test_count_mismatch_is_an_error(fake_api, client):
    fake_api.add_fault("count_mismatch", extra=10, times=None)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    n = len(ARKANSAS_2018)
    assert caught.value.reason == f"rows received {n} != count {n + 10}"


def test_missing_envelope_keys(fake_api, client):
    fake_api.add_fault("status", status=200, body='{"results": []}')
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == "missing envelope keys: count, next"


def test_next_loop_is_detected(fake_api, client):
    fake_api.add_fault("loop_next", path_contains="page=2")
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == "next link loops back to an already fetched URL"
    assert client.request_count == 2


def test_slow_trickle_hits_the_deadline(fake_api, sleeps):
    fake_api.page_size = 1000
    fake_api.add_fault("slow", mode="trickle", seconds=5, chunks=100, times=None)
    client = UrbanClient(fake_api.url, sleep=sleeps, read_timeout=2, deadline=0.5,
                         max_retries=1)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 4})
    assert caught.value.reason == (
        "retries exhausted after 2 attempts: request exceeded the 0.5 s deadline")


def test_slow_headers_hit_the_read_timeout(fake_api, sleeps):
    fake_api.add_fault("slow", mode="delay", seconds=5, times=None)
    client = UrbanClient(fake_api.url, sleep=sleeps, read_timeout=0.3, max_retries=0)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert "no response within 0.3 s" in caught.value.reason


def test_slow_but_in_time_succeeds(fake_api, client):
    fake_api.add_fault("slow", mode="trickle", seconds=0.2, chunks=4)
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)


def test_dropped_connection_is_retried(fake_api, client, sleeps):
    fake_api.add_fault("drop_connection", path_contains="page=2")
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)
    assert client.request_count == ARKANSAS_PAGES + 1 and sleeps == [1.0]


def test_unreachable_server_retries_then_fails(sleeps):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = UrbanClient(f"http://127.0.0.1:{port}/api/v1", sleep=sleeps, max_retries=2,
                         backoff_base=0.5)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018)
    assert caught.value.reason.startswith("retries exhausted after 3 attempts: connection error")
    assert sleeps == [0.5, 1.0]


def test_renamed_field_reaches_the_caller(fake_api, client):
    fake_api.add_fault("rename_field", old="enrollment", new="enrollment_total", times=None)
    rows = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert all("enrollment" not in r and "enrollment_total" in r for r in rows)


def test_credentials_never_appear_in_errors(fake_api, sleeps):
    base = fake_api.url.replace("http://", "http://user:s3cret@")
    client = UrbanClient(base, sleep=sleeps)
    with pytest.raises(FetchError) as caught:
        client.fetch_all("school-districts/ccd/no-such-thing/2018/")
    assert "s3cret" not in str(caught.value) and "s3cret" not in caught.value.url


def test_a_stopped_server_is_down_even_for_pooled_connections(fake_api, client):
    client.fetch_all(DIRECTORY_2018, {"fips": 5})  # leaves a keep-alive connection pooled
    fake_api.stop()
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 4})
    assert caught.value.reason.startswith("retries exhausted after 4 attempts: connection")


# --- the real failure modes (issue 10 item 3, issue 12 items 4 and 5) -------------------------

def test_a_body_over_the_cap_fails_the_listing_without_reading_it_all(fake_api):
    fake_api.add_fault("endless", times=None)  # a 200 that never ends (no Content-Length)
    client = UrbanClient(fake_api.url, max_body_bytes=2_000_000, max_retries=3, backoff_base=0)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason.startswith("response body passed 2 MB, over the 2 MB limit (a real page is ~12 MB)")
    assert client.request_count == 1  # not retried: it would be read again
    client.close()


def test_a_declared_length_over_the_cap_is_refused_before_reading(fake_api):
    fake_api.page_size = 1000
    client = UrbanClient(fake_api.url, max_body_bytes=100_000, max_retries=0)
    with pytest.raises(FetchError) as caught:
        client.fetch_all("school-districts/ccd/directory/2019/", {"fips": 48})  # ~1 MB a page
    assert caught.value.reason.startswith("response body declares 2 MB, over the 100 kB limit")
    client.close()


def test_a_listing_has_a_total_time_limit(fake_api, sleeps):
    """6 attempts × a 0.4 s deadline would be 2.4 s for one trickling page; the listing's own
    limit (1 s) ends it after the attempts that fit."""
    fake_api.page_size = 1000
    fake_api.add_fault("slow", mode="trickle", seconds=5, chunks=100, times=None)
    client = UrbanClient(fake_api.url, sleep=sleeps, deadline=0.4, listing_timeout=1.0, max_retries=5,
                         backoff_base=0)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 4})
    assert caught.value.reason.startswith("listing exceeded its 1 s limit after ")
    assert "run again later to resume" in caught.value.reason
    assert 2 <= client.request_count <= 4 < 6
    client.close()


def test_a_backoff_that_would_pass_the_listing_limit_is_not_waited(fake_api, sleeps):
    fake_api.add_fault("rate_limit", retry_after=30, times=None)
    client = UrbanClient(fake_api.url, sleep=sleeps, listing_timeout=10, max_retries=5)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == ("listing exceeded its 10 s limit after 1 attempt (last: HTTP 429); "
                                   "run again later to resume")
    assert sleeps == [] and client.request_count == 1
    client.close()


def test_a_deterministic_500_does_not_count_toward_the_api_being_down(fake_api):
    fake_api.add_fault("status", status=500, path_contains="directory/2018/?fips=1", times=None)
    client = UrbanClient(fake_api.url, max_retries=2, backoff_base=0, give_up_after=1)
    for _ in range(3):
        with pytest.raises(FetchError) as caught:
            client.fetch_all(DIRECTORY_2018, {"fips": 1})
        assert caught.value.reason == ("retries exhausted after 3 attempts: HTTP 500 on every attempt "
                                       "(the API answers 500 for a path or year it does not have)")
        client._cache.clear()
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)  # still asked
    fake_api.add_fault("status", status=503, path_contains="fips=2", times=None)
    with pytest.raises(FetchError, match="retries exhausted"):
        client.fetch_all(DIRECTORY_2018, {"fips": 2})
    with pytest.raises(FetchError, match="not attempted: the API did not answer the last 1 requests"):
        client.fetch_all(DIRECTORY_2018, {"fips": 4})  # a 503 does count
    client.close()


def test_the_bot_protection_challenge_is_named_and_stops_the_client(fake_api, sleeps):
    fake_api.add_fault("challenge", times=None)
    client = UrbanClient(fake_api.url, sleep=sleeps)
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == ("blocked by the API's bot protection (HTTP 403 with a challenge page) "
                                   "— resumable, try later")
    with pytest.raises(FetchError) as later:
        client.fetch_all(DIRECTORY_2018, {"fips": 4})
    assert later.value.reason.startswith("not attempted: blocked by the API's bot protection")
    assert client.request_count == 1 and sleeps == []  # not retried, nothing more sent
    client.close()


def test_a_plain_403_is_not_the_challenge(fake_api, client):
    fake_api.add_fault("status", status=403, body='{"detail": "Forbidden"}')
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == "HTTP 403"
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 4})) > 0  # not blocked


def test_a_redirect_to_another_listing_fails(fake_api, client):
    fake_api.add_fault("redirect", path_contains="fips=48", to="school-districts/ccd/directory/2018/?fips=5")
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 48})
    assert caught.value.reason.startswith("redirected to another listing (")
    assert "fips=5" in caught.value.reason


def test_a_redirect_to_the_same_listing_is_followed(fake_api, client):
    fake_api.add_fault("redirect", path_contains="fips=5", to="school-districts/ccd/directory/2018?fips=5")
    assert len(client.fetch_all(DIRECTORY_2018, {"fips": 5})) == len(ARKANSAS_2018)


def test_a_next_link_to_another_listing_fails(fake_api, client):
    fake_api.add_fault("status", status=200, times=1, body=json.dumps({
        "count": 50, "previous": None, "results": [{"leaid": "0500001", "fips": 5}],
        "next": f"{fake_api.url}/{DIRECTORY_2018}?fips=6&page=2"}))
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason.startswith("next link leads to another listing")


def test_an_absurdly_long_integer_does_not_fail_the_page(fake_api, client):
    fake_api.add_fault("status", status=200, times=1, body=(
        '{"count": 1, "next": null, "previous": null, "results": [{"leaid": "0500001", "enrollment": '
        + "9" * 5000 + ', "small": 7}]}'))
    (row,) = client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert row["enrollment"] == float("inf") and row["small"] == 7


def test_control_characters_from_the_api_do_not_reach_error_messages(fake_api, client):
    fake_api.add_fault("status", status=400, body='[{"API ERROR": "bad \\u001b[2Jfilter\\u0007"}]')
    with pytest.raises(FetchError) as caught:
        client.fetch_all(DIRECTORY_2018, {"fips": 5})
    assert caught.value.reason == "HTTP 400: bad filter"


def test_traffic_counts_requests_bytes_and_rows_per_path(fake_api, client):
    client.fetch_all(DIRECTORY_2018, {"fips": 5, "fields": "leaid,fips"})
    traffic = client.traffic()[f"{fake_api.url}/{DIRECTORY_2018}"]
    assert (traffic.requests, traffic.rows) == (ARKANSAS_PAGES, len(ARKANSAS_2018))
    assert traffic.bytes > 42 * len('{"leaid": "0500001", "fips": 5}')
    assert "fields=leaid,fips" in fake_api.requests_log[0]  # commas sent as they are
