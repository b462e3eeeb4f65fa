"""The interface every animation method implements, built-in or from another package.

A request carries the source portrait and up to two drivers: one for the head pose, one for the facial
expression. A driver that is None means "keep the source's": that is how pose-only and expression-only editing are
asked for. Reenactment passes the same driver for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dexbench.data.annotations import ClipAnnotations


@dataclass(frozen=True)
class SourceFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB face crop
    annotations: ClipAnnotations | None  # one frame: pose, expression, landmarks (None where not provided)


@dataclass(frozen=True)
class Driver:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    annotations: ClipAnnotations | None  # per-frame annotations from the shards (estimates on real data)


@dataclass(frozen=True)
class AnimationRequest:
    pair_id: str
    task: str
    seed: int
    source: SourceFrame
    pose_driver: Driver | None
    expression_driver: Driver | None

    @property
    def n_frames(self) -> int:
        drivers = [d for d in (self.pose_driver, self.expression_driver) if d is not None]
        if not drivers:
            raise ValueError("a request needs at least one driver")
        return len(drivers[0].frames)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.source.image.shape[0]), int(self.source.image.shape[1])


class Animator(ABC):
    """Given a request, return (n_frames, H, W, 3) uint8 RGB frames at the source's resolution."""

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""
    url: ClassVar[str] = ""
    license: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def animate(self, request: AnimationRequest) -> np.ndarray: ...

    def card(self) -> dict[str, Any]:
        """The method card written next to a submission (method.yaml)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "url": self.url,
            "license": self.license,
            "parameters": dict(sorted(self.params.items())),
        }
