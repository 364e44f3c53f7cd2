"""A fake Urban Institute Education Data Portal API for tests and the `demo` command.

`FakeUrbanApi(load_dataset()).start()` serves the dataset shipped in `data/` (real data where
it exists, clearly labelled synthetic finance and CRDC records; see data/README.md) on a free
port of 127.0.0.1, with faults on demand.
"""

from districtbench.fakeapi.dataset import Dataset, load_dataset
from districtbench.fakeapi.faults import KINDS as FAULT_KINDS
from districtbench.fakeapi.server import FakeUrbanApi

__all__ = ["FAULT_KINDS", "Dataset", "FakeUrbanApi", "load_dataset"]
