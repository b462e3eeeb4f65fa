"""Training-pair sampling: from Parquet shards (the model helper's `dexbench.data.training_pairs.TrainingPairs`,
2 DataLoader workers) vs random-access decoding of the same 256 px frames from H.264 mp4 with decord (2 worker
processes, one VideoReader per clip kept open). A pair = source + driving frame as float tensors in [-1, 1].
Targets: shards >= 5x faster, and >= 1,000 pairs/s on 2 cores at 256 px. Prints one JSON object."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DEXBENCH_QUIET", "1")
os.environ.update({"OMP_NUM_THREADS": "1"})


def _decord_worker(args: tuple[list[str], int, int]) -> int:
    import decord
    import numpy as np
    import torch

    torch.set_num_threads(1)
    paths, n_pairs, seed = args
    rng = np.random.default_rng(seed)
    readers = {p: decord.VideoReader(p, ctx=decord.cpu(0), num_threads=1) for p in paths}
    for _ in range(n_pairs):
        vr = readers[paths[int(rng.integers(len(paths)))]]
        a, b = (int(x) for x in rng.integers(0, len(vr), 2))
        pix = torch.from_numpy(vr.get_batch([a, b]).asnumpy()).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        assert pix.shape[-1] == 256
    return n_pairs


def main(n_clips: int = 6, frames: int = 60, n_pairs: int = 3000) -> dict:
    import torch
    from _corpus import make_corpus, write_h264
    from torch.utils.data import DataLoader

    from dexbench.data.clip_pipeline import PipelineConfig
    from dexbench.data.reader import ShardReader
    from dexbench.data.recipes.folder import FOLDER
    from dexbench.data.recipes.sharding import build_video_shards
    from dexbench.data.training_pairs import TrainingPairs, collate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_corpus(tmp / "raw", n_clips, frames)
        shards = tmp / "shards"
        build_video_shards(FOLDER, tmp / "raw", shards, config=PipelineConfig(crop_size=256), clips_per_shard=3)
        reader = ShardReader(shards)
        mp4s = []
        for cid in reader.clips["clip_id"]:
            p = tmp / "mp4" / f"{cid}.mp4"
            write_h264(p, reader.frames(cid), fps=25.0)  # the same 256 px crops, as a video file
            mp4s.append(str(p))

        ds = TrainingPairs(shards, size=256, split=None, n_driving=1, pairs_per_clip=4, buffer=64, seed=0)
        loader = DataLoader(ds, batch_size=50, num_workers=2, collate_fn=collate, persistent_workers=False)
        it = iter(loader)
        next(it)  # start-up (worker spawn, index) is not sampling speed
        t0 = time.perf_counter()
        got = 0
        while got < n_pairs:
            got += len(next(it)["source"])
        shard_rate = got / (time.perf_counter() - t0)
        del it, loader

        ctx = mp.get_context("spawn")
        with ctx.Pool(2) as pool:
            pool.map(_decord_worker, [(mp4s, 5, 1), (mp4s, 5, 2)])  # warm-up
            t0 = time.perf_counter()
            done = sum(pool.map(_decord_worker, [(mp4s, n_pairs // 4, 3), (mp4s, n_pairs // 4, 4)]))
            decord_rate = done / (time.perf_counter() - t0)
    _ = torch
    return {
        "benchmark": "pair_sampling_speed",
        "corpus": f"{n_clips} clips x {frames} frames, 256 px crops (JPEG q95 in shards; H.264 crf 20 mp4 for decord)",
        "cores": 2,
        "shards_pairs_per_s": round(shard_rate, 1),
        "decord_mp4_pairs_per_s": round(decord_rate, 1),
        "speedup": round(shard_rate / decord_rate, 2),
        "targets": {"speedup": 5, "pairs_per_s": 1000},
        "meets_targets": shard_rate >= 1000 and shard_rate / decord_rate >= 5,
        "sampler": "dexbench.data.training_pairs.TrainingPairs (model helper's), DataLoader num_workers=2, batch 50",
        "note": "run on a 2-core machine shared with other jobs",
    }


if __name__ == "__main__":
    print(json.dumps(main()))
