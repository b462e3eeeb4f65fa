"""What changed since the previous build: the site keeps a `leaderboard.json` snapshot and diffs against it.

Boards are matched by (dataset, task, protocol version), rows by (method, version): a new version of a method is
a new row, so its arrival reads as "new" and the old version, if dropped, as "removed".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dexbench.errors import InputFileError
from dexbench.io.atomic import dumps_json, write_text
from dexbench.report.collect import Leaderboard
from dexbench.report.exports import board_records

SNAPSHOT = "leaderboard.json"
SNAPSHOT_FORMAT = 1


@dataclass
class Changes:
    previous: str | None  # when the previous snapshot was built; None = first build
    new_boards: list[str] = field(default_factory=list)
    removed_boards: list[str] = field(default_factory=list)
    new_methods: list[dict[str, str]] = field(default_factory=list)  # board, method, version
    removed_methods: list[dict[str, str]] = field(default_factory=list)
    changed_values: list[dict[str, Any]] = field(default_factory=list)  # board, method, metric, before, after
    rank_changes: list[dict[str, Any]] = field(default_factory=list)  # board, method, metric, before, after

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.new_boards,
                self.removed_boards,
                self.new_methods,
                self.removed_methods,
                self.changed_values,
                self.rank_changes,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "previous_build": self.previous,
            "new_boards": self.new_boards,
            "removed_boards": self.removed_boards,
            "new_methods": self.new_methods,
            "removed_methods": self.removed_methods,
            "changed_values": self.changed_values,
            "rank_changes": self.rank_changes,
        }

    def summary_line(self) -> str:
        if self.previous is None:
            return "first build (no previous leaderboard.json to compare with)"
        if self.empty:
            return f"no changes since the build of {self.previous}"
        parts = [
            (len(self.new_methods), "new method row(s)"),
            (len(self.removed_methods), "removed row(s)"),
            (len(self.changed_values), "changed value(s)"),
            (len(self.rank_changes), "rank change(s)"),
            (len(self.new_boards), "new table(s)"),
            (len(self.removed_boards), "removed table(s)"),
        ]
        return f"since the build of {self.previous}: " + ", ".join(f"{n} {what}" for n, what in parts if n)


def _board_id(b: dict[str, Any]) -> str:
    return f"{b['dataset']}/{b['task']} (protocol {b['protocol_version']})"


def snapshot(boards: list[Leaderboard], when: str) -> dict[str, Any]:
    return {"format": SNAPSHOT_FORMAT, "built": when, "boards": [board_records(b) for b in boards]}


def read_snapshot(out_dir: str | Path) -> dict[str, Any] | None:
    path = Path(out_dir) / SNAPSHOT
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"previous snapshot is not valid JSON ({exc})", "delete it to start afresh") from exc
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT or not isinstance(data.get("boards"), list):
        raise InputFileError(path, "not a dexbench leaderboard snapshot", "delete it to start afresh")
    return data


def write_snapshot(out_dir: str | Path, snap: dict[str, Any]) -> None:
    write_text(Path(out_dir) / SNAPSHOT, dumps_json(snap))


def _differs(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is not b
    return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def diff(previous: dict[str, Any] | None, current: dict[str, Any]) -> Changes:
    if previous is None:
        return Changes(previous=None)
    ch = Changes(previous=str(previous.get("built", "?")))
    before = {_board_id(b): b for b in previous["boards"]}
    after = {_board_id(b): b for b in current["boards"]}
    ch.new_boards = sorted(set(after) - set(before))
    ch.removed_boards = sorted(set(before) - set(after))
    for bid in sorted(set(after) & set(before)):
        old_rows = {(r["method"], r["version"]): r for r in before[bid]["rows"]}
        new_rows = {(r["method"], r["version"]): r for r in after[bid]["rows"]}
        for m, v in sorted(set(new_rows) - set(old_rows)):
            ch.new_methods.append({"board": bid, "method": m, "version": v})
        for m, v in sorted(set(old_rows) - set(new_rows)):
            ch.removed_methods.append({"board": bid, "method": m, "version": v})
        for key in sorted(set(new_rows) & set(old_rows)):
            old_m, new_m = old_rows[key]["metrics"], new_rows[key]["metrics"]
            for metric in sorted(set(old_m) | set(new_m)):
                o, n = old_m.get(metric, {}), new_m.get(metric, {})
                where = {"board": bid, "method": key[0], "version": key[1], "metric": metric}
                if _differs(o.get("mean"), n.get("mean")):
                    ch.changed_values.append({**where, "before": o.get("mean"), "after": n.get("mean")})
                if o.get("rank") != n.get("rank"):
                    ch.rank_changes.append({**where, "before": o.get("rank"), "after": n.get("rank")})
    return ch
