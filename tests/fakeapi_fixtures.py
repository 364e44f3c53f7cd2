"""pytest fixtures for the fake Urban API (a real HTTP server on 127.0.0.1).

    def test_something(fake_api):
        fake_api.add_fault("status", status=503, times=2)
        client = UrbanClient(fake_api.url, sleep=lambda s: None)

`fake_api` serves the dataset shipped in districtbench/fakeapi/data with a small page size
(FAKE_API_PAGE_SIZE) so that most listings take several pages; set `fake_api.page_size` to
change it. It is stopped after the test.
"""

from __future__ import annotations

import pytest

from districtbench.fakeapi import FakeUrbanApi, load_dataset

FAKE_API_PAGE_SIZE = 20


@pytest.fixture
def fake_api():
    api = FakeUrbanApi(load_dataset(), page_size=FAKE_API_PAGE_SIZE).start()
    try:
        yield api
    finally:
        api.stop()
