"""Access to the HTTP APIs sources read: the Urban Institute Education Data Portal API, and
those of plugins' sources (the only HTTP in districtbench).

`UrbanClient` is imported on first use: a source's declaration imports the paginators of this
package, and a command that sends no request (compute, export) must not load `requests`.
"""

from typing import Any

__all__ = ["UrbanClient"]


def __getattr__(name: str) -> Any:
    if name == "UrbanClient":
        from districtbench.urban.client import UrbanClient

        return UrbanClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
