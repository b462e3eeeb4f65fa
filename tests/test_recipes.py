from __future__ import annotations

from collections import Counter
from pathlib import Path

import fixtures_datasets as fx
import numpy as np
import pytest

from dexbench.data.clip_pipeline import PipelineConfig
from dexbench.data.quarantine import read_quarantine
from dexbench.data.reader import ShardReader
from dexbench.data.recipes.hdtf import identity_of, to_seconds
from dexbench.data.recipes.registry import available, load_recipe
from dexbench.data.recipes.sharding import build_video_shards
from dexbench.data.recipes.voxceleb import parse_track
from dexbench.errors import DexbenchError, InputFileError

BUILDERS = {
    "voxceleb1": fx.make_voxceleb1,
    "voxceleb2": fx.make_voxceleb2,
    "hdtf": fx.make_hdtf,
    "celebvhq": fx.make_celebvhq,
    "talkinghead1kh": fx.make_talkinghead1kh,
}
CFG = PipelineConfig(crop_size=128)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict, dict]]:
    """Each fabricated dataset tree, sharded once: name -> (shard root, builder facts, run summary)."""
    root = tmp_path_factory.mktemp("recipes")
    out = {}
    for name, build in BUILDERS.items():
        facts = build(root / name / "raw")
        summary = build_video_shards(load_recipe(name), root / name / "raw", root / name / "shards", config=CFG)
        out[name] = (root / name / "shards", facts, summary)
    return out


def test_registry_lists_every_recipe_lazily() -> None:
    names = set(available())
    assert {"synthheads", "voxceleb1", "voxceleb2", "hdtf", "celebvhq", "talkinghead1kh", "folder"} <= names
    with pytest.raises(DexbenchError, match="unknown dataset recipe"):
        load_recipe("nope")
    for name in names:
        assert (Path(__file__).parents[1] / "datasets" / name / "README.md").is_file(), f"no dataset card for {name}"


def test_voxceleb_track_formats(tmp_path: Path) -> None:
    fx._vox_track(tmp_path / "a.txt", "id10001", "1zcIwhmdeo4", range(245, 248), (223, 80, 130, 130))
    header, rows = parse_track(tmp_path / "a.txt")
    assert header["Identity"] == "id10001" and header["Reference"] == "1zcIwhmdeo4"
    assert rows[0] == (245.0, 223.0, 80.0, 353.0, 210.0) and len(rows) == 3
    (tmp_path / "b.txt").write_text("Identity  : \tid1\n\nFRAME \tX \tY \tW \tH \n")
    with pytest.raises(InputFileError, match="no FRAME rows"):
        parse_track(tmp_path / "b.txt")


def test_hdtf_metadata_parsing() -> None:
    assert to_seconds("00:30") == 30.0 and to_seconds("1:02:03") == 3723.0
    assert identity_of("WDA_BarackObama_000") == "WDA_BarackObama"
    assert identity_of("WRA_MarcoRubio1_000") == "WRA_MarcoRubio"
    assert identity_of("RD_Radio11_000") == "RD_Radio11"


@pytest.mark.parametrize("name", list(BUILDERS))
def test_recipe_shards_and_splits(built: dict, name: str) -> None:
    shards, facts, summary = built[name]
    reader = ShardReader(shards)
    clips = reader.clips
    n_clips = facts["clips"] if isinstance(facts["clips"], int) else len(facts["clips"])
    assert len(clips) == n_clips, (name, summary)
    if not isinstance(facts["clips"], int):
        assert set(clips["clip_id"]) == facts["clips"]
    # identity-disjoint splits (identity = source video where the dataset names none)
    by_split = clips.groupby("split")["identity"].apply(set)
    if "train" in by_split and "test" in by_split:
        assert not (by_split["train"] & by_split["test"])
    if "test" in facts:
        assert set(clips.loc[clips["split"] == "test", "identity"]) == facts["test"]
    rejected = Counter(r.code for r in read_quarantine(shards))
    assert rejected == Counter(facts.get("rejected", {})), rejected
    assert summary["clips_dropped"] == sum(rejected.values())
    for cid in clips["clip_id"]:
        ann = reader.annotations(cid)
        assert ann.landmarks_visible.all(1).mean() > 0.8, f"{cid}: landmarks missing"
        assert reader.frames(cid, np.array([0])).shape == (1, 128, 128, 3)
    meta = reader.metadata
    assert meta["annotators"]["analyzer"].startswith("dexbench.face.FaceAnalyzer")
    assert meta["crop_size"] == 128 and "Rz(roll)" in meta["rotation_convention"]


@pytest.mark.parametrize("name", ["hdtf", "celebvhq"])
def test_published_face_windows_replace_detection(built: dict, name: str) -> None:
    """HDTF's crop_wh (at a 720-line reference, rescaled) and CelebV-HQ's normalised boxes are the crop windows;
    the face box measured from the landmarks lies inside them."""
    shards, facts, _ = built[name]
    reader = ShardReader(shards)
    cid = sorted(reader.clips["clip_id"])[0]
    ann = reader.annotations(cid)
    np.testing.assert_allclose(ann.crop_box[0], facts["window"], atol=1.0)
    w = np.asarray(facts["window"], float)
    assert (ann.bbox[:, :2] >= w[:2] - 2).all() and (ann.bbox[:, 2:] <= w[2:] + 2).all()


def test_voxceleb_track_boxes_and_frame_range(built: dict) -> None:
    shards, facts, _ = built["voxceleb2"]
    reader = ShardReader(shards)
    clip = reader.clip(facts["track_clip"])
    assert clip["source_video"].startswith("videos/") and clip["n_frames"] == 16
    assert clip["start_sec"] == pytest.approx(2 / 25)
    np.testing.assert_allclose(reader.annotations(facts["track_clip"]).bbox[0], facts["track_box"], atol=1.0)


def test_shards_load_with_hugging_face_datasets(built: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    import datasets

    shards = built["talkinghead1kh"][0]
    files = {t: sorted(str(p) for p in (shards / t).glob("shard-*.parquet")) for t in ("clips", "annotations")}
    ds = datasets.load_dataset("parquet", data_files=files["annotations"], split="train", cache_dir=str(tmp_path / "c"))
    reader = ShardReader(shards)
    assert len(ds) == int(reader.clips["n_frames"].sum())
    row = ds[0]
    ann = reader.annotations(row["clip_id"], np.array([row["frame_idx"]]))
    np.testing.assert_allclose(row["yaw"], ann.yaw[0], rtol=1e-6)
    assert len(row["landmarks"]) == 136 and len(row["rotation"]) == 9
    clips = datasets.load_dataset("parquet", data_files=files["clips"], split="train", cache_dir=str(tmp_path / "c"))
    assert sorted(clips["clip_id"]) == sorted(reader.clips["clip_id"])
