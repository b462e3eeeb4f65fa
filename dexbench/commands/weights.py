"""`dexbench weights`: every pretrained network, where its file was found, or why it is unavailable."""

from __future__ import annotations

import typer
from rich.table import Table

from dexbench.commands.common import out


def weights() -> None:
    """List every pretrained network dexbench knows and whether its weights are available offline."""
    from dexbench.nets import weights_status

    table = Table("network", "purpose", "status", "file / how to obtain", "sha256")
    for spec, found, reason in weights_status():
        if found is not None:
            check = "verified" if found.verified else "recorded"
            table.add_row(
                spec.name,
                spec.purpose,
                f"[green]available[/] ({found.origin})",
                str(found.path),
                f"{found.sha256[:12]}… {check}",
            )
        else:
            table.add_row(
                spec.name,
                spec.purpose,
                f"[yellow]unavailable[/]: {reason}",
                spec.how_to_obtain,
                (spec.sha256 or "any")[:12],
            )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("weights")(weights)
