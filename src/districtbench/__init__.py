"""districtbench: benchmarks for every US school district."""

__version__ = "0.1.0"
