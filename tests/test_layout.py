"""db.layout (logical → physical column names, timestamps) and its configuration."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from districtbench.config import resolve_settings
from districtbench.db import layout, migrations
from districtbench.db.engine import DbOptions
from districtbench.errors import ConfigurationError
from tests import app_layouts
from tests import expected as ex


def settings_of(tmp_path, toml: str | None = None, **environ):
    if toml is not None:
        (tmp_path / "districtbench.toml").write_text(toml)
    return resolve_settings(environ=environ, cwd=tmp_path)


def test_the_toml_file_and_the_environment(tmp_path):
    settings = settings_of(tmp_path, '[database]\nschema = "bench"\n[columns]\n'
                           '"district_data_history.poverty_pct" = "poverty_rate"\n[roster]\nupdate = ["state_abbrev"]\n')
    assert settings.own_schema == "bench"
    assert settings.column_overrides == (("district_data_history", "poverty_pct", "poverty_rate"),)
    assert settings.roster_columns == ("state_abbrev",)
    assert settings.config_file == str(tmp_path / "districtbench.toml")
    overridden = settings_of(tmp_path, None, DISTRICTBENCH_SCHEMA="other",
                             DISTRICTBENCH_COLUMNS="district_data_history.poverty_pct=poverty_percent, districts.updated_at=updatedAt")
    assert overridden.own_schema == "other"
    assert dict(((t, c), p) for t, c, p in overridden.column_overrides) == {
        ("district_data_history", "poverty_pct"): "poverty_percent", ("districts", "updated_at"): "updatedAt"}
    named = tmp_path / "elsewhere.toml"
    named.write_text('[database]\nschema = "named"\n')
    assert settings_of(tmp_path, None, DISTRICTBENCH_CONFIG=str(named)).own_schema == "named"


@pytest.mark.parametrize("toml, environ, message", [
    ('[columns]\n"district.poverty_pct" = "x"\n', {}, "does not name one of the app's tables"),
    ('[columns]\n"districts.no_such" = "x"\n', {}, "districts has no districtbench column 'no_such'"),
    ('[columns]\n"districts.name" = "bad name"\n', {}, "is not a column name"),
    ('[database]\nschema = "public"\n', {}, "other than public"),
    ('[databse]\nschema = "x"\n', {}, "unknown section [databse]"),
    ('[roster]\nupdate = ["leaid"]\n', {}, "'leaid' is not a roster column"),
    ("[columns\n", {}, "TOML syntax"),
    (None, {"DISTRICTBENCH_COLUMNS": "districts.name"}, "is not table.column=app_column"),
    (None, {"DISTRICTBENCH_CONFIG": "/nonexistent/districtbench.toml"}, "which is not a file"),
])
def test_bad_configuration_says_what_is_wrong(tmp_path, toml, environ, message):
    with pytest.raises(ConfigurationError) as error:
        settings_of(tmp_path, toml, **environ)
    assert message in str(error.value)
    assert error.value.exit_code == 2


def test_renders_physical_names_and_keys_by_logical_ones(database_factory):
    engine = database_factory.engine(database_factory.new_url())
    app_layouts.build(engine, "renamed", fixed=True)
    migrations.upgrade(engine)
    t = layout.of(engine)
    assert t.districts.c.graduation_rate_total.name == "graduation_rate"
    assert t.district_data_history.c.poverty_pct.name == "poverty_percent"
    statement = sa.select(t.district_data_history.c.poverty_pct).where(t.district_data_history.c.expenditure_pp > 1)
    sql = str(statement.compile(engine))
    assert "poverty_percent" in sql and "expenditure_per_pupil" in sql and "poverty_pct" not in sql
    # the timestamps this app's tables have, also where the plan declares none
    now = datetime(2026, 6, 1)
    assert t.stamps("district_data_history", now, insert=True) == {"created_at": now, "updated_at": now}
    assert t.stamps("district_data_history", now, insert=False) == {"updated_at": now}
    assert t.stamps("data_refresh_logs", now, insert=True) == {"created_at": now}
    assert t.stamps("data_refresh_logs", now, insert=False) == {}
    assert layout.of(engine) is t  # cached per engine …
    migrations.upgrade(engine)
    assert layout.of(engine) is not t  # … and read again after a migration


def test_a_configured_name_is_used_and_a_missing_one_is_an_error(database_factory, tmp_path):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "renamed", fixed=True)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE districts ADD COLUMN math_pct NUMERIC(5,2)"))
    configured = database_factory.engine(url, DbOptions(columns=(("districts", "math_proficiency_pct", "math_pct"),)))
    report = migrations.upgrade(configured)
    assert ("districts", "math_proficiency_pct", "math_pct", layout.CONFIGURED) in report.renamed
    assert "math_proficiency_pct" not in app_layouts.columns(engine, "districts")  # not added: the app has it
    assert layout.of(configured).districts.c.math_proficiency_pct.name == "math_pct"

    wrong = database_factory.engine(url, DbOptions(columns=(("districts", "math_proficiency_pct", "math_percent"),)))
    with pytest.raises(ConfigurationError) as error:
        layout.of(wrong)
    assert "maps districts.math_proficiency_pct to the column 'math_percent', which the table districts does not have" in str(error.value)
    # through the CLI: one line and exit 2
    result = ex.cli(url, "status", env={"DISTRICTBENCH_COLUMNS": "districts.math_proficiency_pct=math_percent"})
    assert result.exit_code == 2 and "does not have" in result.stderr and "Traceback" not in result.output


def test_the_roster_columns_a_backfill_overwrites_are_configurable(database_factory, fake_api):
    url = database_factory.new_url()
    engine = database_factory.engine(url)
    app_layouts.build(engine, "plan", fixed=True)
    assert ex.cli(url, "migrate").exit_code == 0
    app_layouts.apply_fixes(engine, "plan")
    result = ex.cli(url, "backfill", "enrollment", "--years", "2018", "--states", "AK", api_url=fake_api.url,
                    env={"DISTRICTBENCH_ROSTER_COLUMNS": "city_location,county_name"})
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        name, city, districts = connection.execute(sa.text(
            "SELECT name, city_location, (SELECT count(*) FROM districts) FROM districts WHERE leaid = '0200050'")).one()
    assert name == "Alaska Gateway SD (app name)"  # not in the list: the app's value stays
    assert city == "Tok"  # in the list: written
    assert districts == 54 + 1  # new districts are inserted whole (the app's 0299999 stays)
