"""`districtbench prisma --check`: does the app's schema.prisma declare what districtbench adds?

For every field `fields` expects, the app's model of that table (found by `@@map`, else by
model name) must have a field mapped to the same column, of the same type: the same scalar,
the same native type (Prisma's defaults count: `DateTime` is `@db.Timestamp(3)`, `Int`
`@db.Integer`, `String` `@db.Text`), and optional where the column is nullable. A column the
app declares required where districtbench declares NOT NULL may be optional in the app's
schema (districtbench adds columns to the app's tables as nullable).

Defaults: a field's `@default(...)` must be the one districtbench declares (`0`, `now()`,
`autoincrement()`); where the database's defaults are known exactly (districtbench created the
table, or added the column — without a default), a default on one side only is a difference
too. Without a database, a default the app gives one of its own columns is its business.

Relations (with a database only): each `@relation(fields: [...], references: [...])` of a model
of districtbench's tables must be backed by a foreign key in the database on those columns,
referencing that table's columns (and named `map:`, when the relation names it), with the
referential actions the relation declares: `onDelete`/`onUpdate` as written, else Prisma's
defaults — onDelete `Restrict` for a required relation and `SetNull` for an optional one,
onUpdate `Cascade` (what `prisma migrate` writes into the foreign key; a foreign key with other
actions is drift its next migration would change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from districtbench.prisma.fields import PrismaField, PrismaModel
from districtbench.prisma.schema_file import SchemaField, SchemaModel

_DEFAULT_NATIVE = {"DateTime": "Timestamp(3)", "Int": "Integer", "String": "Text", "Decimal": "Decimal(65, 30)"}


@dataclass(frozen=True)
class Problem:
    model: str
    table: str
    message: str
    line: str | None = None  # the field line to paste

    def text(self) -> str:
        return f"model {self.model} ({self.table}): {self.message}" + (f"\n    {self.line}" if self.line else "")


def _native(base: str, native: str | None) -> str:
    return native or _DEFAULT_NATIVE.get(base, "")


def _describe(base: str, optional: bool, native: str | None) -> str:
    return f"{base}{'?' if optional else ''}" + (f" @db.{native}" if native else "")


def compare(expected: list[PrismaModel], models: list[SchemaModel]) -> list[Problem]:
    by_table = {model.table: model for model in models}
    problems: list[Problem] = []
    for want in expected:
        have = by_table.get(want.table)
        scalars = [f for f in want.fields if f.scalar is not None]
        if have is None:
            problems.append(Problem(want.name, want.table, f"no model maps to the table {want.table}: add "
                                    f"model {want.name} with @@map(\"{want.table}\") and {len(scalars)} fields"))
            continue
        columns = have.by_column()
        for wanted in scalars:
            field = columns.get(wanted.column)
            if field is None:
                problems.append(Problem(have.name, want.table, f"missing the field for column {wanted.column}:",
                                        wanted.line()))
                continue
            for mismatch in (_mismatch(wanted, field), _default_mismatch(wanted, field, want.defaults_known)):
                if mismatch:
                    problems.append(Problem(have.name, want.table, f"field {field.name} (column {wanted.column}, "
                                            f"line {field.line}) {mismatch}", wanted.line()))
    return problems


def _default_mismatch(wanted: PrismaField, field: SchemaField, known: bool) -> str | None:
    want, have = wanted.default, field.attributes.get("default")
    if want is not None and have is not None:
        if _squeezed(want) == _squeezed(have):
            return None
        return f"has @default({have}); districtbench declares @default({want})"
    if not known or want == have:
        return None
    if want is None:
        return f"has @default({have}), but the database column has no default (districtbench added it without one)"
    return f"has no @default, but the database column has one: districtbench declares @default({want})"


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key as the database has it (SQLAlchemy's inspector)."""

    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    on_delete: str = "NO ACTION"  # SQL's spelling, upper case
    on_update: str = "NO ACTION"


# Prisma's referential actions and how the database spells them
ACTIONS = {"Cascade": "CASCADE", "Restrict": "RESTRICT", "NoAction": "NO ACTION", "SetNull": "SET NULL",
           "SetDefault": "SET DEFAULT"}
PRISMA_ACTION = {sql: prisma for prisma, sql in ACTIONS.items()}


def declared_actions(args: str, optional: bool) -> tuple[str, str]:
    """(onDelete, onUpdate) of a relation's arguments, in Prisma's names, defaults filled in."""
    on_delete = re.search(r"\bonDelete\s*:\s*(\w+)", args)
    on_update = re.search(r"\bonUpdate\s*:\s*(\w+)", args)
    return (on_delete.group(1) if on_delete else ("SetNull" if optional else "Restrict"),
            on_update.group(1) if on_update else "Cascade")


def _names(args: str, key: str) -> tuple[str, ...] | None:
    match = re.search(rf"\b{key}\s*:\s*\[([^\]]*)\]", args)
    return tuple(name.strip() for name in match.group(1).split(",") if name.strip()) if match else None


def relations(models: list[SchemaModel], foreign_keys: dict[str, list[ForeignKey]]) -> list[Problem]:
    """Each relation of a model of the tables in `foreign_keys` (its table → the database's
    foreign keys on it) that no foreign key backs, or one that differs."""
    by_name = {model.name: model for model in models}
    problems: list[Problem] = []
    for model in models:
        if model.table not in foreign_keys:
            continue
        for field in model.fields:
            args = field.attributes.get("relation")
            fields, references = (_names(args, "fields"), _names(args, "references")) if args else (None, None)
            target = by_name.get(field.type)
            if not fields or not references or target is None:
                continue  # the back side of a relation, or one to a model the file lacks
            problem = _unbacked(model, target, fields, references, _string_arg(args, "map"), foreign_keys[model.table],
                                declared_actions(args, field.optional))
            if problem:
                declared = f"@relation(fields: [{', '.join(fields)}], references: [{', '.join(references)}])"
                problems.append(Problem(model.name, model.table, f"field {field.name} (line {field.line}) declares "
                                        f"{declared} to {target.name} ({target.table}), {problem}"))
    return problems


def _string_arg(args: str, key: str) -> str | None:
    match = re.search(rf'\b{key}\s*:\s*"([^"]*)"', args)
    return match.group(1) if match else None


def _unbacked(model: SchemaModel, target: SchemaModel, fields, references, name, keys: list[ForeignKey],
              actions: tuple[str, str]) -> str | None:
    column_of = {f.name: f.column for f in model.fields}
    target_column_of = {f.name: f.column for f in target.fields}
    columns = tuple(column_of.get(f, f) for f in fields)
    referred = tuple(target_column_of.get(f, f) for f in references)
    wanted = f"{target.table}({', '.join(referred)})"
    on_columns = [key for key in keys if key.columns == columns]
    if not on_columns:
        return f"but the database has no foreign key on {model.table}({', '.join(columns)}) (expected one referencing {wanted})"
    for key in on_columns:
        if (key.referred_table, key.referred_columns) == (target.table, referred):
            if name is not None and key.name is not None and key.name != name:
                return f"named {name!r}, but the database's foreign key on it is named {key.name!r}"
            return _actions_differ(key, actions)
    found = "; ".join(f"{key.name or 'unnamed'} references {key.referred_table}({', '.join(key.referred_columns)})"
                      for key in on_columns)
    return f"but the database's foreign key on {model.table}({', '.join(columns)}) differs: {found} (expected {wanted})"


def _actions_differ(key: ForeignKey, actions: tuple[str, str]) -> str | None:
    on_delete, on_update = actions
    if (ACTIONS.get(on_delete), ACTIONS.get(on_update)) == (key.on_delete, key.on_update):
        return None
    have = (f"onDelete: {PRISMA_ACTION.get(key.on_delete, key.on_delete)}, "
            f"onUpdate: {PRISMA_ACTION.get(key.on_update, key.on_update)}")
    return (f"which means onDelete: {on_delete}, onUpdate: {on_update} (written or Prisma's default), but the "
            f"database's foreign key {key.name or 'on it'} has ON DELETE {key.on_delete} ON UPDATE {key.on_update}: "
            f"`prisma migrate dev` would change it; declare {have} to match the database")


def _mismatch(wanted: PrismaField, field: SchemaField) -> str | None:
    scalar = wanted.scalar
    have_native, want_native = _native(field.type, field.native), _native(scalar.base, scalar.native)
    wrong_type = field.type != scalar.base or have_native.replace(" ", "") != want_native.replace(" ", "")
    wrong_null = wanted.optional and not field.optional
    if not wrong_type and not wrong_null:
        return None
    have = _describe(field.type, field.optional, field.native)
    want = _describe(scalar.base, wanted.optional, scalar.native)
    reason = "is required, but the column is nullable" if not wrong_type else "is typed differently"
    return f"{reason}: {have}; districtbench declares {want}"
