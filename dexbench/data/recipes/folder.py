"""A folder of the user's own videos. Identity = the first sub-folder (`raw/<identity>/**/<video>`), or the video
itself for videos directly in `raw/`; an optional `metadata.csv` (path,identity[,split][,start_sec,end_sec]) overrides
both. Splits are by identity (seeded hash, `test_fraction`) unless metadata.csv gives them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from dexbench.data.quarantine import reject
from dexbench.data.recipes.base import ClipSource, Listing, VideoRecipe, hashed_split, safe_id
from dexbench.errors import InputFileError, require_dir
from dexbench.io.video import VIDEO_SUFFIXES


class FolderRecipe(VideoRecipe):
    name = "folder"
    title = "Folder of videos"
    license = "as the user's videos"
    homepage = ""
    layout_hint = "raw/<identity>/<name>.mp4 (or raw/<name>.mp4), optional raw/metadata.csv"

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        require_dir(raw, "raw folder of videos", f"expected layout: {self.layout_hint}")
        test_fraction = float(options.get("test_fraction", 0.1))
        seed = int(options.get("seed", 0))
        rows = self._metadata(raw)
        videos = sorted(
            p.relative_to(raw).as_posix()
            for p in raw.rglob("*")
            if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith(".")
        )
        clips, rejected = [], []
        listed = rows if rows is not None else {v: {} for v in videos}
        for rel, row in sorted(listed.items()):
            parts = rel.split("/")
            identity = row.get("identity") or (parts[0] if len(parts) > 1 else Path(rel).stem)
            cid = "folder-" + safe_id(rel.rsplit(".", 1)[0].replace("/", "__"))
            if rel not in videos:
                rejected.append(reject(cid, rel, "missing-video", "listed in metadata.csv but not on disk"))
                continue
            time_range = None
            if row.get("start_sec") and row.get("end_sec"):
                time_range = (float(row["start_sec"]), float(row["end_sec"]))
            split = row.get("split") or hashed_split(identity, test_fraction, seed)
            clips.append(ClipSource(cid, identity, rel, split, time_range=time_range))
        if rows is not None:
            for rel in sorted(set(videos) - set(rows)):
                cid = "folder-" + safe_id(rel.rsplit(".", 1)[0].replace("/", "__"))
                rejected.append(reject(cid, rel, "missing-metadata", "video has no row in metadata.csv"))
        if not clips and not rejected:
            raise InputFileError(raw, "no videos found", f"expected layout: {self.layout_hint}")
        return Listing(clips, rejected)

    def _metadata(self, raw: Path) -> dict[str, dict[str, str]] | None:
        path = raw / "metadata.csv"
        if not path.is_file():
            return None
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise InputFileError(path, "needs a header with at least a 'path' column", "path,identity,split")
            return {row["path"].strip(): {k: (v or "").strip() for k, v in row.items()} for row in reader}


FOLDER = FolderRecipe()
