"""The `dexbench` command: one subcommand per pipeline stage (each is also a DVC stage in dvc.yaml).

Each area's subcommands live in their own module under `dexbench/commands/` and register themselves here.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from dexbench.errors import DexbenchError

try:  # Typer >= 0.24 vendors Click; older releases use the click package
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import exceptions as click_exc  # type: ignore[no-redef]

COMMAND_MODULES = ("data", "protocol", "methods", "validate", "evaluate", "report", "weights", "train", "calibrate")

app = typer.Typer(
    name="dexbench",
    help="Datasets, metrics and leaderboards for disentangled portrait animation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"dexbench.commands.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    command = typer.main.get_command(app)
    try:
        code = command.main(
            args=argv if argv is not None else sys.argv[1:], prog_name="dexbench", standalone_mode=False
        )
    except DexbenchError as exc:
        err.print("[bold red]error:[/] " + escape(exc.message + (f" — {exc.hint}" if exc.hint else "")))
        return 2
    except click_exc.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help())
        return 0
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "dexbench"
        err.print("[bold red]error:[/] " + escape(f"{exc.format_message()} (see `{where} --help`)"))
        return 2
    except click_exc.ClickException as exc:
        err.print("[bold red]error:[/] " + escape(exc.format_message()))
        return exc.exit_code or 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except OSError as exc:
        err.print("[bold red]error:[/] " + escape(f"{exc.strerror or exc}: {exc.filename or ''}"))
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
