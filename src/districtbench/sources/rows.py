"""The host's side of the row contract: what it does for every row-level source.

A row-level source (`DistrictSource`) turns ONE district record into its values
(`parse_row`) or raises `DropRow(reason)`. The host does the rest, the same for every source:

1. the district records of the unit (`district_records`): from the source's one listing, rows
   that are not the all-students total dropped (`subgroup_columns`), the leaid checked (field
   `leaid_field`) and the fips (field `fips_field`; None: the state is the leaid's first two
   digits), duplicates of a leaid reduced to one chosen by content — each drop counted in
   `skipped` under its reason;
2. `batch_context` once, then `parse_row` for each record, in leaid order;
3. the roster row of each kept district, for a source that `provides_roster` (a record
   without a name drops the row);
4. every value fitted to its column (`fit_value`): an int, a float or a Decimal in the
   column's Python type (NUMERIC rounded to its scale, too many digits or beyond INTEGER →
   NULL, counted in `nulled`); the `nulled` counts of a dropped row are discarded.

Fetch once: the units of one fetch task (the plan groups sources whose requests are
identical for a year and state, `plan.group_tasks`) parse the same `TaskListings`. It derives
the validated district records and the roster rows once per listing, whichever of its
sources asks first; the others get the same objects.
"""

from __future__ import annotations

import functools
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Mapping

from districtbench.sources.base import UnitRows
from districtbench.sources.roster import roster_row
from districtbench.sources.values import (
    INT_MAX,
    DropRow,
    Row,
    _column_spec,
    fit,
    raw_number,
)

if TYPE_CHECKING:
    from districtbench.sources.district import DistrictSource


class TaskListings:
    """The listings of one fetch (endpoint key → records, all for `state_fips`), with what
    the host derives from them, computed once for all the units that read them."""

    def __init__(self, listings: Mapping[str, list[dict[str, Any]]], state_fips: str):
        self.listings = listings
        self.state_fips = state_fips
        self._records: dict[tuple, tuple[dict[str, Row], Counter]] = {}
        self._rosters: dict[tuple, dict[str, tuple[Any, tuple]]] = {}

    def records(self, source: DistrictSource) -> tuple[dict[str, Row], Counter, dict]:
        """(leaid → record sorted by leaid, rows dropped by reason, the roster results of
        those records so far) for the source's validation rules."""
        key = (source.endpoint, source.leaid_field, source.fips_field, source.subgroup_columns)
        found = self._records.get(key)
        if found is None:
            dropped: Counter = Counter()
            # the default `district_records` (a source overriding it does not come here)
            records = source.district_records(self.listings, self.state_fips, dropped, Counter())
            found = self._records[key] = (records, dropped)
            self._rosters[key] = {}
        return found[0], found[1], self._rosters[key]


def parse_unit(source: DistrictSource, task: TaskListings) -> UnitRows:
    """The rows of one unit of a row-level source (the steps in the module docstring)."""
    out = UnitRows()
    state_fips = task.state_fips
    if _own_records(source):
        mine = {endpoint.key: task.listings.get(endpoint.key) or [] for endpoint in source.endpoints}
        found = source.district_records(mine, state_fips, out.skipped, out.nulled)
        records = found if _sorted(found) else dict(sorted(found.items()))
        rosters: dict = {}
    else:
        records, dropped, rosters = task.records(source)
        out.skipped.update(dropped)
    context = source.batch_context(records)
    columns, extras = source.columns, source.extras
    # (column, quantum, limit): INTEGER (None, INT_MAX); NUMERIC (10**-scale, bound - 1)
    specs = [(column, *_limits(column)) for column in columns]
    extra_specs = [(column, *_limits(column)) for column in extras]
    extra_rows = out.extras
    provides_roster = source.provides_roster
    parse_row = source.parse_row
    history, roster_rows = out.history, out.roster
    nulled: Counter = Counter()  # one row's counts; kept only if the row is
    roster_nulled: Counter = Counter()
    roster = None
    for leaid, record in records.items():
        try:
            values = parse_row(record, nulled, context)
            if provides_roster:
                cached = rosters.get(leaid)
                if cached is None:
                    try:
                        made = roster_row(leaid, record, state_fips, roster_nulled)
                    except DropRow as drop:
                        made = drop.reason
                    cached = rosters[leaid] = (made, tuple(roster_nulled.items()))
                    roster_nulled.clear()
                roster, counts = cached
                if type(roster) is str:
                    raise DropRow(roster)
                for reason, count in counts:
                    nulled[reason] += count
            row = _fitted({"leaid": leaid}, specs, values, nulled)
            if extras:
                extra = _fitted({"leaid": leaid}, extra_specs, values, nulled)
        except DropRow as drop:
            out.skipped[drop.reason] += 1
            nulled.clear()
            continue
        if nulled:
            out.nulled.update(nulled)
            nulled.clear()
        history.append(row)
        if extras:
            extra_rows.append(extra)
        if provides_roster:
            roster_rows.append(roster)
    return out


def _own_records(source: DistrictSource) -> bool:
    """True when the source assembles its district records itself (overrides
    `district_records`); the host's records are shared between the units of a fetch."""
    from districtbench.sources.district import DistrictSource

    return type(source).district_records is not DistrictSource.district_records


def _sorted(records: Mapping[str, Row]) -> bool:
    previous = ""
    for leaid in records:
        if leaid < previous:
            return False
        previous = leaid
    return True


def fit_value(column: str, value: Any, nulled: Counter) -> int | Decimal | None:
    """`value` (None, an int, a float, a Decimal — or what `values.raw_number` reads as a
    number) in the Python type of `column`; None, counted, if it is no number or does not
    fit. A value already fitted comes back as it is."""
    if value is None:
        return None
    quantum, limit = _limits(column)
    if quantum is None:
        if type(value) is int and -limit <= value <= limit:
            return value
    elif type(value) is Decimal and -limit < value < limit:
        return value.quantize(quantum, rounding=ROUND_HALF_UP)
    return _general(column, value, nulled)


def _fitted(row: dict[str, Any], specs: list, values: Mapping[str, Any], nulled: Counter) -> dict[str, Any]:
    """`row` with the values of the `specs` columns fitted (`fit_value`, its common case —
    a value already fitted, as `measure` returns it — inline: one call per row, not per value)."""
    for column, quantum, limit in specs:
        value = values[column]
        if value is None:
            pass
        elif quantum is None:
            if not (type(value) is int and -limit <= value <= limit):
                value = _general(column, value, nulled)
        elif type(value) is Decimal and -limit < value < limit:
            value = value.quantize(quantum, rounding=ROUND_HALF_UP)
        else:
            value = _general(column, value, nulled)
        row[column] = value
    return row


@functools.lru_cache(maxsize=None)
def _limits(column: str) -> tuple[Decimal | None, int | Decimal]:
    """(None, INT_MAX) for an INTEGER column; (10**-scale, 10**(precision-scale) - 1) for a
    NUMERIC one: below that, rounding to the scale can never reach the bound."""
    quantum, bound, _ = _column_spec(column)
    return (None, INT_MAX) if quantum is None else (quantum, bound - 1)


def _general(column: str, value: Any, nulled: Counter) -> int | Decimal | None:
    if type(value) is int:
        return fit(column, Decimal(value), nulled)
    return fit(column, raw_number(value, column, nulled), nulled)
