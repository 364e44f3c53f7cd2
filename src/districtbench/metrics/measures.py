"""Which history sources feed which measures: read from the sources' own declarations.

A measure is a `district_data_history` column a metric reads (`graduation_rate`,
`enrollment`, …). Each registered source declares the measures its rows provide
(`Source.provides`, by default every column it writes); the metric families ask here which
history sources (`district_data_history.source` values) provide the columns of a series, and
in which order of precedence. Nothing in the metrics names a source.

Precedence, for one measure in one state and year (metrics.md, "as-of year per measure"):
the state's rows of that year come from the providing source with the highest `priority`,
then the one registered first — the built-in (federal) sources are registered before any
installed or plugins-folder source, so by default a plugin's source only fills the
state-years the federal data lacks. Several source plugins may write one history source
(`enrollment` and `ell` both write `ccd_directory` rows): it provides the union of their
measures, at the highest of their priorities, in the place of the first of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable


@dataclass(frozen=True)
class Provider:
    """One history source and the measures its rows provide."""

    history_source: str
    measures: frozenset[str]
    priority: int = 0


@dataclass(frozen=True)
class Measures:
    """The providers of every measure, best first (module doc)."""

    providers: tuple[Provider, ...]

    def sources_of(self, columns: Iterable[str]) -> tuple[str, ...]:
        """The history sources whose rows provide every one of `columns`, best first."""
        wanted = set(columns)
        return tuple(p.history_source for p in self.providers if wanted <= p.measures)

    def rank(self, history_source: str) -> int:
        """The place of a history source in the precedence (0 = best)."""
        return [p.history_source for p in self.providers].index(history_source)


def from_sources(sources: Iterable[object]) -> Measures:
    """The providers declared by registered sources (`Source.history_source`,
    `provided_measures`, `priority`), in registration order."""
    merged: dict[str, Provider] = {}
    for source in sources:
        name = source.history_source
        measures = frozenset(source.provided_measures)
        if name in merged:
            known = merged[name]
            measures |= known.measures
            priority = max(known.priority, source.priority)
        else:
            priority = source.priority
        merged[name] = Provider(name, measures, priority)
    order = list(merged)
    ranked = sorted(merged.values(), key=lambda p: (-p.priority, order.index(p.history_source)))
    return Measures(tuple(ranked))


@lru_cache(maxsize=1)
def built_in() -> Measures:
    """The providers of the built-in sources only (a run or a reader given no registry)."""
    from districtbench.plugins.host import build_plugin_manager, collect_sources

    return from_sources(collect_sources(build_plugin_manager(load_entry_points=False)))
