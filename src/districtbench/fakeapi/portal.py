"""A fake state data portal in the style of Socrata's SODA API, served by the fake server.

    GET /resource/<dataset>.json?year=2021&$limit=1000&$offset=0

answers a plain JSON list of records (no envelope): equality filters on any field (`year=2021`;
an unknown field answers HTTP 400 with Socrata's error object), `$limit` (default 1000, at most
50,000) and `$offset` in a fixed order; values are text, and a field without a value is left
out of its record, as Socrata does. The fake server's faults (500, slow, HTML…) apply to these
paths like any other; `ignore=("$offset",)` makes a portal that ignores a paging parameter.

`GET /resource/<dataset>.cursor.json?$limit=N&cursor=C`: the same records in pages of a cursor
API, `{"data": [...], "next_cursor": "…" or null}`.

`texas_tapr_portal(real_dir)` serves the REAL Texas Education Agency TAPR district file of
`shared/data/real/texas-tapr/` as dataset `tapr-districts`: one record per district and year
(2012 … 2021) with TEA's own columns (`tea_district`, `school_year`, `year`, `DPETALLC`
enrollment, `DPETSPEC` special education, `DPETLEPC` English learners, `DPSTTOFC` teacher FTE,
`DPSATOFC` staff FTE) and `LEAID`, the NCES district id from the CCD 2013-14 crosswalk in the
same folder (absent for the districts the crosswalk lacks). TAPR has no graduation data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Mapping, Sequence

PREFIX = "/resource/"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 50_000
TAPR_DATASET = "tapr-districts"
TAPR_FIELDS = ("school_year", "year", "tea_district", "DPETALLC", "DPETSPEC", "DPETLEPC", "DPSTTOFC", "DPSATOFC")


class StatePortal:
    """Datasets by id (`tapr-districts`), each a list of records (field → text)."""

    def __init__(self, datasets: Mapping[str, Sequence[Mapping[str, str]]], *, ignore: Sequence[str] = ()):
        self.datasets = {name: [dict(record) for record in records] for name, records in datasets.items()}
        self.ignore = frozenset(ignore)

    def serves(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def answer(self, path: str, query: Sequence[tuple[str, str]]) -> tuple[int, bytes]:
        """(HTTP status, JSON body) of one request."""
        name = path[len(PREFIX):]
        name = name[:-len(".json")] if name.endswith(".json") else name
        cursor_style = name.endswith(".cursor")
        name = name[:-len(".cursor")] if cursor_style else name
        records = self.datasets.get(name)
        if records is None:
            return _error(404, "not_found", f"Dataset {name!r} not found")
        known = {field for record in records for field in record}
        limit, offset = DEFAULT_LIMIT, 0
        filters: dict[str, str] = {}
        for key, value in query:
            if key in self.ignore:
                continue
            if cursor_style and key == "cursor":
                key = "$offset"
            if key in ("$limit", "$offset"):
                if not value.isdigit():
                    return _error(400, "query.soql.invalid", f"{key} must be a non-negative integer")
                if key == "$limit":
                    limit = min(int(value), MAX_LIMIT)
                else:
                    offset = int(value)
            elif key == "$order":
                continue  # served in one fixed order already
            elif key.startswith("$"):
                return _error(400, "query.soql.invalid", f"unsupported parameter {key}")
            elif key not in known:
                return _error(400, "query.soql.no-such-column", f"No such column: {key}")
            else:
                filters[key] = value
        selected = [record for record in records if all(record.get(k) == v for k, v in filters.items())]
        page = selected[offset:offset + limit]
        if cursor_style:
            following = str(offset + limit) if offset + limit < len(selected) else None
            return 200, json.dumps({"data": page, "next_cursor": following}).encode()
        return 200, json.dumps(page).encode()


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": True, "code": code, "message": message}).encode()


def texas_tapr_records(real_dir: Path) -> list[dict[str, str]]:
    """The TAPR district rows as portal records (text values; `.` and blanks left out)."""
    folder = Path(real_dir) / "texas-tapr"
    with open(folder / "tx_ccd_2013_districts_crosswalk.csv", encoding="latin-1", newline="") as handle:
        leaid_of = {row["STID"]: row["LEAID"].zfill(7) for row in csv.DictReader(handle)}
    records = []
    with open(folder / "tx_tapr_districts_2012-2021.csv", encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            record = {field: row[field].strip() for field in TAPR_FIELDS if row[field].strip() not in ("", ".")}
            if row["tea_district"] in leaid_of:
                record["LEAID"] = leaid_of[row["tea_district"]]
            records.append(record)
    records.sort(key=lambda record: (record["year"], record["tea_district"]))
    return records


def texas_tapr_portal(real_dir: Path) -> StatePortal:
    return StatePortal({TAPR_DATASET: texas_tapr_records(real_dir)})

