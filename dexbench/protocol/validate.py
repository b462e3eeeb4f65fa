"""Check a submission folder against the test manifests before any metric runs, listing every problem at once.

What is checked, in order, without stopping at the first problem:
- the method card (`method.yaml`): size, encoding, YAML without aliases, a mapping with the required fields;
- the layout: only known task folders at the top, no symlinks, no stray files, one output per pair id, accepted
  file types only (videos: .mkv .mp4 .avi .mov .webm; PNG frame folders);
- every output: readable container header, codec (lossless or near-lossless unless lossy is allowed), resolution,
  frame rate, frame count; with `deep`, every frame is decoded and blank (single-colour) frames are reported.
Frames are 8-bit integers in every accepted format, so NaN cannot occur in a valid file; a decoder failure is
reported as "unreadable".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dexbench.io.strict_yaml import safe_load_strict, yaml_problem
from dexbench.io.video import VIDEO_SUFFIXES
from dexbench.protocol.archive import open_submission  # noqa: F401 - re-exported: `dexbench eval` imports it here
from dexbench.protocol.manifest import Manifest
from dexbench.protocol.problems import Problem
from dexbench.protocol.submission import CARD
from dexbench.protocol.tasks import TASKS

MAX_CARD_BYTES = 64 * 1024
MAX_FRAME_PIXELS = 4096 * 4096
REQUIRED_CARD_FIELDS = ("name", "version", "url", "license", "parameters")
# codecs whose output is lossless, or lossless-capable in the 4:4:4 / RGB pixel formats dexbench writes
LOSSLESS_CODECS = {"ffv1", "png", "apng", "rawvideo", "huffyuv", "ffvhuff", "utvideo", "qtrle", "magicyuv"}
NEAR_LOSSLESS_H264 = {"h264", "hevc"}
FULL_CHROMA = ("gbrp", "rgb24", "bgr24", "bgr0", "rgb0", "yuv444p", "yuvj444p", "gbrp10le", "yuv444p10le")


@dataclass(frozen=True)
class Expected:
    n_frames: int
    height: int
    width: int
    fps: float


def _ignored(name: str) -> bool:
    # archive tools add these; they are never part of a submission
    return name.startswith(".") or name in ("__MACOSX", "Thumbs.db", "desktop.ini")


def check_card(root: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The parsed method card (None if unusable) and its problems. Hostile strings are kept as data."""
    path = root / CARD
    if path.is_symlink() or not path.is_file():
        return None, [Problem("card-missing", CARD, f"method card not found: a submission needs a {CARD}")]
    if path.stat().st_size > MAX_CARD_BYTES:
        return None, [Problem("card-too-large", CARD, f"larger than {MAX_CARD_BYTES // 1024} KiB")]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None, [Problem("card-encoding", CARD, "not UTF-8 text")]
    try:
        # aliases let a few bytes expand into gigabytes when the card is serialised later (a "billion laughs")
        if any(isinstance(ev, yaml.AliasEvent) for ev in yaml.parse(text, Loader=yaml.SafeLoader)):
            return None, [Problem("card-aliases", CARD, "uses YAML aliases (*name); write the values out")]
        card = safe_load_strict(text)
    except yaml.YAMLError as exc:
        first = yaml_problem(exc)[:200]
        return None, [Problem("card-syntax", CARD, f"method card does not parse as YAML ({first})")]
    if not isinstance(card, dict):
        return None, [Problem("card-not-mapping", CARD, "must be a YAML mapping of fields (name: ..., version: ...)")]
    if "license" not in card and "licence" in card:
        card["license"] = card.pop("licence")
    problems = []
    missing = [f for f in REQUIRED_CARD_FIELDS if f not in card]
    if missing:
        problems.append(Problem("card-fields", CARD, f"missing field(s): {', '.join(missing)}"))
    name = card.get("name")
    if "name" in card and (not isinstance(name, str) or not name.strip()):
        problems.append(Problem("card-fields", CARD, "`name` must be a non-empty string"))
    for field in ("version", "url", "license", "description"):
        if field in card and not isinstance(card[field], str | int | float):
            problems.append(Problem("card-fields", CARD, f"`{field}` must be a string"))
    if "parameters" in card and not isinstance(card["parameters"], dict | type(None)):
        problems.append(Problem("card-fields", CARD, "`parameters` must be a mapping (name: value)"))
    return (card if not problems else None), problems


def expected_outputs(manifest: Manifest, clips: Any) -> dict[str, Expected]:
    """Per pair id, what its output must look like: one frame per driving frame, source size, driver fps."""
    info = clips.set_index("clip_id")
    out = {}
    for p in manifest.pairs:
        src, drv = info.loc[p.source_clip], info.loc[p.driver_clip]
        out[p.pair_id] = Expected(p.n_frames, int(src["height"]), int(src["width"]), float(drv["fps"]))
    return out


def _probe(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Container facts (codec, pix_fmt, size, fps, packet count) without decoding, or an error message."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None, "holds no video stream"
            stream = container.streams.video[0]
            ctx = stream.codec_context
            fps = float(stream.average_rate or stream.guessed_rate or 0.0)
            packets = sum(1 for pkt in container.demux(stream) if pkt.size)
            return {
                "codec": ctx.name,
                "pix_fmt": ctx.pix_fmt or "",
                "width": ctx.width,
                "height": ctx.height,
                "fps": fps,
                "frames": packets,
            }, None
    except Exception as exc:  # PyAV raises many types for corrupt input; every one means "unreadable"
        return None, f"unreadable video ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"


def _blank_frames(frames: np.ndarray) -> list[int]:
    flat = frames.reshape(len(frames), -1)
    return np.flatnonzero(flat.max(axis=1) == flat.min(axis=1)).tolist()


def _check_video(path: Path, rel: str, exp: Expected, deep: bool, allow_lossy: bool) -> list[Problem]:
    if path.stat().st_size == 0:
        return [Problem("unreadable", rel, "empty (zero-byte) file")]
    facts, err = _probe(path)
    if facts is None:
        return [Problem("unreadable", rel, err or "unreadable video")]
    problems = []
    codec, pix = facts["codec"], facts["pix_fmt"]
    lossless = codec in LOSSLESS_CODECS or (codec in NEAR_LOSSLESS_H264 and pix in FULL_CHROMA)
    if not lossless and not allow_lossy:
        problems.append(
            Problem(
                "lossy",
                rel,
                f"lossy encoding ({codec}, {pix}): metrics would score compression artefacts; re-encode losslessly "
                "(FFV1 in .mkv, or PNG frames) or pass --allow-lossy",
            )
        )
    if (facts["height"], facts["width"]) != (exp.height, exp.width):
        problems.append(
            Problem(
                "resolution",
                rel,
                f"{facts['width']}x{facts['height']} pixels, expected {exp.width}x{exp.height} (the source's size)",
            )
        )
        return problems  # never decode frames of an unexpected size (it may be huge)
    if abs(facts["fps"] - exp.fps) > 1e-3 * exp.fps:
        problems.append(Problem("fps", rel, f"{facts['fps']:.4g} frames/s, expected {exp.fps:.4g} (the driver's)"))
    if facts["frames"] != exp.n_frames:
        problems.append(
            Problem("frame-count", rel, f"{facts['frames']} frames, expected {exp.n_frames} (one per driving frame)")
        )
    if deep and all(p.code in ("lossy", "fps") for p in problems):
        from dexbench.errors import InputFileError
        from dexbench.io.video import read_video

        try:
            frames, _ = read_video(path)
        except InputFileError as exc:
            return [*problems, Problem("unreadable", rel, exc.message.split(": ", 1)[-1])]
        if len(frames) != exp.n_frames:
            problems.append(Problem("frame-count", rel, f"{len(frames)} decodable frames, expected {exp.n_frames}"))
        blank = _blank_frames(frames)
        if blank:
            problems.append(Problem("blank-frames", rel, f"blank (single-colour) frame(s) {_ranges(blank)}"))
    return problems


def _ranges(idx: list[int]) -> str:
    shown = ", ".join(str(i) for i in idx[:8])
    return shown + (f" and {len(idx) - 8} more" if len(idx) > 8 else "")


def _check_png_folder(folder: Path, rel: str, exp: Expected, deep: bool) -> list[Problem]:
    from PIL import Image, UnidentifiedImageError

    problems = []
    entries = sorted(os.listdir(folder))
    pngs = [
        e for e in entries if e.lower().endswith(".png") and (folder / e).is_file() and not (folder / e).is_symlink()
    ]
    others = [e for e in entries if e not in pngs and not _ignored(e)]
    if others:
        problems.append(
            Problem("file-type", rel, f"frame folder holds non-PNG entries: {', '.join(others[:5])} (PNG frames only)")
        )
    if not pngs:
        return [*problems, Problem("unreadable", rel, "frame folder holds no PNG files")]
    if len(pngs) != exp.n_frames:
        problems.append(Problem("frame-count", rel, f"{len(pngs)} PNG frames, expected {exp.n_frames}"))
    blank = []
    sizes = set()
    for k, name in enumerate(pngs):
        try:
            with Image.open(folder / name) as im:
                if im.format != "PNG":
                    problems.append(Problem("file-type", f"{rel}/{name}", f"is {im.format}, not PNG"))
                    continue
                sizes.add(im.size)
                if im.size[0] * im.size[1] > MAX_FRAME_PIXELS or im.size != (exp.width, exp.height):
                    continue
                if deep:
                    arr = np.asarray(im.convert("RGB"))
                    if arr.max() == arr.min():
                        blank.append(k)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            problems.append(Problem("unreadable", f"{rel}/{name}", f"unreadable PNG ({exc})"))
    wrong = sorted(s for s in sizes if s != (exp.width, exp.height))
    if wrong:
        shown = ", ".join(f"{w}x{h}" for w, h in wrong[:3])
        problems.append(Problem("resolution", rel, f"frames of {shown} pixels, expected {exp.width}x{exp.height}"))
    if blank:
        problems.append(Problem("blank-frames", rel, f"blank (single-colour) frame(s) {_ranges(blank)}"))
    return problems


def _split_output_name(name: str) -> tuple[str, str]:
    for suffix in VIDEO_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    stem, dot, ext = name.rpartition(".")
    return (stem, "." + ext) if dot else (name, "")


def check_layout_and_outputs(
    root: Path,
    manifests: dict[str, Manifest],
    expected: dict[str, dict[str, Expected]],
    *,
    deep: bool = True,
    allow_lossy: bool = False,
) -> list[Problem]:
    """Every layout and output problem of the task folders named in `manifests` (plus stray top-level entries)."""
    problems: list[Problem] = []
    for entry in sorted(os.listdir(root)):
        p = root / entry
        if _ignored(entry) or entry == CARD:
            continue
        if p.is_symlink():
            problems.append(Problem("symlink", entry, "symbolic link (not accepted in a submission)"))
        elif p.is_dir() and entry not in TASKS:
            problems.append(Problem("unknown-task", entry, f"unknown task folder; tasks are: {', '.join(TASKS)}"))
        elif not p.is_dir():
            problems.append(
                Problem("stray-file", entry, f"unexpected file at the top level (only {CARD} and task folders)")
            )
    for task in manifests:
        task_dir = root / task
        if not task_dir.is_dir() or task_dir.is_symlink():
            problems.append(Problem("missing-task", task, "task folder missing (was this task requested?)"))
            continue
        exp = expected[task]
        found: dict[str, list[str]] = {}
        for entry in sorted(os.listdir(task_dir)):
            if _ignored(entry):
                continue
            rel = f"{task}/{entry}"
            p = task_dir / entry
            if p.is_symlink():
                problems.append(Problem("symlink", rel, "symbolic link (not accepted in a submission)"))
                continue
            if p.is_dir():
                pair_id, kind = entry, "png-folder"
            else:
                pair_id, suffix = _split_output_name(entry)
                if suffix.lower() not in VIDEO_SUFFIXES:
                    problems.append(
                        Problem(
                            "file-type",
                            rel,
                            f"not an accepted output type ({suffix or 'no extension'}); use a video "
                            f"({', '.join(VIDEO_SUFFIXES)}) or a folder of PNG frames",
                        )
                    )
                    continue
                kind = "video"
            if pair_id not in exp:
                problems.append(Problem("extra-pair", rel, f"pair id {pair_id!r} is not in the {task} manifest"))
                continue
            found.setdefault(pair_id, []).append(entry)
            if len(found[pair_id]) > 1:
                continue
            if kind == "video":
                problems += _check_video(p, rel, exp[pair_id], deep, allow_lossy)
            else:
                problems += _check_png_folder(p, rel, exp[pair_id], deep)
        for pair_id, entries in found.items():
            if len(entries) > 1:
                problems.append(
                    Problem(
                        "duplicate-output", f"{task}/{pair_id}", f"several outputs for one pair: {', '.join(entries)}"
                    )
                )
        missing = [pid for pid in exp if pid not in found]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            problems.append(
                Problem("missing-pair", task, f"{len(missing)} of {len(exp)} pair outputs missing: {shown}")
            )
    return problems


def present_tasks(root: Path) -> list[str]:
    return [t for t in TASKS if (root / t).is_dir() and not (root / t).is_symlink()]


def validate_folder(
    root: Path,
    manifests: dict[str, Manifest],
    clips: Any,
    *,
    deep: bool = True,
    allow_lossy: bool = False,
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The card and all problems of an (extracted) submission folder for the given task manifests."""
    card, problems = check_card(root)
    expected = {task: expected_outputs(m, clips) for task, m in manifests.items()}
    problems += check_layout_and_outputs(root, manifests, expected, deep=deep, allow_lossy=allow_lossy)
    return card, problems


def require_valid(
    root: Path, manifests: list[Manifest], clips: Any, *, deep: bool = False, allow_lossy: bool = True
) -> dict[str, Any]:
    """Raise SubmissionInvalid listing every problem (headers only by default: what `dexbench eval` runs first)."""
    from dexbench.protocol.problems import SubmissionInvalid

    card, problems = validate_folder(root, {m.task: m for m in manifests}, clips, deep=deep, allow_lossy=allow_lossy)
    if problems:
        raise SubmissionInvalid(str(root), problems)
    assert card is not None
    return card
