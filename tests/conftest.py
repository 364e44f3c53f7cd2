import os

import pytest

pytest_plugins = ["tests.db_fixtures", "tests.fakeapi_fixtures", "tests.browser"]


def pytest_sessionfinish(session, exitstatus):
    from tests.db_fixtures import drop_template_databases

    drop_template_databases()


@pytest.fixture(autouse=True)
def isolated_catalog_cache(tmp_path_factory, monkeypatch):
    """Each test caches the API catalog in a folder of its own, never in ~/.cache."""
    monkeypatch.setenv("DISTRICTBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("catalog-cache")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (DISTRICTBENCH_NO_SKIPS=1) a skipped test is a failure: every test must run there,
    the PostgreSQL variants and the ones that read ../shared/data/real included."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("DISTRICTBENCH_NO_SKIPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"
