"""`--years latest` and `latest-N`: years chosen per source, from the years each one has.

`latest` is each source's latest year. `latest-N` is each source's latest year and the N
years it has before it — counting the years the source HAS, not calendar years: CRDC
absenteeism (2013, 2015, 2017, 2020, 2021) `latest-2` is 2017, 2020, 2021; the directory
(1986–2024) `latest-2` is 2022–2024. A source with fewer years gets all it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Latest:
    before: int = 0  # N of latest-N

    def pick(self, available: Iterable[int]) -> list[int]:
        years = sorted(set(available))
        return years[-(self.before + 1):] if years else []

    def __str__(self) -> str:
        return f"latest-{self.before}" if self.before else "latest"


YearSpec = Sequence[int] | Latest


def years_for(spec: YearSpec, available: Iterable[int]) -> list[int]:
    """The years of `spec` a source with `available` years runs."""
    if isinstance(spec, Latest):
        return spec.pick(available)
    wanted = set(available)
    return [year for year in spec if year in wanted]
