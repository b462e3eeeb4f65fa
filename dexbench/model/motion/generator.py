"""Warp the source volume by the relative pose, fuse, flatten, and decode with AdaIN(appearance ⊕ expression)."""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from dexbench.model.config import MotionConfig
from dexbench.model.motion.blocks import ResBlock3d, StyledBlock, cat_channels, channels_last
from dexbench.model.motion.encoders import (
    AppearanceEncoder,
    ExpressionEncoder,
    GlimpseExpressionEncoder,
    PoseEncoder,
)
from dexbench.model.motion.glimpses import part_mask, paste_parts, sample_glimpses
from dexbench.model.pose import Pose
from dexbench.model.warp import move_image, warp_image, warp_image_ellipsoid, warp_volume


class StagedSource(NamedTuple):
    """A source encoded, warped to its driving poses and fused: what render() draws, before the expression code."""

    volume: torch.Tensor  # the fused volume, flattened: (B, C*D, S, S)
    features: torch.Tensor  # the source's 2-D features
    appearance: torch.Tensor  # the appearance code
    image: torch.Tensor | None  # the source image warped by the relative pose (image_skip)
    image_hi: torch.Tensor | None  # the same at output_size (when that exceeds image_size)
    driving_pose: Pose

    def first(self, k: int) -> StagedSource:
        """The first k sources of the batch, staged as they were."""
        tensors = (None if x is None else x[:k] for x in self[:-1])  # every field but the pose
        return StagedSource(*tensors, self.driving_pose.index(slice(0, k)))


class PartCanvas(nn.Module):
    """Expression code -> one (C, 16, 16) feature patch per glimpse part, in the glimpses' head-frame layout."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        self.parts, self.channels = len(cfg.glimpse_anchors), cfg.part_canvas
        c = self.channels
        self.fc = nn.Linear(cfg.expression_dim, self.parts * c * 16)
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
            nn.Conv2d(c, c, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
            nn.Conv2d(c, c, 3, padding=1),
        )

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        b = code.shape[0]
        h = F.leaky_relu(self.fc(code), 0.2).reshape(b * self.parts, self.channels, 4, 4)
        return self.up(h).reshape(b, self.parts, self.channels, 16, 16)


class Decoder(nn.Module):
    """Flattened volume (C*D x S x S) -> image, every stage AdaIN-modulated by the style code.

    The source's 2-D features join at the first stage (the paper injects them at its decoder's 4th layer).
    """

    def __init__(self, cfg: MotionConfig, feat_channels: int) -> None:
        super().__init__()
        style = cfg.appearance_dim + cfg.expression_dim
        c = cfg.decoder_channels
        self.inp = nn.Conv2d(cfg.volume_channels * cfg.volume_depth + feat_channels, c[0], 3, padding=1)
        self.stages = nn.ModuleList([StyledBlock(c[0], c[0], style, upsample=False)])
        for cin, cout in itertools.pairwise(c):
            self.stages.append(StyledBlock(cin, cout, style, upsample=True))
        extra = (3 if cfg.image_skip else 0) + cfg.part_canvas
        self.skip = nn.Conv2d(c[-1] + extra, c[-1], 3, padding=1) if extra else None
        self.to_rgb = nn.Conv2d(c[-1], 3, 1)
        # skip_blend: a per-pixel mask chooses between the warped source image and the decoder's own colours (an
        # occlusion-mask-style output, as in FOMM / LivePortrait's stitching); zero init = an even blend
        self.blend = nn.Conv2d(c[-1], 1, 3, padding=1) if cfg.image_skip and cfg.skip_blend else None
        if self.blend is not None:
            nn.init.zeros_(self.blend.weight)
            nn.init.zeros_(self.blend.bias)
        # skip_flow: a smooth 2-D flow (normalised units, |flow| <= skip_flow) moving the warped source image's pixels
        # before the skip; zero init = no move
        self.flow_limit = cfg.skip_flow
        self.flow = nn.Conv2d(c[-1], 2, 3, padding=1) if cfg.image_skip and cfg.skip_flow > 0 else None
        if self.flow is not None:
            nn.init.zeros_(self.flow.weight)
            nn.init.zeros_(self.flow.bias)

    def forward(
        self,
        flat: torch.Tensor,
        feat: torch.Tensor,
        style: torch.Tensor,
        warped_image: torch.Tensor | None = None,
        canvas: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The image, the last stage's features and the skip flow (B, 2, S, S; None without skip_flow)."""
        h = self.inp(cat_channels([flat, feat]))
        for stage in self.stages:
            h = stage(h, style)
        flow = None
        if self.flow is not None and warped_image is not None:
            kernel = 5  # a smooth field: lips and lids move as regions, not pixel by pixel
            raw = F.avg_pool2d(self.flow(h), kernel, stride=1, padding=kernel // 2, count_include_pad=False)
            flow = self.flow_limit * torch.tanh(raw)
            warped_image = move_image(warped_image, flow)
        if self.skip is not None:
            extra = [x for x in (warped_image, canvas) if x is not None]
            h = h + F.leaky_relu(self.skip(cat_channels([h, *extra])), 0.2)
        rgb = torch.tanh(self.to_rgb(h))
        if self.blend is None:
            return rgb, h, flow
        m = torch.sigmoid(self.blend(h))
        return m * warped_image + (1.0 - m) * rgb, h, flow


class HiResHead(nn.Module):
    """The 2x output stage (motion.output_size): upsampled features + the image + the source warped at 2x (moved by
    the upsampled skip flow) -> a residual on the upsampled image; zero init = the upsampled image."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        c = cfg.decoder_channels[-1]
        self.body = nn.Sequential(nn.Conv2d(c + 6, c, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, rgb: torch.Tensor, h: torch.Tensor, warped_hi: torch.Tensor) -> torch.Tensor:
        size = warped_hi.shape[-2:]
        up_rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False)
        up_h = F.interpolate(h, size=size, mode="bilinear", align_corners=False)
        return up_rgb + self.out(self.body(cat_channels([up_h, warped_hi, up_rgb])))


class MotionGenerator(nn.Module):
    """The stage-1 model: encoders + relative-pose warp + AdaIN decoder. Images in [-1, 1], (B, 3, S, S)."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        n_up = len(cfg.decoder_channels) - 1
        if cfg.volume_size * 2**n_up != cfg.image_size:
            raise ValueError("motion config: volume_size * 2**(len(decoder_channels) - 1) must equal image_size")
        if cfg.output_size not in (0, cfg.image_size, 2 * cfg.image_size) or (
            cfg.output_size == 2 * cfg.image_size and not cfg.image_skip
        ):
            raise ValueError("motion config: output_size must be 0, image_size or 2 x image_size (with image_skip)")
        if cfg.skip_radii and (len(cfg.skip_radii) != 3 or min(cfg.skip_radii) <= 0):
            raise ValueError("motion config: skip_radii must be empty (the mid-plane) or three positive half axes")
        self.cfg = cfg
        self.pose_encoder = PoseEncoder(cfg)
        if cfg.expression_input not in ("image", "glimpses"):
            raise ValueError(f"motion.expression_input must be image or glimpses, not {cfg.expression_input!r}")
        self.glimpses = cfg.expression_input == "glimpses"
        self.expression_encoder = GlimpseExpressionEncoder(cfg) if self.glimpses else ExpressionEncoder(cfg)
        # glimpse geometry comes from the config; not persistent, so checkpoints hold only learned weights
        self.register_buffer("anchors", torch.tensor(cfg.glimpse_anchors, dtype=torch.float32), persistent=False)
        self.register_buffer("extents", torch.tensor(cfg.glimpse_extents, dtype=torch.float32), persistent=False)
        self.appearance_encoder = AppearanceEncoder(cfg)
        self.fuse = ResBlock3d(2 * cfg.volume_channels, cfg.volume_channels)
        feat_channels = self.appearance_encoder.lift.in_channels
        self.decoder = Decoder(cfg, feat_channels)
        self.part_canvas = PartCanvas(cfg) if cfg.part_canvas else None
        self.output_size = cfg.output_size or cfg.image_size
        self.hires = HiResHead(cfg) if self.output_size != cfg.image_size else None
        # auxiliary read-out of the annotated expression parameters (training only; see loss.expression_prior)
        self.expression_head = nn.Linear(cfg.expression_dim, cfg.expression_targets) if cfg.expression_targets else None
        channels_last(self)

    def encode_expression(
        self, images: torch.Tensor, pose: Pose | None = None, jitter: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Expression codes of driving frames (B, 3, H, W). `image` input: the frames themselves (any re-posing
        augmentation is the caller's). `glimpses`: eye + mouth glimpses where `pose` (the pose encoder's estimate of
        these frames, detached; estimated here from the unmasked frames if None) puts them; H may exceed image_size.
        """
        if not self.glimpses:
            return self.expression_encoder(images)
        if pose is None:
            pose = self.pose_encoder(self._at_model_size(images))
        pose = Pose(pose.rotation.detach(), pose.translation.detach(), pose.scale.detach())
        g = sample_glimpses(images, pose, self.anchors, self.extents, self.cfg.glimpse_size, jitter)
        return self.expression_encoder(g)

    def _at_model_size(self, images: torch.Tensor) -> torch.Tensor:
        s = self.cfg.image_size
        if images.shape[-1] == s:
            return images
        return F.interpolate(images, size=(s, s), mode="area" if images.shape[-1] > s else "bilinear")

    def _warp_source(self, image: torch.Tensor, source_pose: Pose, driving_pose: Pose) -> torch.Tensor:
        """The image skip's warp of the source: as the head's mid-plane, or as the ellipsoid `skip_radii` names."""
        radii = self.cfg.skip_radii
        if not radii:
            return warp_image(image, source_pose, driving_pose)
        return warp_image_ellipsoid(image, source_pose, driving_pose, (radii[0], radii[1], radii[2]))

    def render(
        self,
        source: torch.Tensor,
        source_pose: Pose,
        driving_pose: Pose,
        expression: torch.Tensor,
        source_hi: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The source's identity in `driving_pose` with `expression` (a code from the expression encoder), at
        output_size. `source_hi`: the source at output_size when that exceeds image_size (else upsampled here)."""
        return self.decode(self.stage_source(source, source_pose, driving_pose, source_hi), expression)

    def stage_source(
        self, source: torch.Tensor, source_pose: Pose, driving_pose: Pose, source_hi: torch.Tensor | None = None
    ) -> StagedSource:
        """Everything of render() that does not depend on the expression code: the source encoded, warped to
        `driving_pose` and fused; the skip's warped source images. Decoded with several codes, it is computed once."""
        vol, app, feat = self.appearance_encoder(source)
        n = len(driving_pose) // len(vol)
        if n != 1:  # one source, many driving frames
            vol, app, feat, source = (x.repeat_interleave(n, dim=0) for x in (vol, app, feat, source))
            source_pose = source_pose.repeat_interleave(n)
        warped = warp_volume(vol, source_pose, driving_pose)
        fused = self.fuse(torch.cat([vol, warped], dim=1))
        b, c, d, h, w = fused.shape
        image = self._warp_source(source, source_pose, driving_pose) if self.cfg.image_skip else None
        if image is not None and self.cfg.skip_mask_parts:
            image = image * (1.0 - part_mask(driving_pose, self.anchors, self.extents, image.shape[-1]))
        warped_hi = None
        if self.hires is not None:
            size = self.output_size
            if source_hi is None or source_hi.shape[-1] != size:
                source_hi = F.interpolate(source, size=(size, size), mode="bicubic", align_corners=False)
            elif n != 1:
                source_hi = source_hi.repeat_interleave(n, dim=0)
            warped_hi = self._warp_source(source_hi, source_pose, driving_pose)
        return StagedSource(fused.reshape(b, c * d, h, w), feat, app, image, warped_hi, driving_pose)

    def decode(self, staged: StagedSource, expression: torch.Tensor) -> torch.Tensor:
        """A staged source drawn with `expression`: render()'s second half."""
        canvas = None
        if self.part_canvas is not None:
            size = self.cfg.image_size
            canvas = paste_parts(self.part_canvas(expression), staged.driving_pose, self.anchors, self.extents, size)
        style = torch.cat([staged.appearance, expression], dim=1)
        rgb, feats, flow = self.decoder(staged.volume, staged.features, style, staged.image, canvas)
        if self.hires is None:
            return rgb
        warped_hi = staged.image_hi
        if flow is not None:
            warped_hi = move_image(warped_hi, flow)
        return self.hires(rgb, feats, warped_hi)

    def forward(
        self,
        source: torch.Tensor,
        pose_input: torch.Tensor,
        expression_input: torch.Tensor,
        glimpse_jitter: torch.Tensor | None = None,
        source_hi: torch.Tensor | None = None,
        return_staged: bool = False,
    ) -> tuple[Any, ...]:
        """Training pass (through DDP when wrapped): pose_input = [source; driving] views, B each; expression_input =
        the driving views the expression encoder reads (`glimpses`: at their own resolution, placed by the pose
        encoder's driving pose, detached, plus `glimpse_jitter`); source_hi = the source at output_size (see render).

        Returns the prediction, both poses as plain tensors, the expression code and the auxiliary head's read-out
        of it (inside forward so that DDP sees every parameter used; (B, 0) without a head):
        (pred, R_s, t_s, s_s, R_d, t_d, s_d, z_d, expression_readout), and with `return_staged` the staged source
        (stage_source) as a tenth element, for decoding the same source at the same poses with other codes.
        """
        b = source.shape[0]
        poses = self.pose_encoder(pose_input)
        pose_s, pose_d = poses.index(slice(0, b)), poses.index(slice(b, 2 * b))
        code = self.encode_expression(expression_input, pose_d, glimpse_jitter)
        staged = self.stage_source(source, pose_s, pose_d, source_hi)
        pred = self.decode(staged, code)
        out = (
            pred,
            pose_s.rotation,
            pose_s.translation,
            pose_s.scale,
            pose_d.rotation,
            pose_d.translation,
            pose_d.scale,
            code,
            self.expression_head(code) if self.expression_head is not None else code[:, :0],
        )
        return (*out, staged) if return_staged else out
