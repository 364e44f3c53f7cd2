"""Writing an output file (`export -o`, `report -o`): whole or not at all, with a clean
message when it cannot be written, and the permissions of any new file (the umask decides)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, TextIO, TypeVar

from districtbench.errors import UsageError

T = TypeVar("T")
HINT = "Choose another --output: a file in a folder you can write to, on a disk with space left."


def cannot_write(path: Path, exc: OSError) -> UsageError:
    reason = exc.strerror or type(exc).__name__
    return UsageError(f"Cannot write {path}: {reason}.", hint=HINT)


def write_atomically(path: Path, write: Callable[[TextIO], T]) -> T:
    """Write `path` through `write(stream)` into a temporary file beside it, then rename it
    into place; on any failure nothing is left behind and an existing file is untouched."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise UsageError(
            f"Cannot write {path}: the folder {directory} does not exist.", hint="Create it or choose another --output."
        )
    temporary = directory / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # 0o666 less the umask, like any file a program creates (mkstemp would force 0600).
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            result = write(stream)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise cannot_write(path, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return result
