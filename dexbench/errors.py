"""User-facing errors: the CLI prints them as one line (plus the fix) and exits non-zero, without a traceback."""

from __future__ import annotations

from pathlib import Path


class DexbenchError(Exception):
    """An error caused by input the user can fix; `hint` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputFileError(DexbenchError):
    """A file the user pointed at is missing, unreadable or malformed."""

    def __init__(self, path: str | Path, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{path}: {problem}", hint)
        self.path = Path(path)


def require_file(path: str | Path, what: str, hint: str | None = None) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, f"{what} not found", hint)
    if not p.is_file():
        raise InputFileError(p, f"{what} is not a file", hint)
    return p


def require_dir(path: str | Path, what: str, hint: str | None = None) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, f"{what} not found", hint)
    if not p.is_dir():
        raise InputFileError(p, f"{what} is not a directory", hint)
    return p
