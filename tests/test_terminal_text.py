"""No escape sequence or control character from the API or the database reaches the terminal:
`text.printable` itself, the consoles (rich styling kept), and through `show`, the
backfill progress lines and error messages, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from districtbench import console
from districtbench.cli import build_app
from districtbench.db import tables
from districtbench.db.timestamps import utcnow
from districtbench.fakeapi import dataset as ds
from districtbench.plugins.hookspecs import hookimpl
from districtbench.plugins.host import build_plugin_manager
from districtbench.sources.base import Source
from districtbench.text import clean_text, printable
from tests import expected as ex

CLEAR_AND_RETITLE = "\x1b[2J\x1b[H\x1b]0;pwned\x07"
# Anything a terminal would act on: ESC, C0 but tab/newline, DEL, C1, bidi overrides.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    "raw, single_line, multi_line",
    [
        ("Plain ISD", "Plain ISD", "Plain ISD"),
        (f"{CLEAR_AND_RETITLE}Evil ISD", "Evil ISD", "Evil ISD"),
        ("a\x1b]2;title\x1b\\b", "ab", "ab"),  # OSC ended by ST
        ("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb", "alinkb"),  # hyperlink
        ("a\x9b31mred\x9d0;t\x9cb", "aredb", "aredb"),  # 8-bit CSI and OSC
        ("a\x1b[31", "a31", "a31"),  # unfinished: the ESC goes, the rest is inert text
        ("a\x1b]0;no end", "a0;no end", "a0;no end"),
        ("a\x1bcb\x1b(Bc", "abc", "abc"),  # reset, charset
        ("N\x00U\x07L\x08L\x7f", "NULL", "NULL"),
        ("one\r\ntwo\rthree\nfour", "one two three four", "one\ntwo\nthree\nfour"),
        ("tab\tand\x0bform\x0cfeed", "tab and form feed", "tab\tand form feed"),
        ("line\u2028separator", "line separator", "line\nseparator"),
        ("abc\u202edcba\u2066x\u2069", "abcdcbax", "abcdcbax"),
        ("Ñandú École 学区 — ok", "Ñandú École 学区 — ok", "Ñandú École 学区 — ok"),
    ],
)
def test_printable(raw, single_line, multi_line):
    assert printable(raw) == single_line
    assert printable(raw, keep_newlines=True) == multi_line
    assert clean_text(raw) == (single_line, single_line != raw)


def test_a_terminal_console_keeps_its_own_styles_and_drops_foreign_escapes():
    buffer = io.StringIO()
    terminal = console._console(file=buffer, force_terminal=True, color_system="standard", width=80)
    terminal.print(f"[bold]{console.safe(CLEAR_AND_RETITLE + 'Evil [/bold] ISD')}[/bold] and {CLEAR_AND_RETITLE}raw")
    table = console.table("t", "name")
    table.add_row(f"{CLEAR_AND_RETITLE}cell")
    terminal.print(table)
    out = buffer.getvalue()
    assert "\x1b[1m" in out  # rich's bold
    assert "\x1b[2J" not in out and "\x1b]" not in out and "\x07" not in out and "pwned" not in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # without rich's own colours: nothing else
    assert not CONTROL.search(plain.replace("\n", ""))
    assert "Evil [/bold] ISD and raw" in plain and "cell" in plain


def test_console_messages_and_tracebacks_are_clean(capsys):
    console.info(f"info {CLEAR_AND_RETITLE}one\r\ntwo")
    console.note(f"note {CLEAR_AND_RETITLE}[/dim]")
    console.warn(f"warn {CLEAR_AND_RETITLE}")
    console.error_line(f"error {CLEAR_AND_RETITLE}\x9b2Jdone")
    try:
        raise ValueError(f"bad {CLEAR_AND_RETITLE}value")
    except ValueError as exc:
        console.print_traceback(exc)
    err = capsys.readouterr().err
    assert not CONTROL.search(err.replace("\n", "")), repr(err)
    assert "info one\ntwo" in err and "note [/dim]" in err and "error: error done" in err
    assert "ValueError: bad value" in err


def _hostile_district(engine) -> None:
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            tables.districts.insert(),
            [
                {"leaid": "0500001", "name": f"{CLEAR_AND_RETITLE}Evil [/bold] ISD\u202e", "state_fips": "05",
                 "state_abbrev": "AR", "city_location": "Little\x08 Rock\r", "county_name": "Pulaski\x1b[5m",
                 "enrollment": 1200, "swd_pct_quartile_state": "\x1b[2J[/red]x", "created_at": now, "updated_at": now},
                {"leaid": "0500002", "name": f"Evil Twin{CLEAR_AND_RETITLE}", "state_fips": "05",
                 "state_abbrev": "AR", "city_location": None, "county_name": None, "enrollment": None,
                 "swd_pct_quartile_state": None, "created_at": now, "updated_at": now},
            ],
        )


def test_show_prints_database_text_without_escapes(db_url, db_engine):
    _hostile_district(db_engine)
    result = ex.cli(db_url, "show", "0500001")
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output.replace("\n", "")), repr(result.output)
    lines = result.stdout.splitlines()
    assert lines[0] == "Evil [/bold] ISD"
    assert lines[1].startswith("leaid 0500001 · Little Rock , Pulaski, Arkansas")
    assert "[/red]x" in result.stdout  # a stored flag is shown as text, not read as markup


def test_an_error_message_listing_database_names_is_clean(db_url, db_engine):
    _hostile_district(db_engine)
    result = ex.cli(db_url, "show", "evil")
    assert result.exit_code == 2
    assert not CONTROL.search(result.output.replace("\n", "")), repr(result.output)
    text = " ".join(result.stderr.split())
    assert "Several districts match 'evil'" in text
    assert "0500001 Evil [/bold] ISD (AR); 0500002 Evil Twin (AR)" in text


@dataclass(frozen=True)
class Exploding(Source):
    def parse_unit(self, listings, year, state_fips):
        raise ValueError(f"record {CLEAR_AND_RETITLE}47\x00 is bad")


class ExplodingPlugin:
    @hookimpl
    def register_sources(self, register) -> None:
        register(Exploding(name="exploding", history_source="ccd_directory", endpoints=(ds.DIRECTORY,),
                           years=(2018,), columns=("enrollment",), required_fields={}))


def test_backfill_progress_and_summary_are_clean(db_url, fake_api):
    ex.warm_dataset()
    pm = build_plugin_manager(load_entry_points=False, extra_plugins=[ExplodingPlugin()])
    args = ["--database-url", db_url, "--api-url", fake_api.url, "backfill", "exploding", "--years", "2018", "--states", "AK"]
    result = CliRunner().invoke(build_app(plugin_manager=pm), args, env={"DISTRICTBENCH_BACKOFF_BASE": "0.01"})
    assert result.exit_code == 1, result.output
    assert not CONTROL.search(result.output.replace("\n", "")), repr(result.output)
    lines = result.stderr.splitlines()
    assert "error: exploding 2018 AK: FAILED: parse error: ValueError: record 47 is bad" in lines
    assert "  exploding 2018 AK: parse error: ValueError: record 47 is bad" in lines


def test_status_prints_logged_text_without_escapes(db_url, db_engine):
    now = utcnow()
    with db_engine.begin() as connection:
        connection.execute(tables.data_refresh_logs.insert(), [{
            "data_source": "compute:latest[/red]", "records_updated": 0, "records_failed": 0,
            "status": "\x1b]0;x\x07failed", "error_message": f"boom {CLEAR_AND_RETITLE}[/bold] at row 3",
            "started_at": now, "completed_at": now,
        }])
    result = ex.cli(db_url, "status")
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output.replace("\n", "")), repr(result.output)
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "latest[/red] failed 0 0" in text and "boom [/bold] at row 3" in text
