from __future__ import annotations

import pytest

from conftest import Workspace
from dexbench.data.reader import ShardReader
from dexbench.errors import DexbenchError, InputFileError
from dexbench.protocol.manifest import Manifest, build_manifest, manifest_path
from dexbench.protocol.tasks import get_task, resolve_tasks


def test_manifest_is_deterministic_and_hashed(workspace: Workspace) -> None:
    reader = ShardReader(workspace.shards)
    task = get_task("cross-reenactment")
    a = build_manifest(reader, task, seed=0, max_frames=12)
    b = build_manifest(reader, task, seed=0, max_frames=12)
    c = build_manifest(reader, task, seed=1, max_frames=12)
    assert a.sha256 == b.sha256 and a.sha256 != c.sha256
    saved = Manifest.load(manifest_path(workspace.protocol, "synthheads", task.name))
    assert saved.sha256 == a.sha256


def test_pairs_follow_the_task(workspace: Workspace) -> None:
    reader = ShardReader(workspace.shards)
    identity = dict(zip(reader.clips["clip_id"], reader.clips["identity"], strict=True))
    split = dict(zip(reader.clips["clip_id"], reader.clips["split"], strict=True))
    selfm = build_manifest(reader, get_task("self-reenactment"), max_frames=12)
    assert all(p.source_clip == p.driver_clip and p.target == "driver-clip" for p in selfm.pairs)
    cross = build_manifest(reader, get_task("cross-reenactment"), max_frames=12)
    assert cross.pairs
    for p in cross.pairs:
        assert identity[p.source_clip] != identity[p.driver_clip]
        assert split[p.source_clip] == split[p.driver_clip] == "test"
        assert p.target == "synth-render"
    assert len({p.pair_id for p in cross.pairs}) == len(cross.pairs)


def test_unknown_task_and_bad_manifest(tmp_path) -> None:
    with pytest.raises(DexbenchError, match="unknown task 'dance'"):
        resolve_tasks("self-reenactment,dance")
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not a valid manifest"):
        Manifest.load(bad)
