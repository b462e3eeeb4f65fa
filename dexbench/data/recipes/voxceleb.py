"""VoxCeleb1 and VoxCeleb2: per-utterance clips, identity-disjoint official split (the meta CSV's Set column).

Per utterance the recipe uses, in order of preference:
1. the published face track `txt/<id>/<ref>/<utt>.txt` (frame numbers at 25 fps in the YouTube video, one box per
   frame) together with the YouTube video `videos/<ref>.mp4`: the clip is cut by the track's frames and cropped by
   its boxes, no face detection;
2. the utterance video `mp4/<id>/<ref>/<utt>.mp4` (the official VoxCeleb2 release; already cut and face-centred):
   the whole file, with face detection.
Track files whose video is missing are quarantined (`missing-video`); identities absent from the meta CSV are
quarantined (`missing-metadata`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from dexbench.data.quarantine import Rejected, reject
from dexbench.data.recipes.base import ClipSource, Listing, VideoRecipe
from dexbench.errors import InputFileError

TRACK_FPS = 25.0  # VoxCeleb's track frame numbers count frames of the 25 fps YouTube video
VOX1_TEST_IDS = {f"id{n}" for n in range(10270, 10310)}  # the 40 official VoxCeleb1 test identities


def parse_track(path: Path) -> tuple[dict[str, str], list[tuple[float, float, float, float, float]]]:
    """A VoxCeleb face-track txt: 'Key : value' header lines, a blank line, 'FRAME X Y W H', then one row per frame.
    Returns the header and rows (frame, x0, y0, x1, y1) in the file's units (pixels in VoxCeleb1, fractions of the
    frame size in VoxCeleb2)."""
    header: dict[str, str] = {}
    rows: list[tuple[float, float, float, float, float]] = []
    in_table = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        if not in_table:
            if line.split()[0] == "FRAME":
                in_table = True
            elif ":" in line:
                key, _, value = line.partition(":")
                header[key.strip()] = value.strip()
            continue
        parts = line.split()
        if len(parts) < 5:
            raise InputFileError(path, f"track row {line.strip()!r} has fewer than 5 columns")
        f, x, y, w, h = (float(v) for v in parts[:5])
        rows.append((f, x, y, x + w, y + h))
    if not rows:
        raise InputFileError(path, "face track has no FRAME rows", "re-extract the dataset's txt archive")
    return header, rows


class VoxCelebRecipe(VideoRecipe):
    homepage = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/"
    license = "CC BY 4.0 (metadata); videos remain their owners' (YouTube)"

    def __init__(self, name: str, title: str, meta_csv: str) -> None:
        self.name = name
        self.title = title
        self.meta_csv = meta_csv
        self.layout_hint = (
            f"raw/{meta_csv} + raw/**/txt/<id>/<ref>/<utt>.txt with raw/videos/<ref>.mp4,"
            " or raw/**/mp4/<id>/<ref>/<utt>.mp4"
        )

    def read_meta(self, raw: Path) -> dict[str, str]:
        """identity -> 'train' | 'test' from the meta CSV (VoxCeleb1: tab-separated; VoxCeleb2: comma + spaces)."""
        path = self.require(raw / self.meta_csv, "meta CSV")
        text = path.read_text(encoding="utf-8", errors="replace")
        delim = "\t" if "\t" in text.splitlines()[0] else ","
        rows = list(csv.reader(text.splitlines(), delimiter=delim))
        header = [h.strip() for h in rows[0]]
        try:
            set_col = header.index("Set")
        except ValueError as exc:
            raise InputFileError(path, f"no 'Set' column in header {header}") from exc
        out = {}
        for row in rows[1:]:
            if len(row) > set_col and row[0].strip():
                out[row[0].strip()] = "test" if row[set_col].strip().lower() == "test" else "train"
        return out

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        splits = self.read_meta(raw)
        utterances: dict[tuple[str, str, str], dict[str, Path]] = {}
        for kind, suffix in (("txt", ".txt"), ("mp4", ".mp4")):
            for p in sorted(raw.rglob(f"{kind}/id*/*/*{suffix}")):
                ident, ref, utt = p.parts[-3], p.parts[-2], p.stem
                utterances.setdefault((ident, ref, utt), {})[kind] = p
        if not utterances:
            raise InputFileError(raw, f"{self.title}: no utterances found", f"expected layout: {self.layout_hint}")
        clips: list[ClipSource] = []
        rejected: list[Rejected] = []
        for (ident, ref, utt), files in sorted(utterances.items()):
            cid = f"{self.name}-{ident}-{ref}-{utt}"
            video = raw / "videos" / f"{ref}.mp4"
            rel_video = video.relative_to(raw).as_posix()
            if ident not in splits:
                src = (files.get("mp4") or files["txt"]).relative_to(raw).as_posix()
                rejected.append(reject(cid, src, "missing-metadata", f"identity {ident} not in {self.meta_csv}"))
                continue
            split = splits[ident]
            if "txt" in files and (video.is_file() or "mp4" not in files):
                try:
                    _, rows = parse_track(files["txt"])
                except InputFileError as exc:
                    rejected.append(reject(cid, files["txt"].relative_to(raw).as_posix(), "bad-metadata", exc.message))
                    continue
                if not video.is_file():
                    rejected.append(reject(cid, rel_video, "missing-video", f"YouTube video {ref} not downloaded"))
                    continue
                norm = all(max(r[1:]) <= 1.5 for r in rows)
                first, last = int(rows[0][0]), int(rows[-1][0])
                clips.append(
                    ClipSource(
                        cid, ident, rel_video, split,
                        frame_range=(first, last + 1), range_fps=TRACK_FPS,
                        boxes=tuple(rows), box_space="norm" if norm else "px",
                    )
                )  # fmt: skip
            else:
                clips.append(ClipSource(cid, ident, files["mp4"].relative_to(raw).as_posix(), split))
        return Listing(clips, rejected)


VOXCELEB1 = VoxCelebRecipe("voxceleb1", "VoxCeleb1", "vox1_meta.csv")
VOXCELEB2 = VoxCelebRecipe("voxceleb2", "VoxCeleb2", "vox2_meta.csv")
