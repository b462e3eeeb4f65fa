"""Safe extraction of submission archives (.zip, .tar, .tar.gz/.bz2/.xz) into a work directory.

Nothing in an archive is trusted. Before anything is written, every member is checked and all problems are
reported together: absolute paths, `..` components, backslashes or NUL bytes in names, duplicate names, symbolic
and hard links, device files and FIFOs, encrypted members, and the file-count and size limits (declared sizes).
Then regular files are streamed out one by one with the byte counts enforced again on the actual data (a zip's
declared sizes can lie), each opened with O_EXCL | O_NOFOLLOW under a fresh directory whose resolved path every
target must stay inside. Python's `extractall` is never used; nothing is unpickled or executed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from dexbench.errors import DexbenchError, InputFileError
from dexbench.protocol.names import slugify
from dexbench.protocol.problems import Problem, SubmissionInvalid

MARKER = ".dexbench-extracted"  # written into every extraction root: only such folders are ever replaced
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 100_000
    max_total_bytes: int = 16 * 1024**3
    max_file_bytes: int = 4 * 1024**3
    max_ratio: float = 1000.0  # zip: uncompressed / compressed, above 1 MiB (zip bombs)


@dataclass(frozen=True)
class _Member:
    name: str  # normalised relative POSIX path
    is_dir: bool
    size: int
    open: object  # callable returning a binary stream (regular files only)


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None, from the file's content (never its name)."""
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, tarfile.TarError, EOFError):
        return None
    return None


def _check_name(raw: str) -> tuple[str | None, str | None]:
    """The normalised member path, or a problem code and message."""
    if not raw or "\x00" in raw:
        return None, "empty name or NUL byte in the name"
    if "\\" in raw:
        return None, "backslash in the name (Windows separators are not accepted; use '/')"
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        return None, "absolute path"
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if ".." in parts:
        return None, "path traversal ('..' component)"
    if not parts:
        return None, "empty path"
    return "/".join(parts), None


def _member_name(raw: str, problems: list[Problem]) -> tuple[str | None, str]:
    """(normalised name or None, printable name); a bad name is recorded in `problems`."""
    name, bad = _check_name(raw)
    where = raw.replace("\x00", "\\0")
    if bad:
        code = "archive-absolute" if "absolute" in bad else "archive-traversal" if ".." in bad else "archive-name"
        problems.append(Problem(code, where, bad))
    return name, where


def _zip_members(zf: zipfile.ZipFile, limits: ArchiveLimits, problems: list[Problem]) -> list[_Member]:
    members = []
    for info in zf.infolist()[: limits.max_files + 1]:
        name, where = _member_name(info.filename, problems)
        if name is None:
            continue
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            problems.append(Problem("archive-link", where, "symbolic link (links are not accepted)"))
            continue
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            problems.append(Problem("archive-special", where, "device file, FIFO or socket (not accepted)"))
            continue
        if info.flag_bits & 0x1:
            problems.append(Problem("archive-encrypted", where, "encrypted member (not accepted)"))
            continue
        if info.is_dir():
            members.append(_Member(name, True, 0, None))
            continue
        if info.file_size > 1024**2 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            problems.append(
                Problem(
                    "archive-bomb",
                    where,
                    f"compression ratio {info.file_size / max(info.compress_size, 1):.0f}:1 exceeds "
                    f"{limits.max_ratio:.0f}:1 (zip bomb?)",
                )
            )
            continue
        members.append(_Member(name, False, info.file_size, lambda i=info: zf.open(i)))
    return members


def _tar_members(tf: tarfile.TarFile, limits: ArchiveLimits, problems: list[Problem]) -> list[_Member]:
    members = []
    for count, info in enumerate(tf):
        if count > limits.max_files:
            break
        name, where = _member_name(info.name, problems)
        if name is None:
            continue
        if info.issym() or info.islnk():
            problems.append(
                Problem("archive-link", where, f"{'symbolic' if info.issym() else 'hard'} link (not accepted)")
            )
            continue
        if info.isdir():
            members.append(_Member(name, True, 0, None))
            continue
        if not info.isreg():
            problems.append(
                Problem("archive-special", where, "device file, FIFO or other special member (not accepted)")
            )
            continue
        members.append(_Member(name, False, info.size, lambda i=info: tf.extractfile(i)))
    return members


@contextmanager
def _open_members(path: Path, limits: ArchiveLimits, problems: list[Problem]) -> Iterator[list[_Member]]:
    kind = archive_kind(path)
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as zf:
                yield _zip_members(zf, limits, problems)
        elif kind == "tar":
            with tarfile.open(path, "r:*") as tf:
                yield _tar_members(tf, limits, problems)
        else:
            raise InputFileError(path, "not a folder, zip or tar archive", "submit a folder, .zip, .tar or .tar.gz")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, InputFileError):
            raise
        raise SubmissionInvalid(str(path), [Problem("archive-corrupt", path.name, f"corrupt archive ({exc})")]) from exc


def _check_members(members: list[_Member], limits: ArchiveLimits, problems: list[Problem]) -> None:
    if len(members) > limits.max_files:
        problems.append(Problem("archive-too-many", ".", f"more than {limits.max_files} members"))
    seen: dict[str, bool] = {}
    total = 0
    for m in members:
        if m.name in seen and not (m.is_dir and seen[m.name]):
            problems.append(Problem("archive-duplicate", m.name, "appears more than once in the archive"))
        seen[m.name] = m.is_dir
        if m.size > limits.max_file_bytes:
            problems.append(Problem("archive-too-large", m.name, f"{m.size} bytes exceeds {limits.max_file_bytes}"))
        total += m.size
    if total > limits.max_total_bytes:
        problems.append(
            Problem("archive-too-large", ".", f"{total} bytes uncompressed exceeds {limits.max_total_bytes}")
        )


def _copy_limited(stream: IO[bytes], fd: int, member: _Member, budget: list[int], limits: ArchiveLimits) -> None:
    written = 0
    while chunk := stream.read(_CHUNK):
        written += len(chunk)
        budget[0] += len(chunk)
        if written > max(member.size, 0) or written > limits.max_file_bytes or budget[0] > limits.max_total_bytes:
            raise SubmissionInvalid(
                member.name,
                [Problem("archive-too-large", member.name, "holds more data than declared or allowed (zip bomb?)")],
            )
        os.write(fd, chunk)


def _prepare_dest(dest: Path) -> None:
    if dest.is_symlink():
        raise DexbenchError(f"{dest}: is a symbolic link; refusing to extract into it")
    if dest.exists():
        if not (dest / MARKER).is_file():
            raise DexbenchError(
                f"{dest}: exists and was not created by dexbench", "choose another --workdir or remove it yourself"
            )
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / MARKER).write_text("extracted by dexbench; replaced on the next extraction\n")


def safe_extract(archive: str | Path, dest: str | Path, limits: ArchiveLimits | None = None) -> Path:
    """Extract `archive` into the (new) folder `dest`; raise SubmissionInvalid listing every problem."""
    archive, dest = Path(archive), Path(dest)
    limits = limits or ArchiveLimits()
    problems: list[Problem] = []
    with _open_members(archive, limits, problems) as members:
        _check_members(members, limits, problems)
        if problems:
            raise SubmissionInvalid(str(archive), problems)
        _prepare_dest(dest)
        root = dest.resolve()
        budget = [0]
        try:
            for m in members:
                target = root.joinpath(*m.name.split("/"))
                if m.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if os.path.commonpath([root, target.parent.resolve()]) != str(root):
                    raise SubmissionInvalid(
                        str(archive), [Problem("archive-traversal", m.name, "escapes the work dir")]
                    )
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                try:
                    with m.open() as stream:  # type: ignore[operator]
                        _copy_limited(stream, fd, m, budget, limits)
                finally:
                    os.close(fd)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise SubmissionInvalid(
                str(archive), [Problem("archive-corrupt", archive.name, f"cannot extract ({exc})")]
            ) from exc
        except SubmissionInvalid:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return dest


def _submission_root(folder: Path) -> Path:
    """An archive of a folder holds that folder: descend into a single top-level directory without method.yaml."""
    if (folder / "method.yaml").exists():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder


def open_submission(path: str | Path, workdir: str | Path | None = None, limits: ArchiveLimits | None = None) -> Path:
    """The submission folder for `path`: a folder as is; an archive extracted safely into `workdir`.

    Without `workdir`, archives go to a temporary directory removed when the process exits. The folder is named
    after the archive (made safe), so results land under a predictable name.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, "submission folder not found", "pass a submission folder, .zip or .tar archive")
    if p.is_dir():
        return p.resolve()
    name = p.name
    for suffix in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="dexbench-submission-")
        atexit.register(shutil.rmtree, workdir, True)
    dest = safe_extract(p, Path(workdir) / slugify(name), limits)
    return _submission_root(dest)
