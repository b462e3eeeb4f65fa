"""An external package adds a method through the `dexbench.methods` entry-point group, without touching dexbench.

The plug-in is a real distribution as `importlib.metadata` finds it: a module plus a `*.dist-info` folder holding
METADATA and entry_points.txt, put on the path of a fresh interpreter (what `pip install` leaves behind, minus the
time a real install takes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import Workspace
from dexbench.io.video import read_video
from dexbench.protocol.manifest import load_task_manifest

PLUGIN = '''
import numpy as np
from dexbench.methods import Animator


class Invert(Animator):
    """Returns the negative of the source: a method no built-in produces."""

    name = "invert"
    version = "0.3"
    description = "inverted source <b>not bold</b>"
    license = "MIT"

    def animate(self, request):
        return np.repeat(255 - request.source.image[None], request.n_frames, axis=0)


class NotAnAnimator:
    pass
'''


def _install_plugin(root: Path, entries: dict[str, str]) -> Path:
    site = root / "site"
    (site / "dexbench_invert_plugin-0.3.dist-info").mkdir(parents=True)
    (site / "dexbench_invert_plugin.py").write_text(PLUGIN)
    info = site / "dexbench_invert_plugin-0.3.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dexbench-invert-plugin\nVersion: 0.3\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[dexbench.methods]\n{lines}")
    return site


def _cli(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "DEXBENCH_QUIET": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dexbench", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_external_plugin_is_listed_and_runs(workspace: Workspace, tmp_path: Path) -> None:
    site = _install_plugin(
        tmp_path,
        {
            "invert": "dexbench_invert_plugin:Invert",
            "../escape": "dexbench_invert_plugin:Invert",  # unusable as a folder name: never listed
            "broken": "dexbench_invert_plugin_missing:Nope",
            "not-animator": "dexbench_invert_plugin:NotAnAnimator",
        },
    )
    r = _cli(site, "methods", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "invert" in r.stdout and "dexbench_invert_plugin:Invert" in r.stdout
    assert "static" in r.stdout and "rts-warp" in r.stdout and "../escape" not in r.stdout

    out = tmp_path / "sub"
    r = _cli(
        site,
        "run",
        "invert",
        "--task",
        "self-reenactment",
        "--root",
        str(workspace.root),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    manifest = load_task_manifest(workspace.protocol, "synthheads", "self-reenactment")
    videos = sorted((out / "self-reenactment").glob("*.mkv"))
    assert [v.stem for v in videos] == [p.pair_id for p in manifest.pairs]
    frames, _ = read_video(videos[0])
    from dexbench.data.reader import ShardReader

    pair = manifest.pairs[0]
    source = ShardReader(workspace.shards).frames(pair.source_clip, np.array([pair.source_frame]))[0]
    assert np.array_equal(frames[0], 255 - source)  # the plug-in's code made these frames
    card = (out / "method.yaml").read_text()
    assert "name: invert" in card and "version: '0.3'" in card

    # validation accepts the plug-in's submission as it is
    r = _cli(site, "validate", str(out), "--root", str(workspace.root), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    for name, needle in (("broken", "failed to load"), ("not-animator", "is not an Animator subclass")):
        r = _cli(site, "run", name, "--root", str(workspace.root), "--out", str(tmp_path / name), cwd=tmp_path)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_unknown_method_names_the_installed_ones(tmp_path: Path) -> None:
    r = _cli(tmp_path, "run", "../../etc", "--root", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and "unknown method '../../etc'" in r.stderr and "rts-warp" in r.stderr
