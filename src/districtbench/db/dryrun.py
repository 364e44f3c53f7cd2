"""The SQL a migration sends, recorded as it runs in a transaction that is then rolled back.

`migrate --sql` and the preview of `migrate --downgrade` run the real upgrade or downgrade
against the database (both PostgreSQL and SQLite change their schema transactionally),
record every statement that changes something, with its parameters written in, and roll
everything back. What they show is exactly what `migrate` would run on that database,
adoption decisions included, not the DDL of some other, empty database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.engine import Connection

# Statements that only read or set up the session are not shown.
_CHANGES = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "COMMENT")


class StatementRecorder:
    """Listens on one connection; `statements` are the changing ones, as SQL text."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.statements: list[str] = []
        event.listen(connection, "before_cursor_execute", self._record)

    def close(self) -> None:
        event.remove(self.connection, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.lstrip().split(None, 1)
        if not words or words[0].upper() not in _CHANGES:
            return
        # an executemany gets a list of parameter sets; insertmanyvalues batches come as one set
        many = executemany and isinstance(parameters, list) and parameters and isinstance(parameters[0], (dict, tuple, list))
        batches = parameters if many else [parameters]
        for params in batches:
            self.statements.append(_render(cursor, statement, params).strip().rstrip(";") + ";")


def _render(cursor, statement: str, parameters) -> str:
    if not parameters:
        return statement
    mogrify = getattr(cursor, "mogrify", None)  # psycopg2
    if mogrify is not None:
        text = mogrify(statement, parameters)
        return text.decode() if isinstance(text, bytes) else text
    return _fill_qmarks(statement, list(parameters))


def _fill_qmarks(statement: str, values: list) -> str:
    """SQLite's `?` placeholders replaced by literals (outside quoted text)."""
    out: list[str] = []
    quote: str | None = None
    position = 0
    for char in statement:
        if quote:
            out.append(char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?" and position < len(values):
            out.append(literal(values[position]))
            position += 1
        else:
            out.append(char)
    return "".join(out)


def literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"
