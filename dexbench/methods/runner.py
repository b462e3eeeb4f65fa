"""Run a method over a task's manifest and write its submission (resumable: finished pairs are kept)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexbench.errors import DexbenchError
from dexbench.io.video import write_video
from dexbench.methods.animator import Animator
from dexbench.progress import track
from dexbench.protocol.manifest import Manifest
from dexbench.protocol.pairs import PairLoader
from dexbench.protocol.submission import CARD, find_output, read_card, write_card
from dexbench.protocol.tasks import get_task


def run_task(
    method: Animator, manifest: Manifest, loader: PairLoader, submission: str | Path, fps: float, codec: str = "ffv1"
) -> dict[str, int]:
    task = get_task(manifest.task)
    out = Path(submission) / task.name
    card = method.card()
    _check_same_method(Path(submission), card)
    out.mkdir(parents=True, exist_ok=True)
    write_card(submission, card)
    done = skipped = 0
    for pair in track(manifest.pairs, f"{method.name}: {task.name}"):
        if find_output(out, pair.pair_id) is not None:
            skipped += 1
            continue
        request = loader.request(task, pair)
        frames = method.animate(request)
        expected = (request.n_frames, *request.size, 3)
        if not isinstance(frames, np.ndarray) or frames.shape != expected or frames.dtype != np.uint8:
            got = (frames.shape, frames.dtype) if isinstance(frames, np.ndarray) else type(frames).__name__
            raise DexbenchError(f"method {method.name!r} returned {got} for {pair.pair_id}, expected {expected} uint8")
        write_video(out / f"{pair.pair_id}.mkv", frames, fps, codec=codec)
        done += 1
    return {"written": done, "skipped": skipped}


def _check_same_method(submission: Path, card: dict) -> None:
    """Finished pairs are kept on a re-run, so they must come from the same method, version, parameters and (for a
    method whose card names them, as dexportrait's does) model checkpoints."""
    if not (submission / CARD).is_file():
        return
    old = read_card(submission)
    keys = ("name", "version", "parameters", "checkpoints")
    if any(old.get(k) != card.get(k) for k in keys):
        was = ", ".join(f"{k} {old.get(k)!r}" for k in keys)
        now = ", ".join(f"{k} {card.get(k)!r}" for k in keys)
        raise DexbenchError(
            f"{submission}: this submission was written by {was}; this run is {now}, and outputs would mix",
            "write to another --out, or delete the folder to start over",
        )
