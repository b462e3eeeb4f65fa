"""Turn manifest pairs into what a method receives (AnimationRequest) and what it is scored against (target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexbench.data.reader import ShardReader
from dexbench.io.jpeg import decode_jpeg, encode_jpeg
from dexbench.methods.animator import AnimationRequest, Driver, SourceFrame
from dexbench.protocol.manifest import Pair
from dexbench.protocol.tasks import Task


class PairLoader:
    """Loads sources, drivers and ground truth for pairs of one dataset.

    `raw` is the dataset's raw folder; for SynthHeads it holds the generator's exact ground truth, from which
    targets of tasks without a real-video ground truth (cross-reenactment, editing) are rendered.
    """

    def __init__(self, shards: str | Path, raw: str | Path | None = None) -> None:
        self.reader = ShardReader(shards)
        self.raw = Path(raw) if raw is not None else None
        self._oracle = None

    @property
    def oracle(self):
        if self._oracle is None:
            from dexbench.data.recipes.synthheads import SynthOracle

            if self.raw is None:
                raise ValueError("synth-render targets need the SynthHeads raw folder")
            self._oracle = SynthOracle(self.raw)
        return self._oracle

    def _driver(self, pair: Pair) -> Driver:
        idx = np.arange(pair.driver_start, pair.driver_end)
        return Driver(
            frames=self.reader.frames(pair.driver_clip, idx),
            annotations=self.reader.annotations(pair.driver_clip, idx),
        )

    def request(self, task: Task, pair: Pair) -> AnimationRequest:
        src_idx = np.array([pair.source_frame])
        source = SourceFrame(
            image=self.reader.frames(pair.source_clip, src_idx)[0],
            annotations=self.reader.annotations(pair.source_clip, src_idx),
        )
        driver = self._driver(pair)
        return AnimationRequest(
            pair_id=pair.pair_id,
            task=task.name,
            seed=pair.seed,
            source=source,
            pose_driver=driver if task.pose_from == "driver" else None,
            expression_driver=driver if task.expression_from == "driver" else None,
        )

    def target(self, task: Task, pair: Pair) -> np.ndarray | None:
        """Ground-truth frames (T, H, W, 3) uint8, or None where the task has none on this dataset."""
        if pair.target == "driver-clip":
            return self.reader.frames(pair.driver_clip, np.arange(pair.driver_start, pair.driver_end))
        if pair.target == "synth-render":
            from dexbench.data.synth import MotionTrack

            oracle = self.oracle
            drv = oracle.motion(pair.driver_clip).slice(pair.driver_start, pair.driver_end)
            src = oracle.motion(pair.source_clip).slice(pair.source_frame, pair.source_frame + 1)
            n = len(drv)
            pose_src = drv if task.pose_from == "driver" else src
            expr_src = drv if task.expression_from == "driver" else src

            def take(track: MotionTrack, name: str) -> np.ndarray:
                v = getattr(track, name)
                return v if len(track) == n else np.repeat(v[:1], n, axis=0)

            motion = MotionTrack(
                yaw=take(pose_src, "yaw"),
                pitch=take(pose_src, "pitch"),
                roll=take(pose_src, "roll"),
                tx=take(pose_src, "tx"),
                ty=take(pose_src, "ty"),
                scale=take(pose_src, "scale"),
                expression=take(expr_src, "expression"),
            )
            frames = oracle.render(pair.source_clip, motion)
            # stored the way shard frames are, so that a method reproducing the dataset exactly scores at the ceiling
            quality = int(self.reader.metadata.get("jpeg_quality", 95))
            return np.stack([decode_jpeg(encode_jpeg(f, quality)) for f in frames])
        return None
