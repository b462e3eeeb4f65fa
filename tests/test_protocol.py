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


# ---------------------------------------------------------------- editing tasks (protocol 1.0)
def test_four_versioned_tasks() -> None:
    from dexbench.protocol.tasks import PROTOCOL_VERSION, TASKS

    assert PROTOCOL_VERSION == "1.0"
    assert list(TASKS) == ["self-reenactment", "cross-reenactment", "pose-only", "expression-only"]
    pose, expr = get_task("pose-only"), get_task("expression-only")
    assert (pose.pose_from, pose.expression_from, pose.same_identity) == ("driver", "source", False)
    assert (expr.pose_from, expr.expression_from, expr.same_identity) == ("source", "driver", False)
    assert pose.edits and expr.edits and not get_task("cross-reenactment").edits
    assert all(t.version and "identit" in t.description for t in (pose, expr))


def test_editing_pairs_cross_identities_and_are_rendered(workspace: Workspace) -> None:
    reader = ShardReader(workspace.shards)
    identity = dict(zip(reader.clips["clip_id"], reader.clips["identity"], strict=True))
    cross = build_manifest(reader, get_task("cross-reenactment"), max_frames=12)
    for name in ("pose-only", "expression-only"):
        m = build_manifest(reader, get_task(name), max_frames=12)
        assert m.task_version == "1" and m.protocol_version == "1.0" and m.pairs
        assert all(identity[p.source_clip] != identity[p.driver_clip] for p in m.pairs)
        assert all(p.target == "synth-render" for p in m.pairs)
        # the same source/driver pairs as cross-reenactment: three cross-identity rows differ only in what moves
        assert [(p.source_clip, p.driver_clip) for p in m.pairs] == [
            (p.source_clip, p.driver_clip) for p in cross.pairs
        ]
        assert len({p.pair_id for p in m.pairs}) == len(m.pairs) and m.sha256 != cross.sha256
        saved = Manifest.load(manifest_path(workspace.protocol, "synthheads", name))
        assert saved.sha256 == m.sha256


def test_editing_requests_and_targets(workspace: Workspace) -> None:
    import numpy as np

    from dexbench.data.synth import MotionTrack
    from dexbench.io.jpeg import decode_jpeg, encode_jpeg
    from dexbench.protocol.pairs import PairLoader

    loader = PairLoader(workspace.shards, workspace.raw)
    o = loader.oracle
    for name in ("pose-only", "expression-only"):
        task = get_task(name)
        pair = build_manifest(loader.reader, task, max_frames=12).pairs[0]
        req = loader.request(task, pair)
        assert (req.pose_driver is None) == (name == "expression-only")
        assert (req.expression_driver is None) == (name == "pose-only")
        n = pair.n_frames
        drv, src = o.motion(pair.driver_clip).slice(0, n), o.motion(pair.source_clip).slice(0, 1)
        pose, expr = (drv, src) if name == "pose-only" else (src, drv)

        def col(track: MotionTrack, field: str, n: int = n) -> np.ndarray:
            v = getattr(track, field)
            return np.repeat(v[:1], n, axis=0) if len(track) == 1 else v

        motion = MotionTrack(
            *(col(pose, f) for f in ("yaw", "pitch", "roll", "tx", "ty", "scale")), col(expr, "expression")
        )
        expected = np.stack([decode_jpeg(encode_jpeg(f, 95)) for f in o.render(pair.source_clip, motion)])
        target = loader.target(task, pair)
        assert np.array_equal(target, expected)
        # the target differs from the cross-reenactment one: something is really kept from the source
        cross = loader.target(get_task("cross-reenactment"), pair)
        assert not np.array_equal(target, cross)


# ---------------------------------------------------------------- names and published numbers
def test_folder_names_are_validated() -> None:
    from dexbench.protocol.names import check_folder_name, is_safe_name, slugify

    for ok in ("static", "rts-warp", "x_1.2+b"):
        assert is_safe_name(ok)
    for bad in ("", "..", "a/b", "a\\b", "../x", ".hidden", "-rf", "a..b", "x" * 65, "a b", "é"):
        assert not is_safe_name(bad), bad
    with pytest.raises(DexbenchError, match="cannot be used as a folder name"):
        check_folder_name("../../etc")
    assert slugify("My Method (v2)") == "My-Method-v2" and slugify("../..") == "submission"


def test_published_rows_carry_their_citation() -> None:
    from dexbench.protocol.published import load_published

    rows = load_published()
    assert len(rows) >= 8
    main = [r for r in rows if r.kind == "main" and r.method == "DeX-Portrait"]
    assert {r.task for r in main} == {"self-reenactment", "cross-reenactment", "disentangled"}
    self_row = next(r for r in main if r.task == "self-reenactment")
    assert self_row.values == {"psnr": 28.59, "ssim": 0.862, "lpips": 0.088}
    for r in rows:
        assert r.citation["table"].startswith("Table 1") and "2512.15524" in r.citation["venue"]
        assert "to be checked against the paper" in r.notes and r.dataset and r.url.startswith("https://")
        assert set(r.values) <= set(r.source.metrics)
    assert not next(r for r in rows if r.setting == "disentangled").is_dexbench_task
    assert all(r.task == "cross-reenactment" for r in load_published(task="cross-reenactment"))


def test_malformed_published_file(tmp_path) -> None:
    from dexbench.protocol.published import PUBLISHED_DIR, load_published

    text = (PUBLISHED_DIR / "dex-portrait-2026.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text.replace("psnr: 28.590", "psnr: .nan"))
    with pytest.raises(InputFileError, match="psnr is not a number"):
        load_published(tmp_path)
    (tmp_path / "a.yaml").write_text(text.replace("values: {csim: 0.551}", "values: {fvd: 3.0}"))
    with pytest.raises(InputFileError, match="metric 'fvd' has no definition"):
        load_published(tmp_path)


def test_export_inputs_round_trip_to_a_valid_folder_submission(workspace: Workspace, tmp_path) -> None:
    """What an external method does: read exported inputs, write outputs + method.yaml, pass validation."""
    import json

    import numpy as np
    from PIL import Image

    from dexbench.io.video import read_video, write_video
    from dexbench.protocol.export import export_inputs
    from dexbench.protocol.manifest import load_task_manifest
    from dexbench.protocol.pairs import PairLoader
    from dexbench.protocol.validate import validate_folder

    loader = PairLoader(workspace.shards, workspace.raw)
    manifest = load_task_manifest(workspace.protocol, "synthheads", "expression-only")
    index = export_inputs(manifest, loader, tmp_path / "inputs")
    assert index["manifest_sha256"] == manifest.sha256 and len(index["pairs"]) == len(manifest.pairs)
    listing = json.loads((tmp_path / "inputs" / "expression-only" / "pairs.json").read_text())
    sub = tmp_path / "external"
    for entry in listing["pairs"]:
        assert entry["transfer_expression"] and not entry["transfer_pose"]
        pair = manifest.pair(entry["pair_id"])
        source = np.asarray(Image.open(tmp_path / "inputs" / "expression-only" / entry["source"]))
        driver, fps = read_video(tmp_path / "inputs" / "expression-only" / entry["driver"])
        assert np.array_equal(driver, loader.request(get_task("expression-only"), pair).expression_driver.frames)
        assert np.array_equal(source, loader.request(get_task("expression-only"), pair).source.image)
        # an "external method": the source blended towards the driver, saved the way an outside script would
        frames = ((source[None].astype(np.uint16) * 3 + driver) // 4).astype(np.uint8)
        write_video(sub / "expression-only" / f"{entry['pair_id']}.mp4", frames, fps, codec="h264-lossless")
    (sub / "method.yaml").write_text(
        "name: Blend\nversion: '1'\nurl: https://example.org\nlicence: MIT\nparameters: {}\n"
    )
    card, problems = validate_folder(sub, {"expression-only": manifest}, loader.reader.clips)
    assert problems == [] and card["license"] == "MIT"
