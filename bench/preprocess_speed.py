"""Preprocessing throughput, frames/s per core: 360p H.264 input -> 256 px crops with landmarks, pose, expression,
quality and JPEG frames (the folder recipe end to end, 1 worker = 1 core), against decode-only of the same videos
(the floor). Target: >= 100 frames/s per core end to end. Prints one JSON object."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DEXBENCH_QUIET", "1")
os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})


def main(n_clips: int = 6, frames_per_clip: int = 120) -> dict:
    import cv2

    cv2.setNumThreads(1)
    from _corpus import make_corpus

    from dexbench.data.clip_pipeline import PipelineConfig, VideoSource
    from dexbench.data.engines import get_engine
    from dexbench.data.recipes.folder import FOLDER
    from dexbench.data.recipes.sharding import analyzer_for, build_video_shards

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        total = make_corpus(raw, n_clips, frames_per_clip)
        videos = sorted(raw.rglob("*.mp4"))
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for v in videos:
            src = VideoSource(v, "x", "x")
            for b in src.chunks(0, src.info.n_frames):
                n += len(b)
        decode, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
        speeds, cpu_speeds, dropped = {}, {}, {}
        runs = {  # name: (landmark_init, landmarker); the first is the default PipelineConfig
            "crop-track+iris": ("crop-track", "dlib68+iris"),
            "crop-track": ("crop-track", "dlib68"),
            "detect": ("detect", "dlib68"),
            "track": ("track", "dlib68"),
        }
        for name, (init, landmarker) in runs.items():
            cfg = PipelineConfig(crop_size=256, landmark_init=init, landmarker=landmarker)
            analyzer_for(cfg)  # network loading is a one-off per worker, not per frame
            t0, c0 = time.perf_counter(), time.process_time()
            summary = build_video_shards(
                FOLDER, raw, Path(tmp) / name, config=cfg, clips_per_shard=4, engine=get_engine("local", 1)
            )
            speeds[name] = summary["frames_written"] / (time.perf_counter() - t0)
            cpu_speeds[name] = summary["frames_written"] / (time.process_time() - c0)
            dropped[name] = summary["clips_dropped"]
    load_after = os.getloadavg()
    default = PipelineConfig()
    fps = speeds["crop-track+iris"]
    assert (default.landmark_init, default.landmarker) == runs["crop-track+iris"], "the headline must be the default"
    return {
        "benchmark": "preprocess_speed",
        "input": f"{n_clips} x {frames_per_clip} frames, 640x360 H.264 (carphone_pristine upscaled), 29.97 fps",
        "crop_size": 256,
        "cores": 1,
        "decode_only_fps_per_core": round(n / decode, 1),
        "end_to_end_fps_per_core": round(fps, 1),
        "end_to_end_frames_per_cpu_s": round(cpu_speeds["crop-track+iris"], 1),
        "end_to_end_over_decode": round(fps / (n / decode), 3),
        "end_to_end_fps_per_core_by_setting": {k: round(v, 1) for k, v in speeds.items()},
        # frames per CPU-second of the (single-threaded) worker: per-core throughput without the other jobs' share
        "decode_only_frames_per_cpu_s": round(n / decode_cpu, 1),
        "end_to_end_frames_per_cpu_s_by_setting": {k: round(v, 1) for k, v in cpu_speeds.items()},
        "frames": total,
        "clips_dropped_by_setting": dropped,
        "target_fps_per_core": 100,
        "meets_target_wall_clock": fps >= 100,
        "meets_target_per_cpu_s": cpu_speeds["crop-track+iris"] >= 100,
        "default_landmark_init": default.landmark_init,
        "default_landmarker": default.landmarker,
        "load_average_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "note": "1 worker process (1 core); the machine's other core was shared with other jobs",
    }


if __name__ == "__main__":
    print(json.dumps(main()))
