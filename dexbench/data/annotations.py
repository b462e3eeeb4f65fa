"""Per-frame face annotations of one clip, as arrays (the in-memory twin of the `annotations` shard table)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class ClipAnnotations:
    """Arrays over T frames. Landmarks are iBUG-68 in crop pixels; pose follows `dexbench.geometry`."""

    frame_idx: np.ndarray  # (T,) int
    rotation: np.ndarray  # (T, 3, 3)
    translation: np.ndarray  # (T, 2) normalised crop coordinates
    scale: np.ndarray  # (T,)
    yaw: np.ndarray  # (T,) degrees
    pitch: np.ndarray
    roll: np.ndarray
    expression: np.ndarray  # (T, E) in the dataset's expression space (schema metadata names it)
    landmarks: np.ndarray  # (T, 68, 2)
    landmarks_visible: np.ndarray  # (T, 68) bool
    bbox: np.ndarray  # (T, 4) x0, y0, x1, y1 in source-video pixels
    crop_box: np.ndarray  # (T, 4) the crop in source-video pixels

    def __len__(self) -> int:
        return len(self.frame_idx)

    def take(self, index: np.ndarray | slice | list[int]) -> ClipAnnotations:
        """The annotations of a subset of frames (numpy indexing on the frame axis)."""
        return ClipAnnotations(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def repeat_frame(self, i: int, n: int) -> ClipAnnotations:
        """Frame i's annotations repeated n times: the track of a signal 'kept from the source'."""
        return self.take(np.full(n, i, dtype=np.int64))
