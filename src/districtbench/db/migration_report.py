"""What one upgrade or downgrade did: tables and columns before and after it, rows removed,
the app's column names in use, findings, and (dry run) the SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from districtbench.db import layout, tables
from districtbench.db.engine import own_schema
from districtbench.db.findings import Finding


def _changes(named: list[tuple[str, list[str]]], counted: list[tuple[str, list[str]]] = ()) -> str:
    """"created tables a, b; dropped tables c; added 3 columns", or "no table changes"."""
    parts = [f"{label} {', '.join(names)}" for label, names in named if names]
    parts += [f"{label} {len(names)} columns" for label, names in counted if names]
    return "; ".join(parts) or "no table changes"


@dataclass
class BranchReport:
    """What one plugin branch (`plugin_migrations`) did in a `migrate`."""

    name: str
    from_revision: str | None
    to_revision: str | None
    created_tables: list[str] = field(default_factory=list)
    dropped_tables: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision

    def summary(self) -> str:
        if not self.changed:
            return f"Plugin {self.name}: already up to date (revision {self.to_revision or 'none'})."
        details = _changes([("created tables", self.created_tables), ("dropped tables", self.dropped_tables)])
        return (f"Plugin {self.name}: migrated from {self.from_revision or 'nothing'} to "
                f"{self.to_revision or 'nothing'}: {details}.")


@dataclass
class MigrationReport:
    """What one upgrade or downgrade did, from the tables before and after it."""

    database: str
    from_revision: str | None
    to_revision: str | None
    created_tables: list[str] = field(default_factory=list)
    adopted_tables: list[str] = field(default_factory=list)
    dropped_tables: list[str] = field(default_factory=list)
    redefined_tables: list[str] = field(default_factory=list)  # kept, same columns, another definition
    added_columns: list[str] = field(default_factory=list)  # "table.column", on tables kept
    dropped_columns: list[str] = field(default_factory=list)
    removed_rows: list[str] = field(default_factory=list)  # "table key=value" a downgrade deletes
    renamed: list[tuple[str, str, str, str]] = field(default_factory=list)  # layout.Layout.renamed()
    findings: list[Finding] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)  # dry run: the SQL, in order
    plugins: list[BranchReport] = field(default_factory=list)  # one per plugin branch
    moved_back: list[str] = field(default_factory=list)  # "table → schema": bookkeeping a downgrade put back

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision

    @classmethod
    def compare(cls, database, start, end, before: dict[str, "Shape"], after: dict[str, "Shape"]) -> "MigrationReport":
        kept = [t for t in before if t in after]
        return cls(
            database, start, end,
            created_tables=[t for t in after if t not in before],
            adopted_tables=list(before) if start is None and end is not None else [],
            dropped_tables=[t for t in before if t not in after],
            redefined_tables=[t for t in kept if before[t].columns == after[t].columns
                              and before[t].definition != after[t].definition],
            added_columns=[f"{t}.{c}" for t in kept for c in after[t].columns if c not in before[t].columns],
            dropped_columns=[f"{t}.{c}" for t in kept for c in before[t].columns if c not in after[t].columns],
        )

    def summary(self) -> str:
        """One line on the core's schema, then one per plugin branch."""
        return "\n".join([self._core_summary(), *(branch.summary() for branch in self.plugins)])

    def _core_summary(self) -> str:
        if not self.changed:
            return f"Database {self.database} is already up to date (revision {self.to_revision})."
        details = _changes([("created tables", self.created_tables),
                            ("adopted existing tables", self.adopted_tables),
                            ("dropped tables", self.dropped_tables),
                            ("redefined tables", self.redefined_tables)],
                           [("added", self.added_columns), ("dropped", self.dropped_columns)])
        if self.moved_back:
            details += f"; moved back to the app's schema, where revision 0003 found them: {', '.join(self.moved_back)}"
        start = self.from_revision or "no districtbench schema"
        end = self.to_revision or "no districtbench schema"
        return f"Migrated {self.database} from {start} to {end}: {details}."

    def mapping_lines(self) -> list[str]:
        """"districts.graduation_rate_total → graduation_rate" (districtbench's name → the app's)."""
        return [f"{table}.{logical} → {physical}" + (" (configured)" if origin == layout.CONFIGURED else "")
                for table, logical, physical, origin in self.renamed]


@dataclass(frozen=True)
class Shape:
    """A table as `snapshot` saw it: its column names, and what else defines it — column
    types, nullability and defaults, keys, indexes and, on SQLite, its CREATE TABLE statement
    (which alone shows e.g. WITHOUT ROWID) — to tell a table rebuilt with the same columns."""

    columns: list[str]
    definition: tuple


def _definition(connection: Connection, inspector, name: str, schema: str | None, columns: list[dict]) -> tuple:
    described = tuple((c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in columns)
    key = tuple(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or ())
    indexes = tuple(sorted((i["name"] or "", tuple(map(str, i["column_names"])), bool(i["unique"]))
                           for i in inspector.get_indexes(name, schema=schema)))
    foreign = tuple(sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                           for f in inspector.get_foreign_keys(name, schema=schema)))
    created = ""
    if connection.dialect.name == "sqlite":
        created = connection.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
                                     {"name": name}).scalar() or ""
    return described, key, indexes, foreign, " ".join(created.split())


def snapshot(connection: Connection) -> dict[str, Shape]:
    """districtbench's tables present in the database, with their column names and
    definitions (the app's tables in the app's schema, districtbench's own in its own schema)."""
    inspector = sa.inspect(connection)
    schema = own_schema(connection)
    result = {}
    # an older installation's bookkeeping is still in the app's schema (until revision 0003)
    for names, schemas in ((tables.APP_TABLES, [None]), (tables.OWN_TABLES, list(dict.fromkeys([schema, None])))):
        for in_schema in schemas:
            present = set(inspector.get_table_names(schema=in_schema))
            for name in names:
                if name in present and name not in result:
                    columns = inspector.get_columns(name, schema=in_schema)
                    result[name] = Shape([c["name"] for c in columns],
                                         _definition(connection, inspector, name, in_schema, columns))
    return result


def recorded_rows(connection: Connection) -> list[str]:
    """Rows districtbench recorded inserting ("states fips=00")."""
    schema = own_schema(connection)
    if not sa.inspect(connection).has_table(tables.created_objects.name, schema=schema):
        return []
    c = tables.created_objects
    query = sa.select(c.c.table_name, c.c.name).where(c.c.kind == "row").order_by(c.c.id)
    return [f"{table} {name}" for table, name in connection.execute(query)]


def recorded_moves(connection: Connection) -> list[tuple[str, str]]:
    """(table, the app's schema it was in): bookkeeping revision 0003 moved into districtbench's schema."""
    schema = own_schema(connection)
    if not sa.inspect(connection).has_table(tables.created_objects.name, schema=schema):
        return []
    c = tables.created_objects
    query = sa.select(c.c.table_name, c.c.name).where(c.c.kind == "moved").order_by(c.c.id)
    return [(table, name) for table, name in connection.execute(query)]
