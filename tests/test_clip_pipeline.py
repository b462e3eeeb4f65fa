from __future__ import annotations

from pathlib import Path

import fixtures_datasets as fx
import numpy as np
import pytest

from dexbench.data.clip_pipeline import PipelineConfig, process_clip, stable_crop
from dexbench.data.quarantine import read_quarantine
from dexbench.data.reader import ShardReader
from dexbench.data.recipes.base import ClipSource
from dexbench.data.recipes.folder import FOLDER
from dexbench.data.recipes.sharding import analyzer_for, build_video_shards


def test_stable_crop_holds_every_box() -> None:
    boxes = np.array([[10, 20, 50, 60], [30, 25, 70, 65], [20, 10, 60, 50]], float)
    x0, y0, x1, y1 = stable_crop(boxes, margin=0.5)
    assert x1 - x0 == y1 - y0  # square
    assert x0 <= boxes[:, 0].min() and y0 <= boxes[:, 1].min() and x1 >= boxes[:, 2].max() and y1 >= boxes[:, 3].max()


def test_carphone_face_in_every_frame_and_pose_follows_head_turn(tmp_path: Path) -> None:
    """The real clip: a face on all 120 frames, and the yaw track follows the turn seen by an independent cue —
    the nose tip's offset from the eyes' midpoint in YuNet's keypoints (another network than the pose fit's dlib)."""
    raw = fx.CARPHONE.parent
    cfg = PipelineConfig(crop_size=256)
    analyzer = analyzer_for(cfg)
    src = ClipSource("carphone", "carphone", fx.CARPHONE.name, "test")
    rec = process_clip(src, raw, cfg, analyzer, "folder", "test")
    ann = rec.annotations
    assert len(ann) == 120 and len(rec.jpegs) == 120
    assert ann.landmarks_visible.all(), "landmarks missing on some frames"
    assert np.isfinite(ann.yaw).all() and np.isfinite(rec.quality["detector_score"]).all()
    assert (rec.quality["detector_score"] > 0.5).all()
    boxes = analyzer.track_faces(fx.carphone_frames())
    assert np.asarray(boxes.detected).all() or np.isfinite(boxes.bbox).all(), "face lost on some frames"
    kp = np.asarray(boxes.keypoints, float)
    ok = np.all(np.isfinite(kp), axis=(1, 2))
    eyes_mid = kp[ok, :2].mean(axis=1)
    eye_dist = np.linalg.norm(kp[ok, 0] - kp[ok, 1], axis=-1)
    nose_offset = (kp[ok, 2, 0] - eyes_mid[:, 0]) / eye_dist  # > 0: nose toward the image right
    yaw = ann.yaw[ok]
    assert yaw.max() - yaw.min() > 10.0, "the visible head turn is missing from the yaw track"
    # geometry.py: positive yaw moves the nose tip toward the image left
    r = np.corrcoef(yaw, nose_offset)[0, 1]
    assert r < -0.7, f"yaw does not follow the nose-offset cue (r={r:.2f})"


def test_bad_inputs_are_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    expected = fx.make_folder_with_bad_inputs(tmp_path / "raw")
    out = tmp_path / "shards"
    summary = build_video_shards(FOLDER, tmp_path / "raw", out, config=PipelineConfig(crop_size=128), clips_per_shard=2)
    bad = {k: v for k, v in expected.items() if v != "ok"}
    rows = {r.source_file: r for r in read_quarantine(out)}
    assert {k: r.code for k, r in rows.items()} == bad
    assert summary["clips_dropped"] == len(bad) and summary["clips_written"] == 2
    assert summary["dropped_by_reason"]["decode-error"] == 2
    assert all(str(tmp_path) not in r.reason for r in rows.values()), "reasons must not hold absolute paths"
    clips = ShardReader(out).clips
    assert sorted(clips["source_video"]) == ["alice/talk.mp4", "bob/carphone.mp4"]
    assert not [p for p in out.rglob(".*")], "temporary files left behind"
    frames = ShardReader(out).frames(clips["clip_id"].iloc[0])
    assert frames.shape[1:] == (128, 128, 3)


@pytest.mark.parametrize("size", [64, 2000])
def test_crop_size_is_validated(size: int) -> None:
    from dexbench.errors import DexbenchError

    if size == 64:
        PipelineConfig(crop_size=size).validate()
    else:
        with pytest.raises(DexbenchError):
            PipelineConfig(crop_size=size).validate()
