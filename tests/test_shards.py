from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import Workspace, build_workspace
from dexbench.data.reader import ShardReader
from dexbench.errors import InputFileError
from dexbench.io.shards import TABLES, read_metadata


def test_layout_and_deterministic_names(workspace: Workspace) -> None:
    for table in TABLES:
        names = sorted(p.name for p in (workspace.shards / table).iterdir())
        assert names == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    stats = json.loads((workspace.shards / "stats" / "shard-00000.json").read_text())
    assert stats["n_clips"] == 4 and stats["n_frames"] == 48


def test_rows_sorted_and_clips_not_split(workspace: Workspace) -> None:
    seen: dict[str, str] = {}
    for f in sorted((workspace.shards / "frames").glob("*.parquet")):
        t = pq.read_table(f, columns=["clip_id", "frame_idx"]).to_pandas()
        keys = list(zip(t["clip_id"], t["frame_idx"], strict=True))
        assert keys == sorted(keys)
        for cid in set(t["clip_id"]):
            assert cid not in seen, f"clip {cid} split across {seen.get(cid)} and {f.name}"
            seen[cid] = f.name


def test_schema_metadata_names_conventions(workspace: Workspace) -> None:
    meta = read_metadata(workspace.shards / "annotations" / "shard-00000.parquet")
    assert "Rz(roll)" in meta["rotation_convention"]
    assert meta["expression_names"][:2] == ["jaw_open", "smile"]
    assert meta["annotators"]["pose"].startswith("synthheads-ground-truth")
    jpeg = pq.ParquetFile(workspace.shards / "frames" / "shard-00000.parquet").metadata.row_group(0)
    codecs = {jpeg.column(i).path_in_schema: jpeg.column(i).compression for i in range(jpeg.num_columns)}
    assert codecs["jpeg"] == "UNCOMPRESSED" and codecs["clip_id"] == "ZSTD"


def test_split_is_identity_disjoint(workspace: Workspace) -> None:
    clips = ShardReader(workspace.shards).clips
    by_split = clips.groupby("split")["identity"].apply(set)
    assert set(by_split.index) == {"train", "test"}
    assert not (by_split["train"] & by_split["test"])


def test_reader_returns_frames_and_exact_annotations(workspace: Workspace) -> None:
    from dexbench.data.recipes.synthheads import SynthOracle

    reader = ShardReader(workspace.shards)
    cid = reader.clips["clip_id"].iloc[0]
    frames = reader.frames(cid)
    ann = reader.annotations(cid)
    assert frames.shape == (12, 64, 64, 3) and frames.dtype == np.uint8
    motion = SynthOracle(workspace.raw).motion(cid)
    np.testing.assert_allclose(ann.yaw, motion.yaw, atol=1e-4)
    np.testing.assert_allclose(ann.expression, motion.expression, atol=1e-6)
    sub = reader.frames(cid, np.array([3, 5]))
    assert np.array_equal(sub, frames[[3, 5]])
    assert len(reader.annotations(cid, np.array([3, 5]))) == 2


def test_rebuild_is_byte_identical(tmp_path: Path, workspace: Workspace) -> None:
    again = build_workspace(tmp_path)
    for f in sorted(workspace.shards.rglob("*.*")):
        rel = f.relative_to(workspace.shards)
        assert (again.shards / rel).read_bytes() == f.read_bytes(), rel


def test_resume_skips_complete_shards(tmp_path: Path, workspace: Workspace) -> None:
    from dexbench.data.recipes.synthheads import build_shards

    out = tmp_path / "shards"
    build_shards(workspace.raw, out, clips_per_shard=4)
    first = (out / "frames" / "shard-00001.parquet").stat().st_mtime_ns
    (out / "stats" / "shard-00002.json").unlink()  # as if killed before shard 2 finished
    build_shards(workspace.raw, out, clips_per_shard=4)
    assert (out / "frames" / "shard-00001.parquet").stat().st_mtime_ns == first
    assert (out / "stats" / "shard-00002.json").is_file()
    for f in sorted(workspace.shards.rglob("*.parquet")):
        assert (out / f.relative_to(workspace.shards)).read_bytes() == f.read_bytes()


def test_reader_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no shards here"):
        ShardReader(tmp_path)
