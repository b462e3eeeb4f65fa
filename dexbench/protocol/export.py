"""Export a task's inputs as plain files, for methods that run outside dexbench (their own inference scripts).

<out>/<task>/<pair_id>/source.png        the source portrait (the exact pixels a plug-in method receives)
<out>/<task>/<pair_id>/driver.mp4        the driving frames, H.264 lossless RGB (any FFmpeg-based tool reads it)
<out>/<task>/pairs.json                  per pair: ids, clips, frame count, fps, size, which factors to transfer
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dexbench.io.atomic import atomic_path, write_json
from dexbench.io.video import write_video
from dexbench.progress import track
from dexbench.protocol.manifest import Manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.tasks import get_task


def export_inputs(manifest: Manifest, loader: PairLoader, out: str | Path) -> dict[str, Any]:
    task = get_task(manifest.task)
    root = Path(out) / task.name
    clips = loader.reader.clips.set_index("clip_id")
    listing = []
    for pair in track(manifest.pairs, f"export: {task.name}"):
        request = loader.request(task, pair)
        driver = request.pose_driver or request.expression_driver
        assert driver is not None
        folder = root / pair.pair_id
        with atomic_path(folder / "source.png") as tmp:
            Image.fromarray(np.ascontiguousarray(request.source.image)).save(tmp, format="PNG")
        fps = float(clips.loc[pair.driver_clip, "fps"])
        write_video(folder / "driver.mp4", driver.frames, fps, codec="h264-lossless")
        h, w = request.size
        listing.append(
            {
                "pair_id": pair.pair_id,
                "source": f"{pair.pair_id}/source.png",
                "driver": f"{pair.pair_id}/driver.mp4",
                "n_frames": pair.n_frames,
                "fps": fps,
                "width": w,
                "height": h,
                "transfer_pose": task.pose_from == "driver",
                "transfer_expression": task.expression_from == "driver",
                "output": f"{task.name}/{pair.pair_id}.mkv",
            }
        )
    index = {
        "dataset": manifest.dataset,
        "task": task.name,
        "task_version": task.version,
        "protocol_version": manifest.protocol_version,
        "manifest_sha256": manifest.sha256,
        "description": task.description,
        "pairs": listing,
    }
    write_json(root / "pairs.json", index)
    return index
