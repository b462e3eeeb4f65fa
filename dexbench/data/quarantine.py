"""Clips that could not be used: one row each (clip id, source file, reason) in `quarantine.parquet`.

Each shard worker reports its rejects in its stats JSON (so that a resumed run knows them without redoing the
shard); the driver merges those with the rejects found while reading the metadata and writes the table once, sorted,
atomically. Reasons start with a short code (`decode-error:`, `no-face:` ...) so they can be counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dexbench.io.atomic import atomic_path

FILENAME = "quarantine.parquet"
SCHEMA = pa.schema([("clip_id", pa.string()), ("source_file", pa.string()), ("reason", pa.string())])

# the codes a reason starts with (what the run summary counts)
CODES = (
    "missing-video",
    "missing-metadata",
    "bad-metadata",
    "decode-error",
    "truncated",
    "variable-frame-rate",
    "too-short",
    "low-resolution",
    "no-face",
    "several-faces",
    "face-too-small",
    "blurry",
    "landmarks-failed",
)


@dataclass(frozen=True)
class Rejected:
    clip_id: str
    source_file: str
    reason: str  # "<code>: details"

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


def reject(clip_id: str, source_file: str, code: str, detail: str) -> Rejected:
    if code not in CODES:
        raise ValueError(f"unknown quarantine code {code!r}")
    return Rejected(clip_id, source_file, f"{code}: {detail}")


def write_quarantine(root: str | Path, rows: Iterable[Rejected]) -> Path:
    """Write (or replace) the shard root's quarantine table; always written, empty when nothing was dropped."""
    rows = sorted(set(rows), key=lambda r: (r.clip_id, r.source_file, r.reason))
    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=SCHEMA)
    path = Path(root) / FILENAME
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def read_quarantine(root: str | Path) -> list[Rejected]:
    path = Path(root) / FILENAME
    if not path.is_file():
        return []
    return [Rejected(**row) for row in pq.read_table(path).to_pylist()]


def summarize(rows: Iterable[Rejected]) -> dict[str, int]:
    """Count of dropped clips per reason code, most frequent first."""
    return dict(Counter(r.code for r in rows).most_common())
