"""The shard-streaming training-pair dataset: content, clip consistency, determinism, fast-forward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dexbench.data.reader import ShardReader
from dexbench.data.training_pairs import TrainingPairs, collate
from dexbench.errors import InputFileError


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
    import cv2

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
