"""HDTF: long YouTube videos cut into talking-head clips by the published time stamps (`HDTF_dataset/`).

Per subset xx in {RD, WDA, WRA}: `xx_video_url.txt` (name url), `xx_resolution.txt` (name.mp4 height),
`xx_annotion_time.txt` (name.mp4 mm:ss-mm:ss ...), `xx_crop_wh.txt` (name_k.mp4 x width y height, at the reference
resolution), `xx_crop_ratio.txt` (name_k.mp4 zoom). Clip k of a video is its k-th time range; long ranges are cut
into segments of at most `max_clip_seconds` (default 20). The fixed crop window of crop_wh.txt replaces detection.
No official split: identity-disjoint by seeded hash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dexbench.data.quarantine import Rejected, reject
from dexbench.data.recipes.base import ClipSource, Listing, VideoRecipe, hashed_split
from dexbench.errors import InputFileError

SUBSETS = ("RD", "WDA", "WRA")


def to_seconds(stamp: str) -> float:
    """'mm:ss' or 'h:mm:ss' (HDTF's time stamps) to seconds."""
    parts = [float(p) for p in stamp.strip().split(":")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"bad time stamp {stamp!r}")
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def _table(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        parts = line.split()
        if parts:
            out[parts[0]] = parts[1:]
    return out


def identity_of(name: str) -> str:
    """WDA_BarackObama_000 -> WDA_BarackObama; WRA_MarcoRubio1_000 -> WRA_MarcoRubio (the number tells apart videos
    of one person); RD names keep their number (Radio11 and Radio24 are different speakers)."""
    base = re.sub(r"_\d+$", "", name)
    if base.startswith("RD") or re.fullmatch(r"Radio\d+", base):
        return base
    return re.sub(r"\d+$", "", base)


class HDTFRecipe(VideoRecipe):
    name = "hdtf"
    title = "HDTF"
    license = "CC BY 4.0 (annotations); videos remain their owners' (YouTube)"
    homepage = "https://github.com/MRzzm/HDTF"
    layout_hint = "raw/HDTF_dataset/{RD,WDA,WRA}_*.txt + raw/videos/<name>.mp4"

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        meta = self.require(raw / "HDTF_dataset", "metadata folder HDTF_dataset/")
        max_seconds = float(options.get("max_clip_seconds", 20.0))
        test_fraction = float(options.get("test_fraction", 0.1))
        seed = int(options.get("seed", 0))
        clips: list[ClipSource] = []
        rejected: list[Rejected] = []
        found_any = False
        for subset in SUBSETS:
            urls = _table(meta / f"{subset}_video_url.txt")
            times = _table(meta / f"{subset}_annotion_time.txt")
            if not urls and not times:
                continue
            found_any = True
            res = _table(meta / f"{subset}_resolution.txt")
            crops = _table(meta / f"{subset}_crop_wh.txt")
            names = sorted({n for n in urls} | {t.removesuffix(".mp4") for t in times})
            for name in names:
                rel = f"videos/{name}.mp4"
                ranges = times.get(f"{name}.mp4")
                if ranges is None:
                    rejected.append(reject(f"hdtf-{name}", rel, "missing-metadata", "no row in annotion_time.txt"))
                    continue
                identity = identity_of(name)
                split = hashed_split(identity, test_fraction, seed)
                ref_height = res.get(f"{name}.mp4", [None])[0]
                for k, rng in enumerate(ranges):
                    cid = f"hdtf-{name}_{k}"
                    try:
                        a, b = (to_seconds(s) for s in rng.split("-"))
                    except ValueError:
                        rejected.append(reject(cid, rel, "bad-metadata", f"time range {rng!r} is not mm:ss-mm:ss"))
                        continue
                    if not (raw / rel).is_file():
                        rejected.append(reject(cid, rel, "missing-video", "video not downloaded"))
                        continue
                    boxes, space = None, "px"
                    crop = crops.get(f"{name}_{k}.mp4")
                    if crop and len(crop) >= 4 and ref_height:
                        x, w, y, h = (float(v) for v in crop[:4])
                        boxes, space = ((-1.0, x, y, x + w, y + h),), f"px@{ref_height}"
                    n_seg = max(1, int(-(-(b - a) // max_seconds)))
                    for j in range(n_seg):
                        s0, s1 = a + j * max_seconds, min(b, a + (j + 1) * max_seconds)
                        seg_id = cid if n_seg == 1 else f"{cid}-s{j:03d}"
                        clips.append(
                            ClipSource(
                                seg_id,
                                identity,
                                rel,
                                split,
                                time_range=(s0, s1),
                                boxes=boxes,
                                box_space=space,
                                box_kind="window",
                            )
                        )
        if not found_any:
            raise InputFileError(meta, "no HDTF metadata files (xx_video_url.txt, xx_annotion_time.txt)")
        return Listing(clips, rejected)


HDTF = HDTFRecipe()
