"""Every CLI entry answers bad input with one line naming the problem, a non-zero exit and no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_runner import dexbench as run_dexbench
from conftest import Workspace


def dexbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_dexbench(*args, cwd=cwd, timeout=120)


def test_help_lists_every_stage(tmp_path: Path) -> None:
    r = dexbench("--help", cwd=tmp_path)
    assert r.returncode == 0
    for cmd in ("data", "protocol", "run", "eval", "report", "methods"):
        assert cmd in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "no-such-method"), "unknown method 'no-such-method'"),
        (("run", "static", "--task", "dance"), "unknown task 'dance'"),
        (("run", "static"), "no shards here"),
        (("eval", "does/not/exist"), "does/not/exist: submission folder not found"),
        (("data", "shard", "voxceleb9"), "unknown dataset recipe 'voxceleb9'"),
        (("data", "shard", "synthheads"), "SynthHeads raw metadata not found"),
        (("data", "synth", "--identities", "1", "--out", "x"), "at least 2 identities"),
        (("protocol", "synthheads"), "no shards here"),
        (("report", "--results", "nowhere"), "nowhere: results folder not found"),
        (("run",), "Missing argument 'method'"),
        (("eval", ".", "--bootstrap", "abc"), "Invalid value for '--bootstrap'"),
    ],
)
def test_bad_input_gives_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    r = dexbench(*args, cwd=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]


def test_malformed_method_card(tmp_path: Path, workspace: Workspace) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "method.yaml").write_text("name: [unclosed\n")
    r = dexbench("eval", str(sub), "--root", str(workspace.root), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "method.yaml: method card does not parse" in r.stderr


def test_full_cli_chain(tmp_path: Path, workspace: Workspace) -> None:
    root = str(workspace.root)
    r = dexbench(
        "run", "static", "--task", "self-reenactment", "--root", root, "--out", str(tmp_path / "s"), cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    r = dexbench(
        "eval", str(tmp_path / "s"), "--tasks", "self-reenactment", "--root", root,
        "--out", str(tmp_path / "m" / "synthheads" / "static"), "--bootstrap", "50",
        "--metrics", "l1,psnr,ssim", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "static / self-reenactment: l1=" in r.stdout
    r = dexbench("report", "--results", str(tmp_path / "m"), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_method_parameters_and_a_rerun_with_other_ones(tmp_path: Path, workspace: Workspace) -> None:
    root, out = str(workspace.root), str(tmp_path / "s")
    args = ("run", "static", "--task", "self-reenactment", "--root", root, "--out", out)
    r = dexbench(*args, "--param", "note=first run", "--param", "chunk=4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    card = (tmp_path / "s" / "method.yaml").read_text()
    assert "chunk: 4" in card and "note: first run" in card
    r = dexbench(*args, "--param", "chunk=4", "--param", "note=first run", cwd=tmp_path)  # same: finished pairs kept
    assert r.returncode == 0 and "0 written" in r.stdout, r.stdout + r.stderr
    r = dexbench(*args, "--param", "note=second run", "--param", "chunk=4", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "outputs would mix" in r.stderr and "another --out" in r.stderr
    assert "note: first run" in (tmp_path / "s" / "method.yaml").read_text()  # the old card is left as it was
    r = dexbench(*args, "--param", "chunk", cwd=tmp_path)
    assert r.returncode != 0 and "is not KEY=VALUE" in r.stderr


def test_a_rerun_with_another_model_checkpoint_is_refused(tmp_path: Path) -> None:
    from dexbench.errors import DexbenchError
    from dexbench.methods.runner import _check_same_method
    from dexbench.protocol.submission import write_card

    card = {"name": "dexportrait", "version": "1", "parameters": {}, "checkpoints": {"stage1_sha256": "aa"}}
    write_card(tmp_path, card)
    _check_same_method(tmp_path, dict(card))  # the same model: finished pairs may be kept
    with pytest.raises(DexbenchError, match="outputs would mix"):
        _check_same_method(tmp_path, card | {"checkpoints": {"stage1_sha256": "bb"}})  # retrained, same path
