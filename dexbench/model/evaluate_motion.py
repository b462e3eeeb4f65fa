"""Stage-1 diagnostics on SynthHeads (exact ground truth): pose-encoder accuracy, a linear probe of the pose
information in the expression code, and motion transfer of stage-1 outputs vs. baselines.

Instruments (stated, because they are not the benchmark's metrics): output pose is read by the trained pose
encoder, output expression by a ridge probe from the expression code to SynthHeads' 5 expression parameters fitted
on train-split frames. Both are the model's own encoders, so the comparison with baselines is a consistency check
under one fixed instrument, not an independent APD/AED (`dexbench eval` computes those with dexbench.face).
Usage: python -m dexbench.model.evaluate_motion --config reference_model/tiny.yaml --runs <run root> --out x.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dexbench.data.reader import ShardReader
from dexbench.io.atomic import write_json
from dexbench.model.config import load_config
from dexbench.model.motion.augment import mask_eyes_mouth
from dexbench.model.rotation import geodesic_deg
from dexbench.model.training.checkpoint import latest
from dexbench.model.training.stage2 import load_motion


def _frames(reader: ShardReader, split: str, every: int, size: int):
    from dexbench.methods.dexportrait import _to_tensor

    clips = reader.clips[reader.clips["split"] == split]["clip_id"].tolist()
    imgs, anns = [], []
    for c in clips:
        n = int(reader.clip(c)["n_frames"])
        idx = np.arange(0, n, every)
        imgs.append(_to_tensor(reader.frames(c, idx), size))
        anns.append(reader.annotations(c, idx))
    return clips, imgs, anns


def _ridge(x: np.ndarray, y: np.ndarray, lam: float = 1.0):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = np.c_[(x - mu) / sd, np.ones(len(x))]
    w = np.linalg.solve(xs.T @ xs + lam * np.eye(xs.shape[1]), xs.T @ y)
    return lambda z: np.c_[(z - mu) / sd, np.ones(len(z))] @ w


def _r2(pred: np.ndarray, y: np.ndarray) -> float:
    return float(1 - ((pred - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


@torch.no_grad()
def evaluate(config: str, runs: str, shards: str, every: int = 4, max_pairs: int = 24) -> dict:
    cfg = load_config(config)
    motion = load_motion(Path(runs) / "stage1", cfg)
    size = cfg.motion.image_size
    reader = ShardReader(shards)
    native = int(reader.clips["width"].iloc[0])
    codes, poses, heads = {}, {}, {}
    for split in ("train", "test"):
        _, imgs, anns = _frames(reader, split, every, size)
        x = torch.cat(imgs)
        lm = torch.from_numpy(np.concatenate([a.landmarks for a in anns]).astype(np.float32) * size / native)
        p = motion.pose_encoder(mask_eyes_mouth(x, lm))
        z = motion.encode_expression(x, p)
        if motion.expression_head is not None:  # the auxiliary read-out trained by loss.expression_prior
            heads[split] = motion.expression_head(z).numpy()
        codes[split] = (
            z.numpy(),
            np.concatenate([a.expression for a in anns]),
            np.stack([np.concatenate([getattr(a, k) for a in anns]) for k in ("yaw", "pitch", "roll")], 1),
        )
        poses[split] = (p, anns)
    p, anns = poses["test"]
    true_r = torch.from_numpy(np.concatenate([a.rotation for a in anns])).float()
    true_t = np.concatenate([a.translation for a in anns])
    true_s = np.concatenate([a.scale for a in anns])
    z_tr, e_tr, pose_tr = codes["train"]
    z_te, e_te, pose_te = codes["test"]
    expr_probe = _ridge(z_tr, e_tr)
    out = {
        "checkpoint": str(latest(Path(runs) / "stage1" / "checkpoints")),
        "frames": {"train": len(z_tr), "test": len(z_te)},
        "pose_encoder_test": {
            "rotation_error_deg_mean": float(geodesic_deg(p.rotation, true_r).mean()),
            "rotation_error_deg_median": float(geodesic_deg(p.rotation, true_r).median()),
            "translation_error_mean": float(np.linalg.norm(p.translation.numpy() - true_t, axis=1).mean()),
            "scale_rel_error_mean": float((np.abs(p.scale.numpy() - true_s) / true_s).mean()),
        },
        "linear_probe_test_r2": {
            "pose_from_expression_code": _r2(_ridge(z_tr, pose_tr)(z_te), pose_te),
            "expression_from_expression_code": _r2(expr_probe(z_te), e_te),
            "note": "ridge (lambda 1) fit on train-split frames, R^2 on held-out test identities; low pose R^2 = "
            "little pose information in the expression code",
        },
    }
    if heads:
        out["linear_probe_test_r2"]["expression_from_trained_head"] = _r2(heads["test"], e_te)
    out["transfer"] = _transfer(cfg, motion, reader, shards, expr_probe, max_pairs, config, runs)
    return out


def _transfer(cfg, motion, reader, shards, expr_probe, max_pairs: int, config: str, runs: str) -> dict:
    """Per task: pose error (deg, pose encoder) and expression error (probe, L2) of each method's output vs. truth."""
    from dexbench.methods.dexportrait import DexPortraitMotionAnimator, _to_tensor
    from dexbench.methods.registry import load_method
    from dexbench.protocol.manifest import build_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.tasks import TASKS

    raw = Path(shards).parent / "raw"
    loader = PairLoader(shards, raw)
    size = cfg.motion.image_size
    ours = DexPortraitMotionAnimator(config=config, runs=runs)
    methods = {"static": load_method("static"), "rts-warp": load_method("rts-warp"), "dexportrait-motion": ours}
    results: dict = {}
    for task in TASKS.values():
        manifest = build_manifest(loader.reader, task, seed=0, max_pairs=max_pairs, max_frames=12)
        acc: dict[str, dict[str, list[float]]] = {m: {"pose_deg": [], "expr_l2": []} for m in methods}
        for pair in manifest.pairs:
            req = loader.request(task, pair)
            target = loader.target(task, pair)
            if target is None:
                continue
            tgt = _to_tensor(target, size)
            t_pose = motion.pose_encoder(tgt)  # truth read by the same instrument (removes its bias)
            t_expr = expr_probe(motion.encode_expression(tgt, t_pose).numpy())
            for name, m in methods.items():
                x = _to_tensor(m.animate(req), size)
                x_pose = motion.pose_encoder(x)
                acc[name]["pose_deg"].append(float(geodesic_deg(x_pose.rotation, t_pose.rotation).mean()))
                e = expr_probe(motion.encode_expression(x, x_pose).numpy())
                acc[name]["expr_l2"].append(float(np.linalg.norm(e - t_expr, axis=1).mean()))
        results[task.name] = {
            m: {k: round(float(np.mean(v)), 4) for k, v in d.items()} | {"pairs": len(d["pose_deg"])}
            for m, d in acc.items()
        }
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="reference_model/tiny.yaml")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--shards", default="datasets/synthheads/shards")
    ap.add_argument("--max-pairs", type=int, default=24)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    res = evaluate(a.config, a.runs, a.shards, max_pairs=a.max_pairs)
    write_json(a.out, res)
    import json

    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
