"""Shared CLI pieces: the output console and common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()

Root = Annotated[Path, typer.Option(help="Workspace root holding datasets/, protocol/, submissions/, metrics/.")]
