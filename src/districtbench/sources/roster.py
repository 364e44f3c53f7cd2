"""The `districts` roster fields of a directory row (names, city, county, codes).

Text from the API loses control characters and escape sequences (counted: PostgreSQL refuses
a NUL, a terminal obeys `ESC[2J`); free text longer than its column is cut to the column's
length (counted), so a 300-character district name keeps its district; a code that does not
fit (`urban_centric_locale`: `Infinity`, `1e400`, a list) is None, counted.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from districtbench.db import tables
from districtbench.db.states import BY_FIPS
from districtbench.sources.values import INT_MAX, DropRow, Row, fit, to_number
from districtbench.text import clean_text

NO_NAME = "no district name"


@functools.lru_cache(maxsize=None)
def _text_limit(column: str) -> int | None:
    return tables.districts.c[column].type.length


# Free text is cut to its column; a code (state_abbrev) that does not fit is wrong, not long.
_CUT_TO_FIT = frozenset({"name", "city_location", "county_name"})


def _text(value: Any, column: str, nulled: Counter) -> str | None:
    """API text for a roster column: cleaned of control characters (counted), stripped, cut to
    the column's length (counted) — or, for a code column, None when too long (counted)."""
    if value is None:
        return None
    if type(value) is str:
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    else:  # a list, an object, true/false: not text
        nulled[f"not text: {column}"] += 1
        return None
    text, cleaned = clean_text(text)
    if cleaned:
        nulled[f"control characters removed: {column}"] += 1
    text = text.strip()
    if not text:
        return None
    limit = _text_limit(column)
    if limit and len(text) > limit:
        if column not in _CUT_TO_FIT:
            nulled[f"too long for column: {column}"] += 1
            return None
        nulled[f"cut to {limit} characters: {column}"] += 1
        text = text[:limit].rstrip()
    return text


def _code(value: Any, column: str, nulled: Counter) -> int | None:
    """A code column (urban_centric_locale): kept as sent, negatives included; a value that is
    not a whole number of INTEGER range is None (counted)."""
    if value is None or (type(value) is str and not value.strip()):
        return None
    if type(value) is int and abs(value) <= INT_MAX:
        return value
    number = None
    if not isinstance(value, bool):
        try:
            number = int(value) if isinstance(value, str) else value
            if isinstance(number, float):
                number = int(number) if number.is_integer() else None
        except (TypeError, ValueError, OverflowError):
            number = None
    if type(number) is not int or abs(number) > INT_MAX:
        nulled[f"not a code: {column}"] += 1
        return None
    return number


def roster_row(leaid: str, record: Row, state_fips: str, nulled: Counter) -> dict[str, Any]:
    """The `districts` roster fields of a directory row; DropRow(NO_NAME) without a name."""
    name = _text(record.get("lea_name"), "name", nulled)
    if name is None:
        raise DropRow(NO_NAME)
    abbrev = BY_FIPS.get(state_fips, (None, None))[0] or _text(
        record.get("state_location"), "state_abbrev", nulled
    )
    return {
        "leaid": leaid,
        "name": name,
        "state_fips": state_fips,
        "state_abbrev": abbrev,
        "city_location": _text(record.get("city_location"), "city_location", nulled),
        "county_name": _text(record.get("county_name"), "county_name", nulled),
        "urban_centric_locale": _code(record.get("urban_centric_locale"), "urban_centric_locale", nulled),
        "number_of_schools": fit(
            "number_of_schools", to_number(record.get("number_of_schools"), "number_of_schools", nulled), nulled
        ),
    }
