"""Malformed submissions: each kind is rejected with a clear message naming the problem, and nothing is written
outside the work directory. Real files throughout: FFV1/H.264 videos written by PyAV, real zip and tar archives."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import Workspace
from dexbench.data.reader import ShardReader
from dexbench.io.video import write_video
from dexbench.methods.registry import load_method
from dexbench.methods.runner import run_task
from dexbench.protocol.archive import ArchiveLimits, open_submission
from dexbench.protocol.manifest import load_task_manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.problems import SubmissionInvalid
from dexbench.protocol.validate import validate_folder

TASK = "self-reenactment"


@pytest.fixture(scope="module")
def good(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid submission of the static baseline on one task."""
    sub = tmp_path_factory.mktemp("good") / "static"
    manifest = load_task_manifest(workspace.protocol, "synthheads", TASK)
    run_task(load_method("static"), manifest, PairLoader(workspace.shards, workspace.raw), sub, fps=25.0)
    return sub


def _validate(workspace: Workspace, folder: Path, deep: bool = True) -> list:
    manifests = {TASK: load_task_manifest(workspace.protocol, "synthheads", TASK)}
    _, problems = validate_folder(folder, manifests, ShardReader(workspace.shards).clips, deep=deep)
    return problems


def _copy(good: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "sub"
    shutil.copytree(good, dest)
    return dest


def _first_video(sub: Path) -> Path:
    return sorted((sub / TASK).glob("*.mkv"))[0]


def _frames(n: int = 12, size: int = 64, value: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(0)
    if value is not None:
        return np.full((n, size, size, 3), value, np.uint8)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_valid_submission_has_no_problems(workspace: Workspace, good: Path) -> None:
    assert _validate(workspace, good) == []


# ------------------------------------------------------------------ folder-level malformations
def _no_card(s: Path) -> None:
    (s / "method.yaml").unlink()


def _card_syntax(s: Path) -> None:
    (s / "method.yaml").write_text("name: [unclosed\n")


def _card_fields(s: Path) -> None:
    (s / "method.yaml").write_text("name: x\nparameters: 3\n")


def _card_aliases(s: Path) -> None:
    (s / "method.yaml").write_text(
        "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nname: x\nversion: '1'\nurl: ''\nlicense: MIT\nparameters: {}\n"
    )


def _card_duplicate_key(s: Path) -> None:
    (s / "method.yaml").write_text("name: shown\nversion: '1'\nurl: ''\nlicense: MIT\nparameters: {}\nname: other\n")


def _card_not_mapping(s: Path) -> None:
    (s / "method.yaml").write_text("- just\n- a list\n")


def _unknown_task(s: Path) -> None:
    (s / "dance-reenactment").mkdir()


def _missing_pair(s: Path) -> None:
    _first_video(s).unlink()


def _extra_pair(s: Path) -> None:
    shutil.copy(_first_video(s), s / TASK / "self-9999.mkv")


def _wrong_type(s: Path) -> None:
    (s / TASK / "notes.pkl").write_bytes(b"\x80\x04K\x01.")


def _unreadable(s: Path) -> None:
    _first_video(s).write_bytes(b"\x1aE\xdf\xa3 this is not a matroska file" * 10)


def _empty_file(s: Path) -> None:
    _first_video(s).write_bytes(b"")


def _frame_count(s: Path) -> None:
    write_video(_first_video(s), _frames(n=7), 25.0)


def _resolution(s: Path) -> None:
    write_video(_first_video(s), _frames(size=48), 25.0)


def _fps(s: Path) -> None:
    write_video(_first_video(s), _frames(), 30.0)


def _blank(s: Path) -> None:
    frames = _frames()
    frames[3:5] = 0
    write_video(_first_video(s), frames, 25.0)


def _lossy(s: Path) -> None:
    write_video(_first_video(s), _frames(), 25.0, codec="h264")


def _symlink(s: Path) -> None:
    v = _first_video(s)
    target = s.parent / "elsewhere.mkv"
    shutil.move(v, target)
    os.symlink(target, v)


def _duplicate_output(s: Path) -> None:
    v = _first_video(s)
    folder = v.with_suffix("")
    folder.mkdir()
    for k in range(12):
        Image.fromarray(_frames(n=1)[0]).save(folder / f"{k:04d}.png")


def _png_folder_bad(s: Path) -> None:
    v = _first_video(s)
    folder = v.with_suffix("")
    v.unlink()
    folder.mkdir()
    for k in range(12):
        Image.fromarray(_frames(n=1)[0]).save(folder / f"{k:04d}.png")
    (folder / "0005.png").write_bytes(b"not a png")
    (folder / "readme.txt").write_text("hi")


def _stray_file(s: Path) -> None:
    (s / "run.sh").write_text("rm -rf /\n")


FOLDER_CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # kind: (mutation, expected problem code, text the message must contain)
    "no-card": (_no_card, "card-missing", "method card not found"),
    "card-syntax": (_card_syntax, "card-syntax", "method card does not parse"),
    "card-fields": (_card_fields, "card-fields", "missing field(s): version, url, license"),
    "card-aliases": (_card_aliases, "card-aliases", "YAML aliases"),
    "card-duplicate-key": (_card_duplicate_key, "card-syntax", "found duplicate key 'name' (first given on line 1)"),
    "card-not-mapping": (_card_not_mapping, "card-not-mapping", "mapping"),
    "unknown-task": (_unknown_task, "unknown-task", "unknown task folder"),
    "missing-pair": (_missing_pair, "missing-pair", "1 of 6 pair outputs missing"),
    "extra-pair": (_extra_pair, "extra-pair", "'self-9999' is not in the self-reenactment manifest"),
    "wrong-type": (_wrong_type, "file-type", "not an accepted output type (.pkl)"),
    "unreadable": (_unreadable, "unreadable", "unreadable video"),
    "empty-file": (_empty_file, "unreadable", "zero-byte"),
    "frame-count": (_frame_count, "frame-count", "7 frames, expected 12"),
    "resolution": (_resolution, "resolution", "48x48 pixels, expected 64x64"),
    "fps": (_fps, "fps", "30 frames/s, expected 25"),
    "blank": (_blank, "blank-frames", "frame(s) 3, 4"),
    "lossy": (_lossy, "lossy", "lossy encoding (h264, yuv420p)"),
    "symlink": (_symlink, "symlink", "symbolic link"),
    "duplicate-output": (_duplicate_output, "duplicate-output", "several outputs for one pair"),
    "png-folder": (_png_folder_bad, "file-type", "non-PNG entries: readme.txt"),
    "stray-file": (_stray_file, "stray-file", "unexpected file at the top level"),
}


@pytest.mark.parametrize("kind", sorted(FOLDER_CASES))
def test_malformed_folder_is_rejected(workspace: Workspace, good: Path, tmp_path: Path, kind: str) -> None:
    mutate, code, text = FOLDER_CASES[kind]
    sub = _copy(good, tmp_path)
    mutate(sub)
    problems = _validate(workspace, sub)
    assert problems, f"{kind}: accepted"
    hits = [p for p in problems if p.code == code]
    assert hits, f"{kind}: expected {code}, got {[str(p) for p in problems]}"
    assert any(text in p.message for p in hits), [str(p) for p in hits]
    assert all(p.where for p in hits)  # every problem names where it is


def test_png_unreadable_frame_is_named(workspace: Workspace, good: Path, tmp_path: Path) -> None:
    sub = _copy(good, tmp_path)
    _png_folder_bad(sub)
    problems = _validate(workspace, sub)
    assert any(p.code == "unreadable" and p.where.endswith("/0005.png") for p in problems), problems


def test_all_problems_are_listed_at_once(workspace: Workspace, good: Path, tmp_path: Path) -> None:
    sub = _copy(good, tmp_path)
    for mutate in (_card_fields, _unknown_task, _extra_pair, _fps, _wrong_type):
        mutate(sub)
    codes = {p.code for p in _validate(workspace, sub)}
    assert {"card-fields", "unknown-task", "extra-pair", "fps", "file-type"} <= codes


def test_headers_only_mode_skips_decoding(workspace: Workspace, good: Path, tmp_path: Path) -> None:
    sub = _copy(good, tmp_path)
    _blank(sub)
    assert not [p for p in _validate(workspace, sub, deep=False) if p.code == "blank-frames"]
    assert [p for p in _validate(workspace, sub, deep=True) if p.code == "blank-frames"]


def test_hostile_card_strings_survive_as_data(workspace: Workspace, good: Path, tmp_path: Path) -> None:
    sub = _copy(good, tmp_path)
    card = yaml.safe_load((sub / "method.yaml").read_text())
    hostile = "<script>alert(1)</script> ../../etc/passwd \u202e'; DROP TABLE x;--"
    card.update(name=hostile, description="<img src=x onerror=alert(1)>")
    (sub / "method.yaml").write_text(yaml.safe_dump(card, allow_unicode=True))
    manifests = {TASK: load_task_manifest(workspace.protocol, "synthheads", TASK)}
    parsed, problems = validate_folder(sub, manifests, ShardReader(workspace.shards).clips, deep=False)
    assert problems == [] and parsed is not None and parsed["name"] == hostile


# ------------------------------------------------------------------ archive-level malformations
def _tree(root: Path, skip: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        if skip in p.parents or p == skip:
            continue
        out[str(p.relative_to(root))] = p.read_bytes() if p.is_file() and not p.is_symlink() else b"<dir-or-link>"
    return out


def _zip(path: Path, good: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(good.rglob("*")):
            if f.is_file():
                zf.write(f, f"static/{f.relative_to(good)}")
        if extra:
            extra(zf)


def _tar(path: Path, good: Path, extra: Callable[[tarfile.TarFile], None] | None = None, mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as tf:
        tf.add(good, arcname="static")
        if extra:
            extra(tf)


def _tar_member(name: str, kind: bytes, linkname: str = "", data: bytes = b"") -> Callable[[tarfile.TarFile], None]:
    def add(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data) if data else None)

    return add


def _zip_symlink(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("static/self-reenactment/link.mkv")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, "/etc/passwd")


def _zip_device(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("static/dev")
    info.external_attr = (stat.S_IFCHR | 0o666) << 16
    zf.writestr(info, "")


def _make_archive(kind: str, path: Path, good: Path, outside: Path) -> ArchiveLimits:
    """Write the malformed archive of `kind` to `path`; return the limits to extract it with."""
    limits = ArchiveLimits()
    if kind == "zip-traversal":
        _zip(path, good, lambda zf: zf.writestr("static/../../escaped.txt", "pwned"))
    elif kind == "zip-absolute":
        _zip(path, good, lambda zf: zf.writestr(str(outside / "absolute.txt"), "pwned"))
    elif kind == "zip-backslash":
        _zip(path, good, lambda zf: zf.writestr("static\\..\\..\\escaped.txt", "pwned"))
    elif kind == "zip-symlink":
        _zip(path, good, _zip_symlink)
    elif kind == "zip-device":
        _zip(path, good, _zip_device)
    elif kind == "zip-duplicate":
        _zip(path, good, lambda zf: zf.writestr("static/method.yaml", "name: evil twin\n"))
    elif kind == "zip-bomb":
        _zip(path, good, lambda zf: zf.writestr("static/zeros.bin", b"\0" * (8 << 20)))
        limits = ArchiveLimits(max_ratio=100.0)
    elif kind == "zip-too-large":
        limits = ArchiveLimits(max_total_bytes=50_000)
        _zip(path, good)
    elif kind == "zip-too-many":
        limits = ArchiveLimits(max_files=3)
        _zip(path, good)
    elif kind == "zip-corrupt":
        _zip(path, good)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + b"\0" * 64 + data[len(data) // 2 + 64 :])
    elif kind == "not-an-archive":
        path.write_bytes(b"MZ\x90\0 definitely not an archive" * 20)
    elif kind == "tar-traversal":
        _tar(path, good, _tar_member("static/../../escaped.txt", tarfile.REGTYPE, data=b"pwned"))
    elif kind == "tar-absolute":
        _tar(path, good, _tar_member(str(outside / "absolute.txt"), tarfile.REGTYPE, data=b"pwned"))
    elif kind == "tar-symlink":
        _tar(path, good, _tar_member("static/self-reenactment/evil.mkv", tarfile.SYMTYPE, linkname="/etc/passwd"))
    elif kind == "tar-hardlink":
        _tar(path, good, _tar_member("static/hard", tarfile.LNKTYPE, linkname="/etc/passwd"))
    elif kind == "tar-device":
        _tar(path, good, _tar_member("static/null", tarfile.CHRTYPE))
    elif kind == "tar-fifo":
        _tar(path, good, _tar_member("static/pipe", tarfile.FIFOTYPE))
    elif kind == "tar-symlink-then-write":  # the classic: a link to outside, then a file "through" it

        def both(tf: tarfile.TarFile) -> None:
            _tar_member("static/out", tarfile.SYMTYPE, linkname=str(outside))(tf)
            _tar_member("static/out/escaped.txt", tarfile.REGTYPE, data=b"pwned")(tf)

        _tar(path, good, both, mode="w")
    else:  # pragma: no cover
        raise AssertionError(kind)
    return limits


ARCHIVE_CASES = {
    "zip-traversal": ("archive-traversal", "path traversal"),
    "zip-absolute": ("archive-absolute", "absolute path"),
    "zip-backslash": ("archive-name", "backslash"),
    "zip-symlink": ("archive-link", "symbolic link"),
    "zip-device": ("archive-special", "device file"),
    "zip-duplicate": ("archive-duplicate", "more than once"),
    "zip-bomb": ("archive-bomb", "compression ratio"),
    "zip-too-large": ("archive-too-large", "exceeds 50000"),
    "zip-too-many": ("archive-too-many", "more than 3 members"),
    "zip-corrupt": ("archive-corrupt", ""),
    "tar-traversal": ("archive-traversal", "path traversal"),
    "tar-absolute": ("archive-absolute", "absolute path"),
    "tar-symlink": ("archive-link", "symbolic link"),
    "tar-hardlink": ("archive-link", "hard link"),
    "tar-device": ("archive-special", "device file"),
    "tar-fifo": ("archive-special", "FIFO"),
    "tar-symlink-then-write": ("archive-link", "symbolic link"),
}


@pytest.mark.parametrize("kind", sorted(ARCHIVE_CASES))
def test_malformed_archive_is_rejected_and_writes_nothing_outside(good: Path, tmp_path: Path, kind: str) -> None:
    code, text = ARCHIVE_CASES[kind]
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "upload" / f"{kind}.{'zip' if kind.startswith('zip') else 'tar.gz'}"
    archive.parent.mkdir()
    limits = _make_archive(kind, archive, good, outside)
    work = tmp_path / "work"
    before = _tree(tmp_path, work)
    with pytest.raises(SubmissionInvalid) as err:
        open_submission(archive, work, limits)
    hits = [p for p in err.value.problems if p.code == code]
    assert hits, f"{kind}: expected {code}, got {[str(p) for p in err.value.problems]}"
    assert any(text in p.message for p in hits)
    assert code in {p.code for p in err.value.problems} and str(archive) in err.value.message
    assert _tree(tmp_path, work) == before  # nothing created or changed outside the work directory
    assert not list(work.rglob("*.mkv")) if work.exists() else True  # and no partial extraction left behind


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "sub.zip"
    _make_archive("not-an-archive", path, tmp_path, tmp_path)
    from dexbench.errors import InputFileError

    with pytest.raises(InputFileError, match="not a folder, zip or tar archive"):
        open_submission(path, tmp_path / "work")


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar"])
def test_good_archives_extract_into_the_work_dir(workspace: Workspace, good: Path, tmp_path: Path, fmt: str) -> None:
    archive = tmp_path / f"My Method v2.{fmt}"
    if fmt == "zip":
        _zip(archive, good)
    else:
        _tar(archive, good, mode="w:gz" if fmt == "tar.gz" else "w")
    work = tmp_path / "work"
    folder = open_submission(archive, work)
    assert work.resolve() in folder.parents and folder.name == "static"
    assert folder.parent.name == "My-Method-v2"
    assert _validate(workspace, folder) == []
    # extracting again replaces the earlier extraction (it carries dexbench's marker), nothing else
    assert open_submission(archive, work) == folder


def test_eval_and_validate_accept_an_archive(workspace: Workspace, good: Path, tmp_path: Path) -> None:
    archive = tmp_path / "static.zip"
    _zip(archive, good)
    env = {**os.environ, "DEXBENCH_QUIET": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "dexbench", *args, "--root", str(workspace.root)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    r = cli("validate", str(archive), "--tasks", TASK)
    assert r.returncode == 0 and "valid" in r.stdout, r.stdout + r.stderr
    r = cli(
        "eval", str(archive), "--tasks", TASK, "--out", str(tmp_path / "m"), "--bootstrap", "20",
        "--metrics", "l1,psnr", "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "summary.json").is_file()

    bad = tmp_path / "bad.zip"
    _zip(bad, good, lambda zf: zf.writestr("static/../../escaped.txt", "x"))
    r = cli("validate", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "archive-traversal" in r.stdout and "path traversal" in r.stdout
    assert not (tmp_path / "escaped.txt").exists()

    sub = _copy(good, tmp_path)
    _fps(sub)
    _extra_pair(sub)
    r = cli("validate", str(sub))
    assert r.returncode == 2 and "fps" in r.stdout and "extra-pair" in r.stdout and "2 problem(s)" in r.stderr
