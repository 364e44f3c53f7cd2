"""A small parser of a Prisma schema's model blocks: enough to know which table a model maps to
(`@@map`, else its name), and each scalar field's column (`@map`, else its name), type,
optionality and native type (`@db.Decimal(5, 2)`). Comments (`//`, `///`), other blocks
(`datasource`, `generator`, `enum`, `type`, `view`), relation and list fields are read past.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from districtbench.errors import UsageError

SCALARS = {"String", "Int", "BigInt", "Float", "Decimal", "DateTime", "Boolean", "Json", "Bytes"}
_BLOCK = re.compile(r"^(model|enum|datasource|generator|type|view)\s+(\w+)\s*\{\s*$")
_FIELD = re.compile(r"^(\w+)\s+([\w.]+(?:\([^)]*\))?)(\[\])?(\?)?(.*)$")
_ATTRIBUTE = re.compile(r"@(?!@)([\w.]+)")


@dataclass(frozen=True)
class SchemaField:
    name: str
    type: str
    optional: bool
    is_list: bool
    attributes: dict[str, str]  # "map" -> '"x"', "db.Decimal" -> "5, 2", "id" -> ""
    line: int

    @property
    def column(self) -> str:
        return _string(self.attributes.get("map")) or self.name

    @property
    def native(self) -> str | None:
        """`Decimal(5, 2)`, `VarChar(255)`, `Timestamp(3)` … as written after `@db.` (normalised spaces)."""
        for key, args in self.attributes.items():
            if key.startswith("db."):
                name = key[3:]
                return f"{name}({', '.join(a.strip() for a in args.split(','))})" if args else name
        return None

    @property
    def is_scalar(self) -> bool:
        return self.type in SCALARS and not self.is_list


@dataclass
class SchemaModel:
    name: str
    line: int
    fields: list[SchemaField] = field(default_factory=list)
    block_attributes: list[tuple[str, str]] = field(default_factory=list)  # ("map", '"districts"')

    @property
    def table(self) -> str:
        for name, args in self.block_attributes:
            if name == "map":
                return _string(args.split(",")[0]) or self.name
        return self.name

    def by_column(self) -> dict[str, SchemaField]:
        return {f.column: f for f in self.fields if f.is_scalar}


def _string(text: str | None) -> str | None:
    if not text:
        return None
    match = re.match(r'\s*(?:name\s*:\s*)?"((?:[^"\\]|\\.)*)"', text)
    return match.group(1) if match else None


def _strip_comment(line: str) -> str:
    """The line without its `//` comment (a `//` inside a string stays)."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and line.startswith("//", index):
            return line[:index]
    return line


def _arguments(text: str, start: int) -> tuple[str, int]:
    """The text inside the parentheses opening at `start` (nested parentheses, strings)."""
    depth, quoted, index = 0, False, start
    while index < len(text):
        char = text[index]
        if char == '"' and text[index - 1] != "\\":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index], index + 1
        index += 1
    raise ValueError("unbalanced parentheses")


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    position = 0
    while True:
        match = _ATTRIBUTE.search(text, position)
        if not match:
            return found
        name, position = match.group(1), match.end()
        args = ""
        if position < len(text) and text[position] == "(":
            args, position = _arguments(text, position)
        found[name] = args


def parse(text: str, source: str = "schema.prisma") -> list[SchemaModel]:
    """The models of a Prisma schema (raises UsageError for a block it cannot read)."""
    models: list[SchemaModel] = []
    current: SchemaModel | None = None
    in_other_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if current is None and not in_other_block:
            block = _BLOCK.match(line)
            if block:
                if block.group(1) == "model":
                    current = SchemaModel(block.group(2), number)
                else:
                    in_other_block = True
                continue
            raise UsageError(f"{source}:{number}: cannot read {raw.strip()!r} outside a block.",
                             hint="Is this a Prisma schema file (prisma/schema.prisma)?")
        if line == "}":
            if current is not None:
                models.append(current)
            current, in_other_block = None, False
            continue
        if in_other_block:
            continue
        try:
            if line.startswith("@@"):
                name = re.match(r"@@([\w.]+)", line).group(1)
                args = _arguments(line, line.index("("))[0] if "(" in line else ""
                current.block_attributes.append((name, args))
                continue
            match = _FIELD.match(line)
            if not match:
                raise ValueError("not a field")
            name, type_, is_list, optional, rest = match.groups()
            current.fields.append(SchemaField(name, type_, bool(optional), bool(is_list), _attributes(rest), number))
        except (ValueError, AttributeError):
            raise UsageError(f"{source}:{number}: cannot read the line {raw.strip()!r} of model {current.name}.",
                             hint="Fix the schema (`npx prisma validate`), then run the check again.") from None
    if current is not None:
        raise UsageError(f"{source}: model {current.name} (line {current.line}) is not closed with }}.")
    return models
