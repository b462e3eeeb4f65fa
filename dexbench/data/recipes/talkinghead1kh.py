"""TalkingHead-1KH: `data_list/{train,val}_video_tubes.txt`, one tube per line
`video_name, H, W, S, E, L, T, R, B` (a 1-minute chunk `<ytb_id>_<NNNN>` made by the official videos_split.py, its
height and width, the first and one-past-last frame, and the face window left/top/right/bottom in pixels). Tubes are
cut from `{train,val}/1min_clips/<video_name>.mp4` with the published window (no detection). Official split:
train -> train, val -> test. Identities are not published: each YouTube video is its own group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dexbench.data.quarantine import Rejected, reject
from dexbench.data.recipes.base import ClipSource, Listing, VideoRecipe
from dexbench.errors import InputFileError

SPLITS = {"train": "train", "val": "test"}


class TalkingHead1KHRecipe(VideoRecipe):
    name = "talkinghead1kh"
    title = "TalkingHead-1KH"
    license = "CC BY-NC-SA 4.0 (lists); videos remain their owners' (YouTube)"
    homepage = "https://github.com/tcwang0509/TalkingHead-1KH"
    layout_hint = "raw/data_list/{train,val}_video_tubes.txt + raw/{train,val}/1min_clips/<ytb_id>_<NNNN>.mp4"

    def list_clips(self, raw: Path, options: dict[str, Any]) -> Listing:
        self.require(raw / "data_list", "data_list/ folder")
        clips: list[ClipSource] = []
        rejected: list[Rejected] = []
        found = False
        for part, split in SPLITS.items():
            tubes = raw / "data_list" / f"{part}_video_tubes.txt"
            if not tubes.is_file():
                continue
            found = True
            for n, line in enumerate(tubes.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                fields = [f.strip() for f in line.split(",")]
                name = fields[0]
                rel = f"{part}/1min_clips/{name}.mp4"
                try:
                    h, _w, s, e, left, top, right, bottom = (int(v) for v in fields[1:9])
                except ValueError:
                    rejected.append(reject(f"th1kh-{name}-line{n}", rel, "bad-metadata", f"{tubes.name}:{n} malformed"))
                    continue
                cid = f"th1kh-{name}-S{s}-E{e}"
                if not (raw / rel).is_file():
                    rejected.append(reject(cid, rel, "missing-video", "1-minute chunk not present"))
                    continue
                ytb = name.rsplit("_", 1)[0]
                box = ((-1.0, float(left), float(top), float(right), float(bottom)),)
                clips.append(
                    ClipSource(
                        cid,
                        f"ytb:{ytb}",
                        rel,
                        split,
                        frame_range=(s, e),
                        boxes=box,
                        box_space=f"px@{h}",
                        box_kind="window",
                    )
                )
        if not found:
            raise InputFileError(raw / "data_list", "no train_video_tubes.txt or val_video_tubes.txt")
        return Listing(clips, rejected)


TALKINGHEAD1KH = TalkingHead1KHRecipe()
