"""One console (issue 16 item 6): only the console modules import rich; commands hand them
plain data. Read from the source files' syntax trees, so a lazy import inside a function counts."""

from __future__ import annotations

import ast
import io
from pathlib import Path

from rich.console import Console

import districtbench
from districtbench import console

SOURCE = Path(districtbench.__file__).parent
CONSOLE_MODULES = {"console.py", "console_tables.py", "console_progress.py"}


def rich_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "rich"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "rich":
            found.append(node.module)
    return found


def test_only_the_console_modules_import_rich():
    importers = {
        str(path.relative_to(SOURCE)): rich_imports(path)
        for path in sorted(SOURCE.rglob("*.py"))
        if rich_imports(path)
    }
    assert set(importers) == CONSOLE_MODULES, importers


def test_the_scan_sees_a_lazy_import_inside_a_function(tmp_path):
    module = tmp_path / "sneaky.py"
    module.write_text("def later():\n    from rich.table import Table\n    import rich.box as b\n")
    assert rich_imports(module) == ["rich.table", "rich.box"]


def test_cells_are_text_not_markup_and_styles_are_named():
    out = Console(file=io.StringIO(), width=60, force_terminal=True, color_system="standard")
    grid = console.table("T", "name", "failed", right=("failed",))
    grid.add_row("[bold]Evil[/bold] ISD", console.styled("3", "red"))
    console.print_out(grid, ("a ", console.styled("b", "dim")), target=out)
    text = out.file.getvalue()
    assert "[bold]Evil[/bold] ISD" in text  # shown as written
    assert "\x1b[31m3\x1b[0m" in text  # red by name
    assert "a \x1b[2mb\x1b[0m" in text  # dim


def test_long_headings_of_number_columns_wrap_so_the_text_column_keeps_its_words():
    """The compute summary at 80 columns: "averages" stays whole (it was cut to "avera"/"ges"
    when the number columns' headings could not wrap); the numbers themselves never wrap."""
    out = Console(file=io.StringIO(), width=80)
    counts = ("districts updated", "states updated", "values NULLed", "seconds")
    grid = console.table("Compute", "family", "status", *counts, right=counts)
    grid.add_row("averages", "ok", "12,345,678", "51", "0", "0.09")
    console.print_out(grid, target=out)
    lines = out.file.getvalue().splitlines()
    assert any("│ averages " in line and "12,345,678 │" in line for line in lines)
    assert any("districts" in line for line in lines) and any("updated" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
