"""Render the static, self-contained HTML leaderboard (no scripts or assets from the network)."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from jinja2 import Environment, PackageLoader, select_autoescape

from dexbench import __version__
from dexbench.io.atomic import write_text
from dexbench.report.collect import Leaderboard

SAFE_URL_SCHEMES = ("http", "https")


def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    a = abs(value)
    if a >= 100:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def safe_url(url: str) -> str:
    """A user-supplied URL becomes a link only with an http(s) scheme; anything else renders as no link."""
    try:
        parsed = urlparse(url.strip())
    except ValueError:
        return ""
    return url.strip() if parsed.scheme in SAFE_URL_SCHEMES and parsed.netloc else ""


def git_commit(cwd: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def render_index(boards: list[Leaderboard], out_dir: str | Path) -> Path:
    env = Environment(
        loader=PackageLoader("dexbench.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for b in boards:
        for r in b.rows:
            r.url = safe_url(r.url)
    provenance = {
        "version": __version__,
        "commit": git_commit(Path.cwd()),
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "protocols": sorted({b.protocol_version for b in boards}),
    }
    html = env.get_template("index.html.j2").render(boards=boards, provenance=provenance, fmt=fmt)
    out = Path(out_dir) / "index.html"
    write_text(out, html)
    return out
