"""Stage 1 training: the motion generator against a patch discriminator, with the disentangling augmentations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dexbench.errors import DexbenchError
from dexbench.model.config import ModelConfig
from dexbench.model.motion.augment import eyes_mouth_mask, face_mask, luminance, mask_eyes_mouth, repose
from dexbench.model.motion.discriminator import (
    PatchDiscriminator,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.motion.glimpses import sample_glimpses
from dexbench.model.motion.part_landmarks import (
    PartLandmarker,
    grey_glimpses,
    patch_coordinates,
    position_error,
)
from dexbench.model.pose import Pose
from dexbench.model.training.frozen import frozen
from dexbench.model.training.stage1_config import check_stage1_config


def batch_poses(batch: dict[str, Any], which: str, frame: int | None = 0) -> Pose:
    sel = (lambda v: v[:, frame]) if which == "driving" and frame is not None else (lambda v: v)
    return Pose(sel(batch[f"{which}_rotation"]), sel(batch[f"{which}_translation"]), sel(batch[f"{which}_scale"]))


def pose_prior_loss(pred: Pose, target: Pose) -> torch.Tensor:
    """Squared Frobenius rotation error + L1 translation + L1 scale, against the shard's pose annotation."""
    rot = ((pred.rotation - target.rotation) ** 2).sum(dim=(1, 2)).mean()
    return rot + (pred.translation - target.translation).abs().sum(1).mean() + (pred.scale - target.scale).abs().mean()


def _resized(images: torch.Tensor, landmarks: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, S, S) frames and their (B, 68, 2) pixel landmarks at `size` (area resampling; as they are at S)."""
    if images.shape[-1] == size:
        return images, landmarks
    return F.interpolate(images, size=(size, size), mode="area"), landmarks * (size / images.shape[-1])


def _masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of a (B, 3, S, S) per-pixel error (absolute, or squared) inside a (B, 1, S, S) mask."""
    return (err * mask).sum() / (3 * mask.sum()).clamp(min=1.0)


class Stage1:
    name = "stage1"
    averaged = "motion"

    def __init__(self, cfg: ModelConfig, accelerator: Any) -> None:
        check_stage1_config(cfg)
        landmarks = cfg.loss.code_swap_readback == "landmarks"
        self.cfg, self.train_cfg, self.accelerator = cfg, cfg.stage1, accelerator
        self.G = MotionGenerator(cfg.motion)
        self.D = PatchDiscriminator(cfg.motion.discriminator_channels)
        tc = self.train_cfg
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr, betas=tc.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_discriminator, betas=tc.betas)
        # the code swap's geometric read-back and the landmark term's critic, trained beside the model on real frames
        self.landmarker = (
            PartLandmarker(len(cfg.motion.glimpse_anchors), cfg.motion.expression_targets)
            if landmarks or cfg.loss.landmarks > 0
            else None
        )
        self.part_D = PatchDiscriminator(cfg.motion.discriminator_channels) if cfg.loss.part_adversarial > 0 else None
        self.opt_pd = (
            torch.optim.Adam(self.part_D.parameters(), lr=tc.lr_discriminator, betas=tc.betas) if self.part_D else None
        )
        self.opt_l = (
            torch.optim.Adam(self.landmarker.parameters(), lr=tc.lr, betas=tc.betas) if self.landmarker else None
        )
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)
        m = cfg.motion
        # glimpses may be read at a higher resolution than the generator's (motion.glimpse_source_size): the loop
        # then loads frames at that size and forward() downsamples them for everything else
        self.data_size = max(
            cfg.data.size, m.glimpse_source_size if m.expression_input == "glimpses" else 0, m.output_size
        )
        self.perceptual = None
        if cfg.loss.perceptual > 0 or cfg.loss.face_perceptual > 0:
            from dexbench.model.perceptual import load_lpips_vgg

            self.perceptual = load_lpips_vgg()

    def models(self) -> dict[str, torch.nn.Module]:
        extra = {"landmarker": self.landmarker} if self.landmarker is not None else {}
        extra |= {"part_discriminator": self.part_D} if self.part_D is not None else {}
        return {"motion": self.G, "discriminator": self.D} | extra

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        extra = {"landmarker": self.opt_l} if self.opt_l is not None else {}
        extra |= {"part_discriminator": self.opt_pd} if self.opt_pd is not None else {}
        return {"motion": self.opt_g, "discriminator": self.opt_d} | extra

    def generators(self) -> dict[str, torch.Generator]:
        return {"augment": self.gen}

    def prepare(self, accelerator: Any) -> None:
        self.G, self.D, self.opt_g, self.opt_d = accelerator.prepare(self.G, self.D, self.opt_g, self.opt_d)
        if self.landmarker is not None:
            self.landmarker, self.opt_l = accelerator.prepare(self.landmarker, self.opt_l)
        if self.part_D is not None:
            self.part_D, self.opt_pd = accelerator.prepare(self.part_D, self.opt_pd)
        if self.perceptual is not None:
            self.perceptual = self.perceptual.to(accelerator.device)

    def forward(self, batch: dict[str, Any], G: torch.nn.Module | None = None) -> dict[str, Any]:
        """One pass of the generator (`G`: the prepared, possibly DDP-wrapped model unless given)."""
        G = self.G if G is None else G
        dev = next(G.parameters()).device
        src_full, drv_full = batch["source"].to(dev), batch["driving"][:, 0].to(dev)
        lm_s_full, lm_d_full = batch["source_landmarks"].to(dev), batch["driving_landmarks"][:, 0].to(dev)
        # frames may be loaded larger (glimpses, output size): the generator works at image_size, pred at output_size
        size, out_size = self.cfg.motion.image_size, self.cfg.motion.output_size or self.cfg.motion.image_size
        src, lm_s = _resized(src_full, lm_s_full, size)
        drv, lm_d = _resized(drv_full, lm_d_full, size)
        src_out, lm_s_out = _resized(src_full, lm_s_full, out_size)
        drv_out, lm_d_out = _resized(drv_full, lm_d_full, out_size)
        aug = self.cfg.augment
        pose_in = torch.cat([src, drv])
        if aug.mask_eyes_mouth:
            pose_in = mask_eyes_mouth(pose_in, torch.cat([lm_s, lm_d]))
        jitter = None
        if self.cfg.motion.expression_input == "glimpses":
            expr_in = drv_full
            u = torch.rand(src.shape[0], 3, generator=self.gen) * 2 - 1
            jitter = (u * aug.glimpse_jitter).to(dev)
            if self.cfg.loss.code_swap_grey:  # the encoder must read grey renderings in the code swap's read-back
                grey = (torch.rand(src.shape[0], generator=self.gen) < 0.5).to(dev)[:, None, None, None]
                expr_in = torch.where(grey, luminance(expr_in), expr_in)
        else:
            expr_in = repose(drv, self.gen, aug.repose_degrees, aug.repose_scale, aug.repose_shift)
        lc = self.cfg.loss
        staged_too = lc.code_swap > 0 or lc.keep_expression > 0  # the losses that decode the source again
        pred, rs, ts, ss, rd, td, sd, code, readout, *staged = G(src, pose_in, expr_in, jitter, src_out, staged_too)
        pose_d = Pose(rd, td, sd)
        return {
            "code": code,
            "readout": readout,
            "pred": pred,
            "target": drv_out,  # at output_size, as pred
            "pose_s": Pose(rs, ts, ss),
            "pose_d": pose_d,
            "lm_d": lm_d_out,  # at output_size
            "lm_s": lm_s_out,
            "src": src,  # at image_size (the generator's input)
            "src_out": src_out,  # at output_size (render()'s source_hi)
            "src_full": src_full,  # at the glimpse resolution (what the expression encoder reads)
            "jitter": jitter,  # the glimpse placement jitter of the drivers' glimpses (None without glimpses)
            # the source staged at the driving pose, decoded again with other codes; its pose is the one returned
            # (under bf16 autocast accelerate casts the returned tensors to float32, but not those in a Pose)
            "staged": staged[0]._replace(driving_pose=pose_d) if staged else None,
        }

    def step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        lc = self.cfg.loss
        out = self.forward(batch)
        pred, target = out["pred"], out["target"]
        dev = pred.device
        err = (pred - target).abs()
        mask = face_mask(out["lm_d"], pred.shape[-1])
        losses = {"l1": err.mean(), "face_l1": _masked_mean(err, mask)}
        if lc.expression_l1 > 0 or lc.expression_l2 > 0:
            # eyes and mouth of the driver: a few percent of the pixels, yet all the expression signal there is
            parts = eyes_mouth_mask(out["lm_d"], pred.shape[-1])
            if lc.expression_l1 > 0:
                losses["expression_l1"] = _masked_mean(err, parts)
            if lc.expression_l2 > 0:
                losses["expression_l2"] = _masked_mean(err**2, parts)
        if lc.expression_prior > 0:
            target_expr = batch["driving_expression"][:, 0].to(dev)
            if out["readout"].shape[1] != target_expr.shape[1]:
                raise DexbenchError(
                    f"loss.expression_prior: the shards annotate {target_expr.shape[1]} expression parameters but "
                    f"motion.expression_targets is {out['readout'].shape[1]}",
                    "set motion.expression_targets to the annotation's length (or loss.expression_prior to 0)",
                )
            losses["expression_prior"] = ((out["readout"] - target_expr) ** 2).sum(1).mean()
        swapped = None
        if lc.code_swap > 0:
            losses["code_swap"], swapped = self._code_swap(out, batch["driving_expression"][:, 0].to(dev))
        if lc.source_recon > 0:
            losses["source_recon"] = self._source_recon(out)
        if lc.landmarks > 0:
            losses["landmarks"] = self._landmark_loss(out)
        if lc.keep_expression > 0:
            losses["keep_expression"] = self._keep_expression(out, batch["source_expression"].to(dev))
        gt = Pose(*(batch[f"driving_{k}"][:, 0].to(dev) for k in ("rotation", "translation", "scale")))
        gs = Pose(*(batch[f"source_{k}"].to(dev) for k in ("rotation", "translation", "scale")))
        losses["pose_prior"] = 0.5 * (pose_prior_loss(out["pose_d"], gt) + pose_prior_loss(out["pose_s"], gs))
        if self.perceptual is not None:
            losses["lpips_vgg"] = self.perceptual(pred, target).mean()
            losses["face_lpips_vgg"] = self.perceptual(pred * mask, target * mask).mean()
        use_adv = lc.adversarial > 0 and step > lc.adversarial_start
        if use_adv:
            # the unwrapped D: no gradient reaches it here, and under DDP a wrapped forward whose backward
            # produces no gradient leaves its reducer waiting for one
            D = self.accelerator.unwrap_model(self.D)
            with frozen(D):
                if lc.feature_matching > 0:
                    fake = D.features(pred)
                    with torch.no_grad():
                        real = D.features(target)
                    losses["adv_g"] = generator_loss(fake[-1])
                    losses["feature_matching"] = feature_matching_loss(fake, real)
                else:
                    losses["adv_g"] = generator_loss(D(pred))
                if lc.code_swap_adversarial > 0:
                    losses["adv_swap"] = generator_loss(D(swapped))
        use_part = self.part_D is not None and step > lc.adversarial_start
        if use_part:
            # the glimpses of the fakes are sampled once: the discriminator's step reads them detached
            fakes, poses = (pred, out["pose_d"]) if swapped is None else self._with_swapped(pred, swapped, out)
            fake_parts = self._parts(fakes, poses)
            with frozen(D := self.accelerator.unwrap_model(self.part_D)):
                losses["part_adv_g"] = generator_loss(D(fake_parts))
        weights = {
            "l1": lc.l1,
            "face_l1": lc.face_l1,
            "pose_prior": lc.pose_prior,
            "expression_l1": lc.expression_l1,
            "expression_l2": lc.expression_l2,
            "expression_prior": lc.expression_prior,
            "code_swap": lc.code_swap,
            "keep_expression": lc.keep_expression,
            "source_recon": lc.source_recon,
            "landmarks": lc.landmarks,
            "lpips_vgg": lc.perceptual,
            "face_lpips_vgg": lc.face_perceptual,
            "adv_g": lc.adversarial,
            "adv_swap": lc.code_swap_adversarial,
            "feature_matching": lc.feature_matching,
            "part_adv_g": lc.part_adversarial,
        }
        total = sum(weights[k] * v for k, v in losses.items())
        self.opt_g.zero_grad(set_to_none=True)
        self.accelerator.backward(total)
        self.opt_g.step()
        logs = {k: float(v.detach()) for k, v in losses.items()}
        logs["total_g"] = float(total.detach())
        if self.landmarker is not None:
            logs |= self._train_landmarker(out, batch["driving_expression"][:, 0].to(dev))
        if use_part:
            real_parts = self._parts(target, out["pose_d"])
            logs["part_adv_d"] = self._discriminator_step(self.part_D, self.opt_pd, real_parts, fake_parts.detach())
        elif self.part_D is not None:
            logs["part_adv_g"] = logs["part_adv_d"] = float("nan")
        if use_adv:
            fake = torch.cat([pred.detach(), swapped.detach()]) if lc.code_swap_adversarial > 0 else pred.detach()
            logs["adv_d"] = self._discriminator_step(self.D, self.opt_d, target, fake)
        else:
            logs["adv_g"] = logs["adv_d"] = float("nan")
            if lc.feature_matching > 0:
                logs["feature_matching"] = float("nan")
            if lc.code_swap_adversarial > 0:
                logs["adv_swap"] = float("nan")
        return {k: logs[k] for k in sorted(logs)}

    def _discriminator_step(
        self, D: torch.nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor
    ) -> float:
        """One step of a discriminator (the wrapped one: under DDP its gradients are averaged) on detached fakes;
        returns its loss."""
        d_loss = discriminator_loss(D(real), D(fake))
        opt.zero_grad(set_to_none=True)
        self.accelerator.backward(d_loss)
        opt.step()
        return float(d_loss.detach())

    def _code_swap(self, out: dict[str, Any], target_expr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render source i at its driving pose with sample i+1's code (another clip, usually another identity),
        read the expression back from the rendering's glimpses and regress it to sample i+1's annotation. The
        read-back (the encoder and head, or the part landmarker) is frozen on this path: only the renderer is pushed
        to draw the code legibly. Returns the loss and the renderings (for loss.code_swap_adversarial)."""
        G = self.accelerator.unwrap_model(self.G)  # the config was checked in __init__
        code, target = out["code"].detach().roll(1, dims=0), target_expr.roll(1, dims=0)
        k = math.ceil(self.cfg.loss.code_swap_fraction * len(code))
        if k < len(code):  # the first k sources only
            code, target = code[:k], target[:k]
            out = out | {"staged": out["staged"].first(k), "pose_d": out["pose_d"].index(slice(0, k))}
        if self.cfg.loss.code_swap_readback == "landmarks":
            pred = G.decode(out["staged"], code)
            read = self._landmarker_sees(G, pred, out["pose_d"])[1]
            return ((read - target) ** 2).sum(1).mean(), pred
        return self._drawn_code_loss(G, out, code, target, grey=self.cfg.loss.code_swap_grey)

    def _landmarker_sees(
        self, G: MotionGenerator, images: torch.Tensor, pose: Pose
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Where the part landmarker finds the landmarks in rendered images' grey glimpses at `pose` (detached),
        and the expression it reads from them; the landmarker frozen (the gradient reaches only the renderer)."""
        L = self.accelerator.unwrap_model(self.landmarker)
        glimpses = grey_glimpses(images, pose.detach(), G.anchors, G.extents, self.cfg.motion.glimpse_size)
        with frozen(L):
            found = L.locate(glimpses)
            return found, L.read(found)

    def _landmark_loss(self, out: dict[str, Any]) -> torch.Tensor:
        """loss.landmarks: L1 between the landmarks found in the reconstruction and the driver's exact ones, in
        glimpse units, over the points inside their glimpse."""
        G = self.accelerator.unwrap_model(self.G)
        pred, pose = out["pred"], out["pose_d"]
        found = self._landmarker_sees(G, pred, pose)[0]
        return position_error(
            found, patch_coordinates(out["lm_d"], pred.shape[-1], pose.detach(), G.anchors, G.extents)
        )

    def _train_landmarker(self, out: dict[str, Any], target_expr: torch.Tensor) -> dict[str, float]:
        """One step of the part landmarker on the real drivers, at the output size the renderings have, glimpsed
        where (and with the jitter) the expression encoder read them: L1 of the landmark positions that lie inside
        their glimpse, and the linear read-out's squared error from the true positions. Logged: the mean landmark
        error in glimpse pixels, and the read-out's error from the landmarks the landmarker found."""
        G = self.accelerator.unwrap_model(self.G)
        pose = out["pose_d"].detach()
        images, size = out["target"].detach(), self.cfg.motion.glimpse_size
        glimpses = grey_glimpses(images, pose, G.anchors, G.extents, size, out["jitter"])
        true = patch_coordinates(out["lm_d"], images.shape[-1], pose, G.anchors, G.extents, out["jitter"])
        found, read = self.landmarker(glimpses, true.clamp(-1.0, 1.0))
        position = position_error(found, true)
        expression = ((read - target_expr) ** 2).sum(1).mean()
        self.opt_l.zero_grad(set_to_none=True)
        self.accelerator.backward(position + expression)
        self.opt_l.step()
        with torch.no_grad():
            L = self.accelerator.unwrap_model(self.landmarker)
            found_read = ((L.read(found.detach()) - target_expr) ** 2).sum(1).mean()
        return {
            "landmarker_px": float(position.detach()) * size / 2,
            "landmarker_expression": float(found_read),
        }

    @staticmethod
    def _with_swapped(pred: torch.Tensor, swapped: torch.Tensor, out: dict[str, Any]) -> tuple[torch.Tensor, Pose]:
        """The reconstructions and the code-swap renderings (the batch's first len(swapped) sources) as one batch,
        with the driving pose of each."""
        pose = out["pose_d"]
        return torch.cat([pred, swapped]), Pose.cat([pose, pose.index(slice(0, swapped.shape[0]))])

    def _parts(self, images: torch.Tensor, pose: Pose) -> torch.Tensor:
        """(B, 3, S, S) images' eye and mouth glimpses at their poses (detached), each part its own 3-channel image:
        (B P, 3, g, g), what the part discriminator judges."""
        G = self.accelerator.unwrap_model(self.G)
        g = sample_glimpses(images, pose.detach(), G.anchors, G.extents, self.cfg.motion.glimpse_size)
        return g.reshape(-1, 3, g.shape[-2], g.shape[-1])

    def _keep_expression(self, out: dict[str, Any], source_expr: torch.Tensor) -> torch.Tensor:
        """The pose-only edit of training: source i at its driver's pose with the source's own code (encoded from
        the source frame, detached), read back at that pose and regressed to the source's annotation, so a pose
        change alone does not move the expression drawn."""
        G = self.accelerator.unwrap_model(self.G)  # the config was checked in __init__
        with torch.no_grad():
            own = G.encode_expression(out["src_full"], out["pose_s"])
        return self._drawn_code_loss(G, out, own, source_expr)[0]

    def _drawn_code_loss(
        self, G: MotionGenerator, out: dict[str, Any], code: torch.Tensor, target: torch.Tensor, grey: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each source rendered at its driving pose with `code`; the frozen read-back of that rendering (of its
        luminance if `grey`) against `target`: squared error summed over the expression parameters, mean over the
        batch. Returns the loss and the renderings."""
        pred = G.decode(out["staged"], code)
        read = self._read_back(G, luminance(pred) if grey else pred, out["pose_d"])
        return ((read - target) ** 2).sum(1).mean(), pred

    def _source_recon(self, out: dict[str, Any]) -> torch.Tensor:
        """The source re-rendered at its own pose with its own code (the encoder trains on this path too) against
        the source frame: L1 plus L1 inside its eyes and mouth."""
        G = self.accelerator.unwrap_model(self.G)
        pose_s = out["pose_s"]
        pred = G.render(out["src"], pose_s, pose_s, G.encode_expression(out["src_full"], pose_s), out["src_out"])
        err = (pred - out["src_out"]).abs()
        return err.mean() + _masked_mean(err, eyes_mouth_mask(out["lm_s"], pred.shape[-1]))

    @staticmethod
    def _read_back(G: MotionGenerator, images: torch.Tensor, pose: Pose) -> torch.Tensor:
        """The expression head's read-out of rendered images' glimpses at `pose`, the encoder and head frozen (the
        gradient reaches only the renderer)."""
        with frozen(G.expression_encoder, G.expression_head):
            return G.expression_head(G.encode_expression(images, pose))

    @torch.no_grad()
    def samples(self, batch: dict[str, Any]) -> np.ndarray:
        from dexbench.model.training.loop import save_grid

        n = min(8, batch["source"].shape[0])
        sub = {k: v[:n] if isinstance(v, torch.Tensor | list) else v for k, v in batch.items()}
        train_gen, self.gen = self.gen, torch.Generator().manual_seed(0)  # samples must not consume training RNG
        try:  # the unwrapped G: only the main process draws samples, so no DDP collective may run here
            out = self.forward(sub, self.accelerator.unwrap_model(self.G))
        finally:
            self.gen = train_gen
        return save_grid([out["src_out"], out["target"], out["pred"]], self.samples_path)  # type: ignore[attr-defined]
