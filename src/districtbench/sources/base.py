"""What a source plugin is. A source declares; the host fetches, writes and resumes.

A source never touches the database, rich, threads or `time.sleep`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """Declarative part of a source plugin, shared by every source.

    name: what users type (`enrollment`).
    history_source: the `district_data_history.source` value it writes (`ccd_directory`).
    endpoints: API path templates with `{year}` (relative to the API base URL).
    years: the years the API has for it.
    columns: the `district_data_history` columns it writes (and nothing else).
    required_fields: fields that must appear in the response; absent from every row = failure.
    """

    name: str
    history_source: str
    endpoints: tuple[str, ...]
    years: tuple[int, ...]
    columns: tuple[str, ...]
    required_fields: tuple[str, ...]
    description: str = ""
