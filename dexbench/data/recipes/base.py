"""What every video recipe produces: a list of clip sources (where a clip lives in the raw download, who is in it,
which split) plus the clips the metadata already rules out. The shard stage (`sharding.py`) does the rest.

Splits are by identity (or by source video where the dataset does not name identities), never by clip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from dexbench.data.quarantine import Rejected
from dexbench.errors import InputFileError


@dataclass(frozen=True)
class ClipSource:
    """One clip to cut from a raw video. Ranges are [start, end); None means the whole video.

    `frame_range` counts frames at `range_fps` (the rate the metadata was written for, e.g. VoxCeleb's 25 fps);
    when the video has another rate the range is rescaled. `boxes` are face boxes from the dataset's metadata, used
    instead of running detection: rows (frame, x0, y0, x1, y1) with frame -1 for one box for the whole clip, in
    `box_space` "px" (video pixels), "norm" (fractions of width/height) or "px@<height>" (pixels of a reference
    resolution of that height, rescaled to the video's). A "window" box is used as the crop itself (squared); the
    face box is then measured from the landmarks.
    """

    clip_id: str
    identity: str
    source_video: str  # relative to the raw root, POSIX separators
    split: str
    time_range: tuple[float, float] | None = None
    frame_range: tuple[int, int] | None = None
    range_fps: float | None = None
    boxes: tuple[tuple[float, float, float, float, float], ...] | None = None
    box_space: str = "px"
    box_kind: str = "face"  # "face": a face box (the crop adds a margin); "window": the dataset's own crop window
    extra: tuple[tuple[str, str], ...] = field(default=())  # small per-clip metadata kept in the stats


@dataclass(frozen=True)
class Listing:
    clips: list[ClipSource]
    rejected: list[Rejected]


class VideoRecipe:
    """Base of the real-video recipes: subclasses implement `list_clips` for their metadata format."""

    name: ClassVar[str]
    title: ClassVar[str]
    license: ClassVar[str]
    homepage: ClassVar[str]
    layout_hint: ClassVar[str]  # one line: what the raw folder must contain

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "license": self.license, "homepage": self.homepage}

    def require(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise InputFileError(path, f"{self.title}: {what} not found", f"expected layout: {self.layout_hint}")
        return path


def hashed_split(group: str, test_fraction: float, seed: int = 0) -> str:
    """'test' for a stable pseudo-random `test_fraction` of groups: the same group always lands in the same split,
    whatever else is in the download (a partial download never moves an identity across splits)."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test_fraction else "train"


def safe_id(text: str) -> str:
    """A clip-id component: keeps letters, digits and -_. (YouTube ids may start with '-', which is kept)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
