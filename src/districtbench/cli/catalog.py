"""The API's catalog for the commands that fetch (`run`, `backfill`, `demo`) and `sources`.

`sources_as_the_api_has_them` reads the catalog (or its cached copy, a day at most), applies it
to the sources and prints what the user must know: where the years come from, and a warning
when the catalog cannot be read and the built-in years are used instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import typer

from districtbench import console

if TYPE_CHECKING:
    from districtbench.backfill.availability import Availability
    from districtbench.config import Settings
    from districtbench.sources.base import Source

REFRESH_HELP = "Read the API's catalog of years and fields again, even if the cached copy is less than a day old."
# The catalog is small and asked for first: a short retry budget, so an API that is down is
# reported (and the built-in years used) in seconds, not minutes.
CATALOG_RETRIES = 2


def refresh_option() -> bool:
    return typer.Option(False, "--refresh-catalog", help=REFRESH_HELP)


def sources_as_the_api_has_them(
    settings: Settings,
    sources: Sequence[Source],
    *,
    refresh: bool = False,
    use_cache: bool = True,
    backoff_base: float = 1.0,
    quiet: bool = False,
) -> Availability:
    """The sources with the years, filters and fields of the API's catalog (or built in)."""
    from districtbench.backfill.availability import built_in, resolve
    from districtbench.urban.catalog import CatalogUnavailable, load_catalog
    from districtbench.urban.client import UrbanClient

    templates = [endpoint.template for source in sources for endpoint in source.endpoints if not endpoint.own_api]
    with UrbanClient(settings.api_url, max_retries=CATALOG_RETRIES, backoff_base=backoff_base,
                     deadline=60, listing_timeout=120, give_up_after=0, keep_results=False) as client:
        try:
            catalog = load_catalog(client, settings.api_url, templates,
                                   cache_dir=settings.cache_dir if use_cache else None, refresh=refresh)
        except CatalogUnavailable as exc:
            availability = built_in(sources, exc.reason)
        else:
            availability = resolve(sources, catalog)
    for warning in availability.warnings:
        console.warn(warning)
    if not quiet:
        console.note(f"years from {availability.origin}")
        for note in availability.notes:
            console.note(note)
    return availability
