"""`dexbench eval` metric options: bad values give one line, a chosen metric set is scored and printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import dexbench
from conftest import Workspace


@pytest.fixture(scope="module")
def submission(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clisub") / "static"
    r = dexbench(
        "run", "static", "--task", "self-reenactment", "--root", str(workspace.root), "--out", str(out), cwd=out.parent
    )
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--metrics", "psnr,nope"), "unknown metric 'nope'"),
        (("--metrics", ","), "--metrics names no metric"),
        (("--weights", "lpips-alex-backbone"), "is not NET=PATH"),
        (("--weights", "nonet=x.pth"), "unknown network 'nonet'"),
        (("--fid-net", "vgg"), "--fid-net 'vgg' is not one of"),
    ],
)
def test_bad_metric_options_give_one_line(
    submission: Path, workspace: Workspace, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    r = dexbench("eval", str(submission), "--root", str(workspace.root), *args, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_chosen_metrics_with_an_unavailable_network(submission: Path, workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "res"
    r = dexbench(
        "eval", str(submission), "--root", str(workspace.root), "--tasks", "self-reenactment", "--out", str(out),
        "--metrics", "psnr,lpips,csim_sface", "--weights", f"lpips-alex-backbone={tmp_path / 'none.pth'}",
        "--cache-dir", str(tmp_path / "cache"), "--bootstrap", "50", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "psnr=" in r.stdout and "lpips=unavailable" in r.stdout and "csim_sface=" in r.stdout
    s = json.loads((out / "summary.json").read_text())
    assert set(s["tasks"]["self-reenactment"]["metrics"]) == {"psnr", "lpips", "csim_sface"}
    assert any((tmp_path / "cache").rglob("*.npz"))
