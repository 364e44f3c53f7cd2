"""Typed errors raised by library code; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class DistrictbenchError(Exception):
    """Base of every error districtbench reports to the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(DistrictbenchError):
    """Bad option value, unknown source or family, a year a source does not have."""


class ConfigurationError(DistrictbenchError):
    """A setting (database URL, API URL) cannot be used."""


class DatabaseUnavailableError(DistrictbenchError):
    """The database cannot be reached."""


class NotMigratedError(DistrictbenchError):
    """The database exists but its schema is missing or out of date."""


class PluginError(DistrictbenchError):
    """Two plugins claim the same name, or a plugin registered something unusable."""


class FetchError(DistrictbenchError):
    """A request to the Urban API failed for good (after retries) or returned bad data."""

    exit_code = 1

    def __init__(self, url: str, reason: str):
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class ComputeError(DistrictbenchError):
    """A metric family failed."""

    exit_code = 1
