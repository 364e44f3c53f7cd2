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


class WriteShortfallError(ComputeError):
    """The database wrote fewer rows than were meant to change (row-level security, a rule or
    a trigger skipped some): the run is rolled back rather than reported as done."""

    def __init__(self, table: str, meant: int, written: int, families: list[str]):
        super().__init__(
            f"UPDATE {table} wrote {written:,} of the {meant:,} rows whose values changed "
            f"(for {', '.join(families)}): a row-level security policy, rule or trigger on {table} "
            "kept the others from being written.",
            hint=(
                f"Nothing was committed. Run compute as a role that may update every row of {table} "
                f"(PostgreSQL: SELECT * FROM pg_policies WHERE tablename = '{table}' lists its policies)."
            ),
        )
        self.table = table
        self.meant = meant
        self.written = written
        self.families = families
