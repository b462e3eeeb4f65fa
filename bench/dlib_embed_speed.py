"""csim_dlib's embedder, before / after: dlib's own ResNet forward (compute_face_descriptor) against the same weights
rebuilt by dexbench.nets.dlib_resnet and run batched in ONNX Runtime (the default) or torch, on face chips made the
way the metric makes them (YuNet box -> dlib 5 landmarks -> get_face_chip 150 px). Also times the chip step itself,
which both paths share. Prints one JSON object.

Inputs are SynthHeads renders at 256 px (no download). Each timing is the fastest of BENCH_REPEATS interleaved runs.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    import torch

    from dexbench.data.synth import render_clip, sample_identity, sample_motion
    from dexbench.face.analyzer import FaceAnalyzer
    from dexbench.metrics.identity import DlibEmbedder, load_embedder
    from dexbench.metrics.scorer import detect_each
    from dexbench.nets.dlib_resnet import DlibResNet

    n_ids, per_id = 4, 12
    repeats = int(os.environ.get("BENCH_REPEATS", "2"))
    frames = np.concatenate([render_clip(sample_identity(s), sample_motion(s, per_id), 256)[0] for s in range(n_ids)])
    boxes = detect_each(FaceAnalyzer(detect_every=1), frames)
    det = np.asarray(boxes.detected, bool)
    frames, bbox = frames[det], np.asarray(boxes.bbox)[det]
    n = len(frames)

    ort_emb = load_embedder("dlib")
    assert isinstance(ort_emb, DlibEmbedder) and ort_emb.backend == "onnxruntime"
    dlib_emb = DlibEmbedder(ort_emb.weights, runtime="dlib")
    torch_net = DlibResNet(ort_emb.weights.path, ort_emb.weights.sha256, "torch")
    chips = ort_emb.chips(frames, bbox)
    ref = np.asarray(dlib_emb.model.compute_face_descriptor(list(chips)), np.float32)
    diffs = {}
    for name, net in (("onnxruntime", ort_emb.model), ("torch", torch_net)):
        diffs[name] = float(np.abs(net.descriptors(chips) - ref).max())  # also the warm-up

    def per_chip(fn) -> float:
        return round(1e3 * _best(fn, repeats) / n, 2)

    threads = torch.get_num_threads()
    dlib_chips = list(chips)
    desc = {"dlib_compute_face_descriptor": per_chip(lambda: dlib_emb.model.compute_face_descriptor(dlib_chips))}
    # torch's thread count also bounds ONNX Runtime (OnnxNetwork); sessions are made per count
    for k in sorted({1, threads}):
        torch.set_num_threads(k)
        ort_k = DlibResNet(ort_emb.weights.path, ort_emb.weights.sha256, "onnxruntime")
        ort_k.descriptors(chips[:2])
        torch_net.descriptors(chips[:2])
        desc[f"onnxruntime_batch32_threads{k}"] = per_chip(lambda net=ort_k: net.descriptors(chips))
        desc[f"torch_batch32_threads{k}"] = per_chip(lambda: torch_net.descriptors(chips))
    torch.set_num_threads(threads)
    t_chips = _best(lambda: ort_emb.chips(frames, bbox), repeats)
    t_embed_dlib = _best(lambda: dlib_emb.embed(frames, bbox, None), repeats)
    t_embed_ort = _best(lambda: ort_emb.embed(frames, bbox, None), repeats)
    load = os.getloadavg()[0]
    print(
        json.dumps(
            {
                "bench": "dlib_embed_speed",
                "chips": n,
                "data": f"SynthHeads {n_ids} identities x {per_id} frames at 256 px, YuNet-detected",
                "descriptor_ms_per_chip": desc,
                "chip_ms_per_frame_shape5_get_face_chip": round(1e3 * t_chips / n, 2),
                "embed_ms_per_frame": {
                    "before_dlib": round(1e3 * t_embed_dlib / n, 2),
                    "after_onnxruntime": round(1e3 * t_embed_ort / n, 2),
                },
                "speedup_embed": round(t_embed_dlib / t_embed_ort, 2),
                "max_abs_descriptor_diff_vs_dlib": diffs,
                "torch_threads": threads,
                "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}, "
                f"load average {load:.1f} at the end (shared machine)",
                "repeats": repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
