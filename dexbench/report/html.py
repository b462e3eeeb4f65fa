"""Render pages of the static, self-contained site (Jinja2, autoescaped; no scripts or assets from the network).

Every page carries a Content-Security-Policy that allows only its own inline sort script (by hash), inline styles
and data: images: even a string that escaped escaping could not run or load anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from dexbench import __version__
from dexbench.io.atomic import write_text
from dexbench.report.collect import Leaderboard
from dexbench.report.format import SAFE_URL_SCHEMES, fmt, safe_url  # noqa: F401 - re-exported for callers


def git_commit(cwd: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
        if out.returncode != 0:
            return ""
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True,
            timeout=5, check=False,
        )  # fmt: skip
        return out.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def build_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds: same inputs, same bytes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch and epoch.isdigit() else dt.datetime.now(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Provenance:
    version: str
    commit: str
    when: str
    protocols: list[str]
    result_versions: list[str] = field(default_factory=list)  # dexbench versions that computed the results
    weights: list[dict[str, str]] = field(default_factory=list)  # network, sha256, metrics (each network once)
    significance: str = ""


def provenance(boards: list[Leaderboard], significance: str = "") -> Provenance:
    from dexbench.report.metric_docs import weight_hashes

    versions = {r.dexbench_version for b in boards for r in b.rows if r.dexbench_version}
    return Provenance(
        version=__version__,
        commit=git_commit(Path(__file__).resolve().parent),
        when=build_time(),
        protocols=sorted({b.protocol_version for b in boards}),
        result_versions=sorted(versions),
        weights=weight_hashes(boards),
        significance=significance,
    )


@cache
def _asset(name: str) -> str:
    return (Path(__file__).parent / "static" / name).read_text(encoding="utf-8")


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("dexbench.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from dexbench.report.board_view import board_view
    from dexbench.report.format import slugify

    env.globals.update(fmt=fmt, safe_url=safe_url, board_view=board_view)
    env.filters["fmt"] = fmt
    env.filters["slug"] = slugify
    return env


def render_page(template: str, out: Path, *, nav: list[dict[str, str]], prov: Provenance, **ctx: Any) -> Path:
    script = _asset("site.js")
    html = (
        environment()
        .get_template(template)
        .render(
            nav=nav,
            provenance=prov,
            css=Markup(_asset("site.css")),
            script=Markup(script),
            csp=_csp(script),
            **ctx,
        )
    )
    write_text(out, html)
    return out


def render_index(boards: list[Leaderboard], out_dir: str | Path) -> Path:
    """The leaderboard page alone (the full site is `dexbench.report.site.build_site`)."""
    from dexbench.report.site import nav_for, url_boards

    url_boards(boards)
    out = Path(out_dir) / "index.html"
    return render_page(
        "index.html.j2",
        out,
        nav=nav_for({}, "index.html"),
        prov=provenance(boards),
        boards=boards,
        published=[],
        published_heading="",
        published_exports={},
        method_pages={},
        exports={},
        notes=[],
        page="index.html",
    )
