import pytest
import typer

from districtbench.cli.options import parse_states, parse_years
from districtbench.db.states import STATES_AND_DC_FIPS


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("2019", [2019]),
        ("2017-2021", [2017, 2018, 2019, 2020, 2021]),
        ("2013,2015", [2013, 2015]),
        ("2013,2015-2017", [2013, 2015, 2016, 2017]),
        (" 2015 - 2016 , 2013 ", [2013, 2015, 2016]),
        ("2018–2019", [2018, 2019]),  # the en dash `districtbench sources` prints
        ("2019,2019,2018-2019", [2018, 2019]),
        ("2020-2020", [2020]),
    ],
)
def test_parse_years(spec, expected):
    assert parse_years(spec) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("2021-2017", "reversed range '2021-2017': write it as 2017-2021"),
        ("abc", "'abc' is not a year or a range"),
        ("2019-", "'2019-' is not a year or a range"),
        ("2019,,2020", "empty item"),
        ("", "no years given"),
        ("19", "not a four-digit year"),
        ("2019-20210", "not a four-digit year"),
        ("2017..2019", "is not a year or a range"),
        ("-2019", "is not a year or a range"),
    ],
)
def test_parse_years_rejects(spec, message):
    with pytest.raises(typer.BadParameter) as info:
        parse_years(spec)
    assert message in str(info.value)
    assert "2017-2021" in str(info.value)  # says what is accepted


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("CA,TX", ["06", "48"]),
        ("06,48", ["06", "48"]),
        ("6", ["06"]),
        ("ca, tx ,CA", ["06", "48"]),
        ("DC", ["11"]),
        ("PR,72", ["72"]),
        ("1,AK", ["01", "02"]),
    ],
)
def test_parse_states(spec, expected):
    assert parse_states(spec) == expected


def test_parse_states_default_is_50_states_and_dc():
    default = parse_states(None)
    assert default == list(STATES_AND_DC_FIPS)
    assert len(default) == 51 and "11" in default and "72" not in default


@pytest.mark.parametrize("spec, bad", [("CA,XX", "'XX'"), ("03", "'03'"), ("US", "'US'"), ("00", "'00'"), ("006", "'006'"), ("California", "'California'")])
def test_parse_states_rejects_unknown_listing_valid(spec, bad):
    with pytest.raises(typer.BadParameter) as info:
        parse_states(spec)
    text = str(info.value)
    assert f"unknown state {bad}" in text
    assert "Valid:" in text and "CA (06)" in text and "WY (56)" in text


def test_parse_states_rejects_empty():
    with pytest.raises(typer.BadParameter, match="no states given"):
        parse_states("  ")
    with pytest.raises(typer.BadParameter, match="empty item"):
        parse_states("CA,")
