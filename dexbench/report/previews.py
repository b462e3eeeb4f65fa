"""Short animated previews of sample pairs (source | driver | output | ground truth) as inline WebP data URIs.

Frames are subsampled and downscaled so that a preview stays a few tens of kilobytes; the site embeds them, so it
needs no media folder and works from file:// as well as from any static host.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexbench.errors import DexbenchError

GAP = 3  # white pixels between tiles


@dataclass
class Preview:
    pair_id: str
    task: str
    source_clip: str
    driver_clip: str
    labels: list[str]
    data_uri: str
    width: int
    height: int
    note: str = ""  # e.g. why the ground truth is missing
    why: list[str] = field(default_factory=list)  # why this pair was chosen ("first pair", "worst psnr")


def _resize(frames: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    h, w = frames.shape[1:3]
    if h == height:
        return frames
    width = max(1, round(w * height / h))
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.LANCZOS)) for f in frames])


def _pick(n: int, max_frames: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, num=min(n, max_frames)).round().astype(int))


def strip_webp(
    tiles: list[np.ndarray], *, height: int = 96, max_frames: int = 16, frame_ms: int = 100, quality: int = 70
) -> tuple[bytes, int, int]:
    """Tiles side by side, each (T, H, W, 3) uint8 or a single (H, W, 3) frame held still; an animated WebP."""
    from PIL import Image

    n = max(t.shape[0] if t.ndim == 4 else 1 for t in tiles)
    idx = _pick(n, max_frames)
    parts = []
    for t in tiles:
        seq = t[None] if t.ndim == 3 else t
        seq = seq[np.minimum(idx, len(seq) - 1)] if len(seq) > 1 else np.repeat(seq[:1], len(idx), axis=0)
        parts.append(_resize(np.ascontiguousarray(seq), height))
    width = sum(p.shape[2] for p in parts) + GAP * (len(parts) - 1)
    canvas = np.full((len(idx), height, width, 3), 255, np.uint8)
    x = 0
    for p in parts:
        canvas[:, :, x : x + p.shape[2]] = p
        x += p.shape[2] + GAP
    images = [Image.fromarray(f) for f in canvas]
    buf = io.BytesIO()
    images[0].save(
        buf, format="WEBP", save_all=True, append_images=images[1:], duration=frame_ms, loop=0,
        quality=quality, method=4, minimize_size=False,
    )  # fmt: skip
    return buf.getvalue(), width, height


def data_uri(webp: bytes) -> str:
    return "data:image/webp;base64," + base64.b64encode(webp).decode("ascii")


class PreviewMaker:
    """Builds previews for one dataset of a workspace (shards, raw, manifests, submissions under `root`)."""

    def __init__(self, root: str | Path, dataset: str, *, height: int = 96, max_frames: int = 16) -> None:
        from dexbench.data.layout import dataset_paths

        self.paths = dataset_paths(dataset, root)
        self.dataset = dataset
        self.height = height
        self.max_frames = max_frames
        self._loader = None
        self._manifests: dict[str, object] = {}

    @property
    def available(self) -> bool:
        return (self.paths.shards / "clips").is_dir() and self.paths.protocol.is_dir()

    @property
    def loader(self):
        if self._loader is None:
            from dexbench.protocol.pairs import PairLoader

            raw = self.paths.raw if self.paths.raw.is_dir() else None
            self._loader = PairLoader(self.paths.shards, raw)
        return self._loader

    def _manifest(self, task: str):
        if task not in self._manifests:
            from dexbench.protocol.manifest import Manifest, manifest_path

            path = manifest_path(self.paths.protocol, self.dataset, task)
            self._manifests[task] = Manifest.load(path) if path.is_file() else None
        return self._manifests[task]

    def make(self, submission_key: str, task_name: str, pair_id: str) -> Preview | None:
        """The preview of one pair, or None when the submission's output or the manifest is not in the workspace."""
        from dexbench.protocol.submission import find_output, read_output
        from dexbench.protocol.tasks import get_task

        manifest = self._manifest(task_name)
        output_path = find_output(self.paths.submission(submission_key) / task_name, pair_id)
        if manifest is None or output_path is None:
            return None
        try:
            task = get_task(task_name)
            pair = manifest.pair(pair_id)
        except DexbenchError:
            return None
        loader = self.loader
        output = read_output(output_path)
        source = loader.reader.frames(pair.source_clip, np.array([pair.source_frame]))[0]
        driver = loader.reader.frames(pair.driver_clip, np.arange(pair.driver_start, pair.driver_end))
        tiles, labels, note = [source, driver, output], ["source", "driver", "output"], ""
        try:
            target = loader.target(task, pair)
        except (ValueError, OSError, DexbenchError) as exc:
            target, note = None, f"ground truth not rendered ({exc})"
        if target is not None:
            tiles.append(target)
            labels.append("ground truth")
        elif not note:
            note = "no ground truth for this task on this dataset"
        webp, w, h = strip_webp(tiles, height=self.height, max_frames=self.max_frames)
        return Preview(pair_id, task_name, pair.source_clip, pair.driver_clip, labels, data_uri(webp), w, h, note)
