"""The submission format: per task a folder with one video (or PNG frame folder) per pair id, plus method.yaml.

submissions/<dataset>/<method>/
  method.yaml                 name, version, url, licence, parameters
  <task>/<pair_id>.mkv        FFV1 lossless by default; .mp4/.avi/.mov/.webm and <pair_id>/ of PNGs accepted
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dexbench.errors import InputFileError
from dexbench.io.atomic import write_text
from dexbench.io.strict_yaml import safe_load_strict, yaml_problem
from dexbench.io.video import VIDEO_SUFFIXES, read_video

CARD = "method.yaml"
CARD_FIELDS = ("name", "version", "description", "url", "license", "parameters")


def write_card(submission: str | Path, card: dict[str, Any]) -> None:
    write_text(Path(submission) / CARD, yaml.safe_dump(card, sort_keys=True, allow_unicode=True))


def read_card(submission: str | Path) -> dict[str, Any]:
    path = Path(submission) / CARD
    if not path.is_file():
        raise InputFileError(path, "method card not found", f"a submission folder needs a {CARD}")
    try:
        card = safe_load_strict(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"method card does not parse ({yaml_problem(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(path, "method card is not UTF-8 text") from exc
    if not isinstance(card, dict) or not isinstance(card.get("name"), str) or not card["name"].strip():
        raise InputFileError(path, "method card needs at least a non-empty `name`")
    return card


def find_output(task_dir: str | Path, pair_id: str) -> Path | None:
    """The file (or PNG folder) holding a pair's output, or None."""
    task_dir = Path(task_dir)
    for suffix in VIDEO_SUFFIXES:
        p = task_dir / f"{pair_id}{suffix}"
        if p.is_file():
            return p
    folder = task_dir / pair_id
    return folder if folder.is_dir() else None


def read_output(path: Path) -> np.ndarray:
    if path.is_dir():
        from PIL import Image

        pngs = sorted(path.glob("*.png"))
        if not pngs:
            raise InputFileError(path, "frame folder holds no PNG files")
        try:
            return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in pngs])
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"unreadable PNG frames ({exc})") from exc
    frames, _ = read_video(path)
    return frames
