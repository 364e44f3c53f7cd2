"""A plugin that cannot be loaded is a warning line on stderr, never a Python warning with
a file name and line number."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

from districtbench import console
from districtbench.plugins.host import PluginLoadWarning


@contextmanager
def shown_as_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        yield
    for warning in caught:
        console.warn(str(warning.message))
