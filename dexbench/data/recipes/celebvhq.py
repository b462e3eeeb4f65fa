"""CelebV-HQ: `celebvhq_info.json` lists clips (`clips.<clip_id>`: ytb_id, duration.start_sec/end_sec, bbox
top/bottom/left/right as fractions of the frame). Clips are cut from the raw YouTube download `raw/<ytb_id>.mp4`
with the JSON's box (no detection); if only the processed clip `processed/<clip_id>.mp4` exists (the output of the
official download_and_process.py), the whole file is used with detection. Identities are not published: the split
is by source video (seeded hash of ytb_id)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dexbench.data.quarantine import Rejected, reject
from dexbench.data.recipes.base import ClipSource, Listing, VideoRecipe, hashed_split, safe_id
from dexbench.errors import InputFileError


class CelebVHQRecipe(VideoRecipe):
    name = "celebvhq"
    title = "CelebV-HQ"
    license = "research use only (CelebV-HQ terms); videos remain their owners' (YouTube)"
    homepage = "https://github.com/CelebV-HQ/CelebV-HQ"
    layout_hint = "raw/celebvhq_info.json + raw/raw/<ytb_id>.mp4 (or raw/processed/<clip_id>.mp4)"

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        path = self.require(raw / "celebvhq_info.json", "celebvhq_info.json")
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            entries = info["clips"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputFileError(path, f"not a CelebV-HQ info JSON ({exc})") from exc
        test_fraction = float(options.get("test_fraction", 0.1))
        seed = int(options.get("seed", 0))
        clips: list[ClipSource] = []
        rejected: list[Rejected] = []
        for key, val in sorted(entries.items()):
            cid = f"celebvhq-{safe_id(key)}"
            try:
                ytb = str(val["ytb_id"])
                t0, t1 = float(val["duration"]["start_sec"]), float(val["duration"]["end_sec"])
                b = val["bbox"]
                box = (-1.0, float(b["left"]), float(b["top"]), float(b["right"]), float(b["bottom"]))
            except (KeyError, TypeError, ValueError) as exc:
                rejected.append(reject(cid, path.name, "bad-metadata", f"entry {key!r} lacks {exc}"))
                continue
            split = hashed_split(ytb, test_fraction, seed)
            full, cut = f"raw/{ytb}.mp4", f"processed/{key}.mp4"
            if (raw / full).is_file():
                clips.append(
                    ClipSource(
                        cid,
                        f"ytb:{ytb}",
                        full,
                        split,
                        time_range=(t0, t1),
                        boxes=(box,),
                        box_space="norm",
                        box_kind="window",
                    )
                )
            elif (raw / cut).is_file():
                clips.append(ClipSource(cid, f"ytb:{ytb}", cut, split))
            else:
                rejected.append(reject(cid, full, "missing-video", f"neither {full} nor {cut} is present"))
        return Listing(clips, rejected)


CELEBVHQ = CelebVHQRecipe()
