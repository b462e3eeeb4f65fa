"""The shard-streaming training-pair dataset: content, clip consistency, determinism, fast-forward."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dexbench.data.reader import ShardReader
from dexbench.data.recipes.synthheads import build_shards
from dexbench.data.training_pairs import TrainingPairs, collate, to_unit_range
from dexbench.errors import DexbenchError, InputFileError
from dexbench.model.training import loop
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config


def test_samples_come_from_one_clip_of_the_split(workspace) -> None:
    ds = TrainingPairs(workspace.shards, size=32, split="train", n_driving=2, buffer=8, seed=0)
    reader = ShardReader(workspace.shards)
    train = set(reader.clips[reader.clips["split"] == "train"]["clip_id"])
    recs = list(itertools.islice(ds.records(), 30))
    assert {r.clip_id for r in recs} <= train and len({r.clip_id for r in recs}) > 1
    assert all(r.driving_frames[1] == r.driving_frames[0] + 1 for r in recs)
    s = ds.load(recs[0])
    assert s["source"].shape == (3, 32, 32) and s["driving"].shape == (2, 3, 32, 32)
    assert s["source"].min() >= -1.0 and s["source"].max() <= 1.0
    ann = reader.annotations(recs[0].clip_id, np.array(recs[0].driving_frames))
    assert np.allclose(s["driving_rotation"].numpy(), ann.rotation, atol=1e-6)
    assert np.allclose(s["driving_landmarks"].numpy(), ann.landmarks * 32 / 64, atol=1e-4)
    ref = reader.frames(recs[0].clip_id, np.array([recs[0].source_frame]))[0]
    expect = cv2.resize(ref, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    assert np.allclose(s["source"].permute(1, 2, 0).numpy(), expect, atol=1e-5)


def test_seeded_and_fast_forward(workspace) -> None:
    a = TrainingPairs(workspace.shards, size=16, seed=3, buffer=8)
    b = TrainingPairs(workspace.shards, size=16, seed=3, buffer=8)
    c = TrainingPairs(workspace.shards, size=16, seed=4, buffer=8)
    ra, rb, rc = (list(itertools.islice(d.records(), 40)) for d in (a, b, c))
    assert ra == rb and ra != rc
    skipped = TrainingPairs(workspace.shards, size=16, seed=3, buffer=8, skip=5)
    first = next(iter(skipped))
    assert torch.equal(first["source"], a.load(ra[5])["source"])
    batch = collate([a.load(r) for r in ra[:3]])
    assert batch["source"].shape == (3, 3, 16, 16) and len(batch["clip_id"]) == 3


def test_bad_split_is_a_clear_error(workspace, tmp_path) -> None:
    with pytest.raises(InputFileError, match="no clips in split"):
        TrainingPairs(workspace.shards, split="nope")
    with pytest.raises(InputFileError, match="no frame shards"):
        TrainingPairs(tmp_path)


def test_native_size_uint8_and_worker_batches_match_the_reader(workspace) -> None:
    """At the stored crop size frames are decoded straight into the sample (no resize): they must equal the shard
    reader's Pillow decode exactly; uint8 samples hold the same pixels; DataLoader workers give the same samples."""
    reader = ShardReader(workspace.shards)
    native = int(reader.clips["width"].iloc[0])
    ds = TrainingPairs(workspace.shards, size=native, split=None, n_driving=3, buffer=4, seed=1)
    u8 = TrainingPairs(workspace.shards, size=native, split=None, n_driving=3, buffer=4, seed=1, pixels="uint8")
    for rec in itertools.islice(ds.records(), 6):
        frames = np.array([rec.source_frame, *rec.driving_frames])
        # one frame at a time: the reader returns frames sorted and unique, a pair's source may repeat a driver
        ref = np.stack([reader.frames(rec.clip_id, frames[i : i + 1])[0] for i in range(4)])  # Pillow's decode
        s, q = ds.load(rec), u8.load(rec)
        assert q["source"].dtype == torch.uint8 and q["driving"].shape == (3, 3, native, native)
        assert np.array_equal(q["source"].permute(1, 2, 0).numpy(), ref[0])
        assert np.array_equal(q["driving"].permute(0, 2, 3, 1).numpy(), ref[1:])
        assert torch.equal(to_unit_range(q["driving"]), s["driving"])
        src_ann, drv_ann = reader.annotations(rec.clip_id, frames[:1]), reader.annotations(rec.clip_id, frames[1:])
        assert np.allclose(s["source_landmarks"].numpy(), src_ann.landmarks[0], atol=1e-4)
        assert np.allclose(s["driving_expression"].numpy(), drv_ann.expression, atol=1e-6)
        assert np.allclose(s["driving_scale"].numpy(), drv_ann.scale, atol=1e-6)
    loader = DataLoader(ds, batch_size=5, num_workers=2, collate_fn=collate)
    batch = next(iter(loader))
    first = ds.load(next(ds.records(0, 2)))
    assert batch["driving"].shape == (5, 3, 3, native, native)
    assert torch.equal(batch["source"][0], first["source"]) and batch["clip_id"][0] == first["clip_id"]


def test_unknown_pixel_type_is_refused(workspace) -> None:
    from dexbench.errors import DexbenchError

    with pytest.raises(DexbenchError, match="pixels"):
        TrainingPairs(workspace.shards, pixels="half")


@pytest.mark.parametrize("pixels", ["float", "uint8"])
def test_batched_mode_gives_the_dataloader_batches(workspace, pixels: str) -> None:
    """batch_size=B yields exactly what DataLoader(batch_size=B, collate_fn=collate) builds from single samples,
    with one worker and with two (each worker batches its own consecutive records), and resumes the same way."""
    kw = dict(size=32, split=None, n_driving=2, buffer=8, seed=5, pixels=pixels)
    for workers in (0, 2):
        single = DataLoader(
            TrainingPairs(workspace.shards, **kw), batch_size=4, num_workers=workers, collate_fn=collate
        )
        batched = DataLoader(TrainingPairs(workspace.shards, batch_size=4, **kw), batch_size=None, num_workers=workers)
        for a, b in itertools.islice(zip(single, batched, strict=True), 3):
            assert a.keys() == b.keys() and a["clip_id"] == b["clip_id"]
            for k in a:
                if k != "clip_id":
                    assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
    resumed = next(iter(TrainingPairs(workspace.shards, batch_size=4, skip=4, **kw)))
    plain = list(itertools.islice(iter(TrainingPairs(workspace.shards, **kw)), 8))
    assert resumed["clip_id"] == [s["clip_id"] for s in plain[4:]]
    assert torch.equal(resumed["driving"], torch.stack([s["driving"] for s in plain[4:]]))


def test_expression_contrast_sources_differ_more_in_expression(workspace) -> None:
    reader = ShardReader(workspace.shards)

    def mean_gap(ds: TrainingPairs) -> float:
        gaps = []
        for r in itertools.islice(ds.records(), 60):
            e = [
                reader.annotations(r.clip_id, np.array([f])).expression[0]
                for f in (r.source_frame, r.driving_frames[0])
            ]
            gaps.append(np.abs(e[0] - e[1]).sum())
        return float(np.mean(gaps))

    plain = TrainingPairs(workspace.shards, size=16, seed=2, buffer=8)
    contrast = TrainingPairs(workspace.shards, size=16, seed=2, buffer=8, source_contrast=4)
    again = TrainingPairs(workspace.shards, size=16, seed=2, buffer=8, source_contrast=4)
    assert list(itertools.islice(contrast.records(), 20)) == list(itertools.islice(again.records(), 20))
    assert mean_gap(contrast) > 1.2 * mean_gap(plain)


def test_cross_clip_sources_come_from_another_clip_of_the_identity(workspace) -> None:
    reader = ShardReader(workspace.shards)
    identity = dict(zip(reader.clips["clip_id"], reader.clips["identity"], strict=True))
    ds = TrainingPairs(workspace.shards, size=32, seed=1, buffer=8, cross_clip=1.0, source_contrast=3)
    recs = list(itertools.islice(ds.records(), 30))
    assert recs == list(
        itertools.islice(
            TrainingPairs(workspace.shards, seed=1, buffer=8, cross_clip=1.0, source_contrast=3).records(), 30
        )
    )
    # the tiny workspace's shards hold both clips of an identity together, so every source can cross
    assert all(r.source_clip and r.source_clip != r.clip_id for r in recs)
    assert all(identity[r.source_clip] == identity[r.clip_id] for r in recs)
    r = recs[0]
    s = ds.load(r)
    src = reader.annotations(r.source_clip, np.array([r.source_frame]))
    drv = reader.annotations(r.clip_id, np.array(r.driving_frames))
    assert np.allclose(s["source_rotation"].numpy(), src.rotation[0], atol=1e-6)
    assert np.allclose(s["driving_rotation"].numpy(), drv.rotation, atol=1e-6)
    assert np.allclose(s["source_landmarks"].numpy(), src.landmarks[0] * 32 / 64, atol=1e-4)
    ref = reader.frames(r.source_clip, np.array([r.source_frame]))[0]
    expect = cv2.resize(ref, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
    assert np.allclose(s["source"].permute(1, 2, 0).numpy(), expect, atol=1e-5)
    batch = ds.load_batch(recs[:3])
    assert torch.equal(batch["source"][0], s["source"]) and torch.equal(
        batch["source_rotation"][0], s["source_rotation"]
    )
    half = TrainingPairs(workspace.shards, size=16, seed=1, buffer=8, cross_clip=0.5)
    crossed = sum(bool(r.source_clip) for r in itertools.islice(half.records(), 200))
    assert 60 < crossed < 140
    with pytest.raises(DexbenchError, match="cross_clip"):
        TrainingPairs(workspace.shards, cross_clip=1.5)
    # expression contrast picks, among the source clip's candidates, the frame farthest from the driver: so a cross-
    # clip source differs from the driving frame in expression more than a plain cross-clip draw does
    plain_gap, contrast_gap = [], []
    for gaps, contrast in ((plain_gap, 0), (contrast_gap, 4)):
        pairs = TrainingPairs(workspace.shards, size=16, seed=2, buffer=8, cross_clip=1.0, source_contrast=contrast)
        for rec in itertools.islice(pairs.records(), 60):
            e_src = reader.annotations(rec.source_clip, np.array([rec.source_frame])).expression[0]
            e_drv = reader.annotations(rec.clip_id, np.array(rec.driving_frames)).expression.mean(0)
            gaps.append(np.abs(e_src - e_drv).sum())
    assert np.mean(contrast_gap) > 1.2 * np.mean(plain_gap)
    # resuming mid-stream (skip) yields the very samples the uninterrupted stream does
    resumed = next(iter(TrainingPairs(workspace.shards, size=32, seed=1, buffer=8, cross_clip=1.0, source_contrast=3,
                                      skip=5)))  # fmt: skip
    assert torch.equal(resumed["source"], ds.load(recs[5])["source"])


def test_cross_clip_without_sibling_clips_keeps_same_clip_pairs_and_says_so(workspace, tmp_path, capsys) -> None:
    lone = tmp_path / "shards"
    build_shards(workspace.raw, lone, clips_per_shard=1)  # one clip per row group: no source can cross
    ds = TrainingPairs(lone, size=16, seed=1, buffer=8, cross_clip=1.0)
    assert ds.crossable == 0 and ds.n_clips > 0
    assert not any(r.source_clip for r in itertools.islice(ds.records(), 30))
    both = TrainingPairs(workspace.shards, size=16, seed=1, buffer=8, cross_clip=1.0)
    assert both.crossable == both.n_clips > 0  # the shared workspace shards an identity's two clips together
    capsys.readouterr()
    loop.train(Stage1, tiny_config(str(lone), data={"cross_clip": 0.2}), tmp_path / "s1", max_steps=1, cpu=True)
    assert "no row group" in capsys.readouterr().err
    run = json.loads((tmp_path / "s1" / "run.json").read_text())
    assert run["cross_clip_clips"] == {"crossable": 0, "total": ds.n_clips}
