"""Validation rules every source shares (cli.md "How backfill behaves", urban-api.md).

- `leaid` becomes a 7-character zero-padded string; one that is not 7 digits after padding,
  a `fips` that disagrees with its first two digits, or a row of another state is dropped
  and counted.
- On measure columns the missing codes -1/-2/-3 and JSON null become None; any other negative
  measure becomes None and is counted in `nulled`. Code columns are never touched here.
- A percentage outside 0–100 drops the row (counted). A value that does not fit its column
  (INTEGER above 2**31-1, NUMERIC(p,s) with too many integer digits) becomes None, counted.
- Duplicates of a leaid within a unit: one is kept, chosen by content (not by arrival order,
  which the API does not fix), the others are counted.
- A value that cannot be converted (`Infinity`, `NaN`, `1e400`, a string, a list) is None and
  counted, never an exception: one bad number must not fail a whole state-year.
- Roster text (names, cities, counties): see roster.py.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa

from districtbench.db import tables

MISSING_CODES = frozenset({Decimal(-1), Decimal(-2), Decimal(-3)})
INT_MAX = 2**31 - 1
# Numbers beyond 10**±MAX_EXPONENT fit no column and would overflow Decimal arithmetic
# (`1e999999 * 100` raises): they are treated as unconvertible.
MAX_EXPONENT = 30

# Reasons a row is dropped (UnitRows.skipped).
NO_LEAID = "no leaid"
INVALID_LEAID = "invalid leaid"
NO_FIPS = "no fips"
FIPS_MISMATCH = "fips disagrees with leaid"
OTHER_STATE = "fips of another state"
DUPLICATE_LEAID = "duplicate leaid"
PCT_OUT_OF_RANGE = "percentage out of range"
NOT_SUBGROUP_TOTAL = "not a subgroup total"

Row = Mapping[str, Any]


class DropRow(Exception):
    """Raised while parsing a row that must be dropped; `reason` is what gets counted."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- identifiers -------------------------------------------------------------------------

def normalize_leaid(value: Any) -> str:
    """`'0100002'`, `100002`, `'100002'` → `'0100002'`; raises DropRow otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DropRow(NO_LEAID)
    if isinstance(value, bool):
        raise DropRow(INVALID_LEAID)
    if isinstance(value, float):
        if not value.is_integer():
            raise DropRow(INVALID_LEAID)
        value = int(value)
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 7:
        raise DropRow(INVALID_LEAID)
    return text.zfill(7)


def normalize_fips(value: Any) -> str:
    """`6`, `'6'`, `'06'` → `'06'`; raises DropRow(NO_FIPS) when missing or unusable."""
    if value is None or isinstance(value, bool):
        raise DropRow(NO_FIPS)
    if isinstance(value, float):
        if not value.is_integer():
            raise DropRow(NO_FIPS)
        value = int(value)
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 2:
        raise DropRow(NO_FIPS)
    return text.zfill(2)


def district_leaid(record: Row, state_fips: str, leaid_field: str = "leaid", fips_field: str | None = "fips") -> str:
    """The validated leaid of a district (or school) row of the unit's state, or DropRow.
    Without a `fips_field` the state is the leaid's first two digits."""
    leaid = record.get(leaid_field)
    # common case first: already a 7-digit string (what normalize_leaid would return as is)
    if not (type(leaid) is str and len(leaid) == 7 and leaid.isdigit() and leaid.isascii()):
        leaid = normalize_leaid(leaid)
    if fips_field is None:
        fips = leaid[:2]
    else:
        fips = record.get(fips_field)
        fips = _FIPS_TEXT[fips] if type(fips) is int and 0 <= fips <= 99 else normalize_fips(fips)
    if leaid[:2] != fips:
        raise DropRow(FIPS_MISMATCH)
    if fips != state_fips:
        raise DropRow(OTHER_STATE)
    return leaid


_FIPS_TEXT = [f"{number:02d}" for number in range(100)]  # normalize_fips(n) for 0 <= n <= 99


def is_subgroup_total(record: Row, columns: Iterable[str]) -> bool:
    """True when every subgroup column present (and not null) in the row is 99."""
    for column in columns:
        value = record.get(column)
        if value is not None and value != 99:
            return False
    return True


def _content_key(record: Row) -> tuple[int, str]:
    filled = sum(value is not None for value in record.values())
    return filled, json.dumps(record, sort_keys=True, default=str)


def pick_one(records: list[Row]) -> Row:
    """The duplicate to keep: the most filled-in, ties broken by content — never by order."""
    if len(records) == 1:
        return records[0]
    return max(records, key=_content_key)


def group_unique(
    keyed: Iterable[tuple[str, Row]], skipped: Counter, reason: str
) -> dict[str, Row]:
    """key -> one record; the extra records of a key are counted under `reason`."""
    groups: dict[str, list[Row]] = {}
    for key, record in keyed:
        groups.setdefault(key, []).append(record)
    unique: dict[str, Row] = {}
    for key in sorted(groups):
        candidates = groups[key]
        if len(candidates) > 1:
            skipped[reason] += len(candidates) - 1
        unique[key] = pick_one(candidates)
    return unique


def district_records(
    records: Iterable[Row],
    state_fips: str,
    skipped: Counter,
    subgroup_columns: Iterable[str] | None = None,
    leaid_field: str = "leaid",
    fips_field: str | None = "fips",
) -> dict[str, Row]:
    """Validated, de-duplicated district rows of the unit: leaid -> record, sorted by leaid.

    With `subgroup_columns`, rows that are not the all-students total are dropped first.
    `leaid_field`, `fips_field`: where the row has them (no fips field: the leaid's state).
    """
    subgroup_columns = tuple(subgroup_columns or ())
    keyed: list[tuple[str, Row]] = []
    for record in records:
        if subgroup_columns and not is_subgroup_total(record, subgroup_columns):
            skipped[NOT_SUBGROUP_TOTAL] += 1
            continue
        try:
            keyed.append((district_leaid(record, state_fips, leaid_field, fips_field), record))
        except DropRow as drop:
            skipped[drop.reason] += 1
    return group_unique(keyed, skipped, DUPLICATE_LEAID)


# --- work shared by the sibling units of one fetch ---------------------------------------

_sharing = threading.local()


@contextlib.contextmanager
def sibling_units() -> Iterator[None]:
    """Inside this block (in this thread), sources parsing the SAME listing object share what
    they derive from it alone (`shared`): enrollment and ell read one directory page, and
    need its validated district rows and roster rows only once. The host opens it around
    the units of one fetch; the listings must not change inside it."""
    previous = getattr(_sharing, "cache", None)
    _sharing.cache = {}
    try:
        yield
    finally:
        _sharing.cache = previous


def shared(listing: list, key: tuple, compute: Callable[[], Any]) -> Any:
    """compute(), or, inside `sibling_units`, what it returned for this listing and key."""
    cache = getattr(_sharing, "cache", None)
    if cache is None:
        return compute()
    entry = cache.get((id(listing), key))
    if entry is not None and entry[0] is listing:
        return entry[1]
    value = compute()
    cache[(id(listing), key)] = (listing, value)  # the entry keeps the listing (and its id) alive
    return value


# --- measures ----------------------------------------------------------------------------

def raw_number(value: Any, label: str, nulled: Counter) -> Decimal | None:
    """A JSON value as an exact Decimal (sign and missing codes kept); null → None;
    a value that is not a number → None (counted)."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError, OverflowError):
        number = None
    if number is None or not number.is_finite():
        nulled[f"not a number: {label}"] += 1
        return None
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        nulled[f"out of range: {label}"] += 1
        return None
    return number


def to_number(value: Any, label: str, nulled: Counter) -> Decimal | None:
    """A measure as an exact Decimal; missing codes and null → None; other negatives → None
    (counted)."""
    number = raw_number(value, label, nulled)
    if number is None or number in MISSING_CODES:
        return None
    if number < 0:
        nulled[f"negative value: {label}"] += 1
        return None
    return number


def _column_type(column: str) -> sa.types.TypeEngine:
    for table in (tables.district_data_history, tables.districts, tables.history_extras):
        if column in table.c:
            return table.c[column].type
    raise KeyError(f"unknown column {column!r}")


@functools.lru_cache(maxsize=None)
def _column_spec(column: str) -> tuple[Decimal | None, Decimal | None, int | float]:
    """(quantum, bound, fast limit) of a column: NUMERIC(p,s) → (10**-s, 10**(p-s), a float
    safely below the bound); INTEGER → (None, None, INT_MAX)."""
    type_ = _column_type(column)
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Integer):
        scale = type_.scale or 0
        bound = Decimal(10) ** (type_.precision - scale)
        # below bound - 1, rounding to `scale` decimals can never reach the bound
        return Decimal(1).scaleb(-scale), bound, float(bound - 1)
    return None, None, INT_MAX


def fit(column: str, number: Decimal | None, nulled: Counter) -> int | Decimal | None:
    """`number` in the Python type of `column` (int or quantized Decimal), or None if it
    does not fit (counted)."""
    if number is None:
        return None
    quantum, bound, _ = _column_spec(column)
    if quantum is not None:
        # checked before quantizing: quantize() raises when the result has too many digits
        if abs(number) >= bound or abs(quantized := number.quantize(quantum, rounding=ROUND_HALF_UP)) >= bound:
            nulled[f"too large for column: {column}"] += 1
            return None
        return quantized
    if abs(number) > INT_MAX + 1:
        nulled[f"too large for column: {column}"] += 1
        return None
    integer = int(number.quantize(_ONE, rounding=ROUND_HALF_UP))
    if abs(integer) > INT_MAX:
        nulled[f"too large for column: {column}"] += 1
        return None
    return integer


_ONE = Decimal(1)


def measure(value: Any, column: str, nulled: Counter) -> int | Decimal | None:
    """A raw API measure for a count or amount column."""
    # The common cases first, with the same results as the general path below: a
    # non-negative JSON int or float comfortably inside the column's range.
    kind = type(value)
    if kind is int or kind is float:
        quantum, _, limit = _column_spec(column)
        if 0 <= value < limit:
            if quantum is None:
                if kind is int:
                    return value
                if value.is_integer():
                    return int(value)
                return int(Decimal(repr(value)).quantize(_ONE, rounding=ROUND_HALF_UP))
            number = Decimal(value) if kind is int else Decimal(repr(value))
            return number.quantize(quantum, rounding=ROUND_HALF_UP)
    return fit(column, to_number(value, column, nulled), nulled)


def percent_value(number: Decimal | None, column: str, nulled: Counter) -> Decimal | None:
    """A percentage (already a Decimal or None); outside 0–100 raises DropRow."""
    if number is None:
        return None
    if number < 0 or number > 100:
        raise DropRow(PCT_OUT_OF_RANGE)
    return fit(column, number, nulled)


def percent(value: Any, column: str, nulled: Counter) -> Decimal | None:
    """A raw API percentage. Missing codes and null → None; any other value outside 0–100
    (negatives included) raises DropRow."""
    number = raw_number(value, column, nulled)
    if number is None or number in MISSING_CODES:
        return None
    return percent_value(number, column, nulled)


def ratio(numerator: Decimal | int | None, denominator: Decimal | int | None, scale: int = 1) -> Decimal | None:
    """scale · numerator / denominator when both are present and the denominator > 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return Decimal(scale) * Decimal(numerator) / Decimal(denominator)


# CCD `grade_offered_ccd` codes: -1 Pre-K, 0 kindergarten, 1 … 13, 14 adult education,
# 15 ungraded; -2 (not applicable), -3 (suppressed) and anything else: no grade.
GRADE_CODES = range(-1, 16)


def grade(value: Any) -> int | None:
    """A `lowest_grade_offered` / `highest_grade_offered` code, or None. Here -1 is a grade
    (Pre-K), not the missing code it is for counts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    return value if type(value) is int and value in GRADE_CODES else None
