"""The real DVC pipeline on a tiny SynthHeads: repro, no-op repro, and a param change re-running only its stages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "DEXBENCH_QUIET": "1"}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("dvc", path=str(BIN)) is None:
        pytest.skip("dvc is not installed in this environment")
    root = tmp_path_factory.mktemp("dvcproj")
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    # stage deps name source folders; a copy keeps the pipeline self-contained
    shutil.copytree(REPO / "dexbench", root / "dexbench", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "reference_model").mkdir()
    for config in (REPO / "reference_model").glob("*.yaml"):
        shutil.copy(config, root / "reference_model" / config.name)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["synth"].update(identities=4, clips_per_identity=1, frames=8, size=64, test_fraction=0.5)
    params["evaluate"]["bootstrap"] = 50
    params["train"].update(stage1_steps=2, stage2_steps=2)
    params["evaluate"]["metrics"] = "l1,psnr,ssim"  # the stage mechanics are under test here, not the networks
    params["methods"] = ["static", "driving"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["git", "init", "-q"], root)
    return root


def test_repro_twice_then_param_change(project: Path) -> None:
    first = _run(["dvc", "repro"], project)
    expected = {"synth", "shards", "protocol", "generate@static", "evaluate@driving", "train_stage1", "train_stage2"}
    assert expected | {"generate_reference", "evaluate_reference", "calibrate", "report"} <= _ran(first)
    report = project / "reports" / "index.html"
    assert report.is_file() and "driving" in report.read_text()
    summary = project / "metrics" / "synthheads" / "driving" / "summary.json"
    before = summary.read_bytes()
    assert json.loads(before)["tasks"]["self-reenactment"]["metrics"]["psnr"]["mean"] >= 40

    second = _run(["dvc", "repro"], project)
    assert not _ran(second), second

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["bootstrap"] = 60
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    third = _run(["dvc", "repro"], project)
    assert _ran(third) == {"evaluate@static", "evaluate@driving", "evaluate_reference", "report"}, third

    params["evaluate"]["bootstrap"] = 50
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["dvc", "repro"], project)
    assert summary.read_bytes() == before
    metrics = _run(["dvc", "metrics", "show", "--json"], project)
    assert "psnr" in metrics
