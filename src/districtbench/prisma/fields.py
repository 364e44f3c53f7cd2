"""The Prisma fields of the columns districtbench adds to the app's tables.

Which columns: with a migrated database, what its bookkeeping (`districtbench_created_objects`)
says districtbench added to the app's tables — the columns on tables it adopted, and whole
models for tables it created (with their keys, indexes and, between two tables it created,
relations). Without a database, or with `--all`: every column districtbench declares on the
app's four tables (db/tables.py), as if it created them. Names are the database's (the
layout's physical names, camelCased for the field, `@map` for the column); types come from
db/tables.py: `Decimal @db.Decimal(p, s)`, `String @db.VarChar(n)`, `String` (TEXT), `Int`,
`DateTime @db.Timestamp(3)`. A column districtbench adds to an adopted table is nullable,
so its field is optional (`?`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from districtbench.db import tables

MODEL_NAMES = {
    "districts": "District",
    "states": "State",
    "district_data_history": "DistrictDataHistory",
    "data_refresh_logs": "DataRefreshLog",
}
# The back-relation field on the referenced model, per foreign key of db/tables.py.
BACK_RELATIONS = {"districts_state_fips_fkey": "districts", "district_data_history_leaid_fkey": "dataHistory"}


def camel_case(name: str) -> str:
    """`graduation_rate` → `graduationRate` (a name without `_` stays as it is)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True)
class Scalar:
    """A Prisma scalar type with its native database type, as Prisma would write it."""

    base: str  # String | Int | Decimal | DateTime
    native: str | None  # "Decimal(5, 2)", "VarChar(255)", "Timestamp(3)"; None: Prisma's default

    @property
    def text(self) -> str:
        return f"@db.{self.native}" if self.native else ""


def scalar_of(type_: sa.types.TypeEngine) -> Scalar:
    if isinstance(type_, sa.DateTime):
        return Scalar("DateTime", "Timestamp(3)")
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        return Scalar("Decimal", f"Decimal({type_.precision}, {type_.scale})")
    if isinstance(type_, sa.Integer):
        return Scalar("Int", None)
    if isinstance(type_, sa.Text):
        return Scalar("String", None)
    if isinstance(type_, sa.String):
        return Scalar("String", f"VarChar({type_.length})")
    raise TypeError(f"no Prisma type for {type_!r}")


@dataclass(frozen=True)
class PrismaField:
    table: str
    column: str  # the physical column
    name: str
    type: str  # "Decimal", "District", "District[]"
    optional: bool = False
    attributes: tuple[str, ...] = ()  # "@id", "@default(0)", "@map(\"x\")", "@db.Decimal(5, 2)"
    scalar: Scalar | None = None  # None: a relation field

    @property
    def default(self) -> str | None:
        """What `@default(...)` holds (`0`, `now()`, `autoincrement()`); None: no default."""
        for attribute in self.attributes:
            if attribute.startswith("@default(") and attribute.endswith(")"):
                return attribute[len("@default("):-1]
        return None

    def line(self, name_width: int = 0, type_width: int = 0) -> str:
        type_text = self.type + ("?" if self.optional else "")
        return f"{self.name:<{name_width}} {type_text:<{type_width}} {' '.join(self.attributes)}".rstrip()


@dataclass
class PrismaModel:
    table: str
    name: str
    fields: list[PrismaField] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)  # "@@unique([...])", "@@map(\"t\")"
    whole: bool = False  # districtbench created the table: the model is complete
    # the database's defaults of these fields are exactly the ones declared (districtbench created
    # the table or added the columns), not only districtbench's declaration of an app's table
    defaults_known: bool = False

    def render(self) -> str:
        name_width = max((len(f.name) for f in self.fields), default=0)
        type_width = max((len(f.type) + f.optional for f in self.fields), default=0)
        body = [f"  {f.line(name_width, type_width)}" for f in self.fields]
        if self.attributes:
            body += [""] + [f"  {attribute}" for attribute in self.attributes]
        return "\n".join([f"model {self.name} {{", *body, "}"])


def column_field(table: str, column: sa.Column, physical: str, *, optional: bool, whole: bool) -> PrismaField:
    """The field of one column (`column` from db/tables.py, `physical` its name here)."""
    scalar = scalar_of(column.type)
    attributes: list[str] = []
    if whole and column.primary_key and len(tables.metadata.tables[table].primary_key.columns) == 1:
        attributes.append("@id")
    default = _default(column) if whole else None
    if default:
        attributes.append(f"@default({default})")
    if whole and column.key == "updated_at":
        attributes.append("@updatedAt")
    attributes.append(f'@map("{physical}")')
    if scalar.native:
        attributes.append(scalar.text)
    return PrismaField(table, physical, camel_case(physical), scalar.base, optional, tuple(attributes), scalar)


def _default(column: sa.Column) -> str | None:
    if column.primary_key and isinstance(column.type, sa.Integer) and column.autoincrement is True:
        return "autoincrement()"
    if column.server_default is None:
        return None
    text = str(column.server_default.arg.text if hasattr(column.server_default.arg, "text") else column.server_default.arg)
    return "now()" if text.upper() == "CURRENT_TIMESTAMP" else text


def whole_model(table: str, physical: dict[str, str]) -> PrismaModel:
    """The complete model of a table districtbench creates (`physical`: logical → name)."""
    logical = tables.metadata.tables[table]
    model = PrismaModel(table, MODEL_NAMES[table], whole=True)
    for column in logical.columns:
        model.fields.append(column_field(table, column, physical.get(column.key, column.key),
                                         optional=column.nullable and not column.primary_key, whole=True))
    field_of = {column.key: camel_case(physical.get(column.key, column.key)) for column in logical.columns}
    for kind, named in (("unique", tables.UNIQUES), ("index", tables.INDEXES)):
        for name, columns in named.get(table, {}).items():
            model.attributes.append(f'@@{kind}([{", ".join(field_of[c] for c in columns)}], map: "{name}")')
    model.attributes.append(f'@@map("{table}")')
    return model


def add_relations(models: dict[str, PrismaModel], created: set[str]) -> None:
    """Relation fields for the foreign keys between two tables districtbench created (it
    creates a foreign key only then)."""
    for child, keys in tables.FOREIGN_KEYS.items():
        for name, (column, parent, referenced) in keys.items():
            if not {child, parent} <= created or child not in models or parent not in models:
                continue
            # districtbench's foreign keys have no referential actions (NO ACTION both ways), which
            # Prisma's defaults (Restrict, Cascade) are not: declared, so `migrate dev` sees no drift
            relation = (f'@relation(fields: [{camel_case(column)}], references: [{camel_case(referenced)}], '
                        f'onDelete: NoAction, onUpdate: NoAction, map: "{name}")')
            singular = MODEL_NAMES[parent][:1].lower() + MODEL_NAMES[parent][1:]
            models[child].fields.append(PrismaField(child, "", singular, MODEL_NAMES[parent], False, (relation,)))
            models[parent].fields.append(PrismaField(parent, "", BACK_RELATIONS[name], f"{MODEL_NAMES[child]}[]"))


def _physical_of(physical: dict[tuple[str, str], str], table: str) -> dict[str, str]:
    return {logical: name for (t, logical), name in physical.items() if t == table}


def declared_models(physical: dict[tuple[str, str], str] | None = None) -> list[PrismaModel]:
    """Every column districtbench declares on the app's tables, as complete models."""
    physical = physical or {}
    models = {table: whole_model(table, _physical_of(physical, table)) for table in tables.APP_TABLES}
    add_relations(models, set(tables.APP_TABLES))
    return [models[table] for table in MODEL_NAMES]


def added_models(added: list[tuple[str, str, str]], physical: dict[tuple[str, str], str]) -> list[PrismaModel]:
    """What districtbench's bookkeeping says it added to the app's tables: `added` are
    (kind, table, name) rows — whole tables, columns, and the indexes or keys an older
    districtbench added to an app's table."""
    created = {name for kind, _, name in added if kind == "table" and name in tables.APP_TABLES}
    models = {table: whole_model(table, _physical_of(physical, table)) for table in created}
    logical_of = {(t, name): logical for (t, logical), name in physical.items()}
    for kind, table, name in added:
        if table not in MODEL_NAMES or table in created:
            continue
        model = models.setdefault(table, PrismaModel(table, MODEL_NAMES[table]))
        if kind == "column":
            column = tables.metadata.tables[table].c.get(logical_of.get((table, name), name))
            if column is not None:
                model.fields.append(column_field(table, column, name, optional=True, whole=False))
        elif kind in ("index", "unique"):
            named = {**tables.INDEXES.get(table, {}), **tables.UNIQUES.get(table, {})}
            if name in named:
                listed = ", ".join(camel_case(physical.get((table, c), c)) for c in named[name])
                which = "unique" if name in tables.UNIQUES.get(table, {}) else "index"
                model.attributes.append(f'@@{which}([{listed}], map: "{name}")')
    add_relations(models, created)
    for model in models.values():
        model.defaults_known = True
    return [models[table] for table in MODEL_NAMES if table in models]
