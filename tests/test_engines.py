from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fixtures_datasets as fx
import pytest

from conftest import Workspace
from dexbench.data.clip_pipeline import PipelineConfig
from dexbench.data.engines import get_engine
from dexbench.data.recipes.folder import FOLDER
from dexbench.data.recipes.sharding import build_video_shards
from dexbench.errors import DexbenchError

CFG = PipelineConfig(crop_size=128)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_same_bytes(a: Path, b: Path) -> None:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        assert fa[name] == fb[name], f"{name} differs"


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four clips (three SynthHeads talkers, one real carphone cut) and their reference shards (1 worker)."""
    root = tmp_path_factory.mktemp("engines")
    raw = root / "raw"
    for i, name in enumerate(("ann", "ben", "cat")):
        fx.write_mp4(raw / name / "a.mp4", fx.on_canvas([fx.synth_heads(60 + i, 12)], [(96, 56)]))
    fx.write_mp4(raw / "dan" / "carphone.mp4", fx.carphone_frames()[:12], fps=30000 / 1001)
    ref = root / "ref"
    build_video_shards(FOLDER, raw, ref, config=CFG, clips_per_shard=1, engine=get_engine("local", 1))
    return raw, ref


def test_engine_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_engine().name == "local"
    monkeypatch.setenv("DEXBENCH_ENGINE", "ray")
    assert get_engine(workers=1).name == "ray"
    with pytest.raises(DexbenchError, match="unknown engine"):
        get_engine("spark")
    with pytest.raises(DexbenchError, match="workers"):
        get_engine("local", 0)


def test_synthheads_process_pool_is_byte_identical(tmp_path: Path, workspace: Workspace) -> None:
    from dexbench.data.recipes.synthheads import build_shards

    build_shards(workspace.raw, tmp_path / "s", clips_per_shard=4, engine=get_engine("local", 2))
    _assert_same_bytes(workspace.shards, tmp_path / "s")


def test_local_pool_is_byte_identical(tmp_path: Path, small_tree: tuple[Path, Path]) -> None:
    raw, ref = small_tree
    summary = build_video_shards(
        FOLDER, raw, tmp_path / "s", config=CFG, clips_per_shard=1, engine=get_engine("local", 2)
    )
    assert summary["workers"] == 2 and summary["clips_written"] == 4
    _assert_same_bytes(ref, tmp_path / "s")


def test_ray_local_mode_is_byte_identical(tmp_path: Path, small_tree: tuple[Path, Path]) -> None:
    pytest.importorskip("ray")
    raw, ref = small_tree
    summary = build_video_shards(
        FOLDER, raw, tmp_path / "s", config=CFG, clips_per_shard=1, engine=get_engine("ray", 2)
    )
    assert summary["engine"] == "ray" and summary["shards_written"] == 4
    _assert_same_bytes(ref, tmp_path / "s")


def test_resume_after_partial_writes_gives_the_same_bytes(tmp_path: Path, small_tree: tuple[Path, Path]) -> None:
    raw, ref = small_tree
    out = tmp_path / "s"
    build_video_shards(FOLDER, raw, out, config=CFG, clips_per_shard=1)
    first = (out / "frames" / "shard-00000.parquet").stat().st_mtime_ns
    # as if killed: shard 1 lost its completion marker, shard 2 was cut mid-write, shard 3 left a temp file only
    (out / "stats" / "shard-00001.json").unlink()
    (out / "stats" / "shard-00002.json").unlink()
    data = (out / "frames" / "shard-00002.parquet").read_bytes()
    (out / "frames" / "shard-00002.parquet").write_bytes(data[: len(data) // 3])
    for t in ("clips", "frames", "annotations", "stats"):
        (out / t / "shard-00003.parquet").unlink(missing_ok=True)
    (out / "stats" / "shard-00003.json").unlink()
    (out / "frames" / ".shard-00003.parquet.abc123.parquet").write_bytes(b"PAR1 half")
    summary = build_video_shards(FOLDER, raw, out, config=CFG, clips_per_shard=1)
    assert summary["shards_skipped"] == 1 and summary["shards_written"] == 3
    assert (out / "frames" / "shard-00000.parquet").stat().st_mtime_ns == first
    _assert_same_bytes(ref, out)
    again = build_video_shards(FOLDER, raw, out, config=CFG, clips_per_shard=1, overwrite=True)
    assert again["shards_written"] == 4
    _assert_same_bytes(ref, out)


def test_killed_cli_run_resumes_to_the_same_bytes(tmp_path: Path, small_tree: tuple[Path, Path]) -> None:
    """SIGKILL a real `dexbench data shard` (2 worker processes) as soon as its first shard is complete."""
    raw, ref = small_tree
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "dexbench", "data", "shard", "folder", "--raw", str(raw), "--out", str(out)]
    cmd += ["--clips-per-shard", "1", "--crop-size", "128", "--workers", "2"]
    env = {**os.environ, "DEXBENCH_QUIET": "1"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if list((out / "stats").glob("shard-*.json")):
            break
        time.sleep(0.05)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its pool workers: this test's own process group
    proc.wait(timeout=30)
    done_before = len(list((out / "stats").glob("shard-*.json")))
    assert done_before >= 1
    res = subprocess.run([*cmd, "--workers", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    _assert_same_bytes(ref, out)
    if killed:
        assert done_before < 4 or "already complete" in res.stdout
