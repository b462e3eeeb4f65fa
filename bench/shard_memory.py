"""Peak memory of sharding 10 vs 100 clips (folder recipe, 1 worker, 360p input, 256 px crops): each run in a fresh
process, peak RSS from getrusage. Shards are written clip by clip, so the peak should not grow with the corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
CHILD = """
import os, sys, resource
sys.path.insert(0, {here!r})
os.environ["DEXBENCH_QUIET"] = "1"
from pathlib import Path
from dexbench.data.clip_pipeline import PipelineConfig
from dexbench.data.recipes.folder import FOLDER
from dexbench.data.recipes.sharding import build_video_shards
s = build_video_shards(FOLDER, Path({raw!r}), Path({out!r}), config=PipelineConfig(crop_size=256), clips_per_shard=8)
print(s["clips_written"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(n_clips: int, frames: int, tmp: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from _corpus import make_corpus

    raw, out = tmp / f"raw{n_clips}", tmp / f"out{n_clips}"
    make_corpus(raw, n_clips, frames)
    code = CHILD.format(here=str(HERE), raw=str(raw), out=str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    clips, kib = res.stdout.split()[-2:]
    return {"clips": int(clips), "frames_per_clip": frames, "peak_rss_mib": round(int(kib) / 1024, 1)}


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        small = run(10, 24, Path(tmp))
        large = run(100, 24, Path(tmp))
    return {
        "benchmark": "shard_memory",
        "input": "640x360 H.264 (carphone_pristine upscaled), 24 frames per clip, 8 clips per shard",
        "runs": [small, large],
        "peak_ratio_100_over_10": round(large["peak_rss_mib"] / small["peak_rss_mib"], 3),
        "flat": large["peak_rss_mib"] <= 1.15 * small["peak_rss_mib"],
    }


if __name__ == "__main__":
    print(json.dumps(main()))
