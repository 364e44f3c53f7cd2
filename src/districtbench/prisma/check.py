"""`districtbench prisma --check`: does the app's schema.prisma declare what districtbench adds?

For every field `fields` expects, the app's model of that table (found by `@@map`, else by
model name) must have a field mapped to the same column, of the same type: the same scalar,
the same native type (Prisma's defaults count: `DateTime` is `@db.Timestamp(3)`, `Int`
`@db.Integer`, `String` `@db.Text`), and optional where the column is nullable. A column the
app declares required where districtbench declares NOT NULL may be optional in the app's
schema (districtbench adds columns to the app's tables as nullable). Defaults and relation
fields are not compared.
"""

from __future__ import annotations

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
            mismatch = _mismatch(wanted, field)
            if mismatch:
                problems.append(Problem(have.name, want.table, f"field {field.name} (column {wanted.column}, line "
                                        f"{field.line}) {mismatch}", wanted.line()))
    return problems


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
