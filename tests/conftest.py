pytest_plugins = ["tests.db_fixtures", "tests.fakeapi_fixtures"]


def pytest_sessionfinish(session, exitstatus):
    from tests.db_fixtures import drop_template_databases

    drop_template_databases()
