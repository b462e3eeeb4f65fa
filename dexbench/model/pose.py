"""Head pose as tensors, in dexbench's weak-perspective convention (`dexbench.geometry`).

A pose P = [sR | t] maps a head-frame point X to the *view volume*: q = s R X + (tx, ty, 0). The view volume's x, y
are the image's normalised coordinates in [-1, 1] (x right, y down) and z is depth along the camera axis in the
same units, so a 3-D feature volume lifted from an image lives in exactly these coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Pose:
    rotation: torch.Tensor  # (B, 3, 3)
    translation: torch.Tensor  # (B, 2)
    scale: torch.Tensor  # (B,)

    def __len__(self) -> int:
        return self.rotation.shape[0]

    def index(self, idx: torch.Tensor | slice | list[int]) -> Pose:
        return Pose(self.rotation[idx], self.translation[idx], self.scale[idx])

    def detach(self) -> Pose:
        return Pose(self.rotation.detach(), self.translation.detach(), self.scale.detach())

    def repeat_interleave(self, n: int) -> Pose:
        return Pose(*(v.repeat_interleave(n, dim=0) for v in (self.rotation, self.translation, self.scale)))

    def matrix(self) -> torch.Tensor:
        """(B, 3, 4) [sR | (tx, ty, 0)]."""
        t3 = torch.cat([self.translation, torch.zeros_like(self.translation[:, :1])], dim=1)
        return torch.cat([self.scale[:, None, None] * self.rotation, t3[:, :, None]], dim=2)

    def apply(self, points: torch.Tensor) -> torch.Tensor:
        """Head-frame points (B, N, 3) -> view-volume points (B, N, 3)."""
        m = self.matrix()
        return points @ m[:, :, :3].transpose(1, 2) + m[:, None, :, 3]

    def inverse_apply(self, q: torch.Tensor) -> torch.Tensor:
        """View-volume points (B, N, 3) -> head-frame points (B, N, 3)."""
        t3 = torch.cat([self.translation, torch.zeros_like(self.translation[:, :1])], dim=1)
        return ((q - t3[:, None]) / self.scale[:, None, None]) @ self.rotation

    @staticmethod
    def cat(poses: list[Pose]) -> Pose:
        return Pose(*(torch.cat([getattr(p, k) for p in poses]) for k in ("rotation", "translation", "scale")))
