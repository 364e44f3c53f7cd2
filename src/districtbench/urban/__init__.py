"""Access to the Urban Institute Education Data Portal API (the only HTTP in districtbench)."""

from districtbench.urban.client import UrbanClient

__all__ = ["UrbanClient"]
