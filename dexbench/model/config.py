"""Model + training configuration (reference_model/<name>.yaml), as dataclasses with the tiny sizes as defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from dexbench.errors import InputFileError
from dexbench.io.strict_yaml import safe_load_strict, yaml_problem


@dataclass
class DataConfig:
    shards: str = "datasets/synthheads/shards"
    split: str = "train"
    size: int = 64
    pairs_per_clip: int = 4
    buffer: int = 64
    num_workers: int = 0
    # expression-contrast pairs (tiny): > 1 = the source is the most expression-different (by the shards'
    # expression annotation) of this many random frames of the driver's clip; 0 = a uniformly random frame (paper)
    source_contrast: int = 0
    # the probability that a pair's source comes from another clip of the driver's identity in the same row group
    # (SynthHeads renders two per identity, sharded together), for both stages' pairs: same-clip pairs turn the
    # head a few degrees, cross-reenactment several times that (tiny: 0.2, reference_model/README.md); a clip
    # with no sibling in its row group keeps same-clip pairs
    cross_clip: float = 0.0


@dataclass
class MotionConfig:
    """Stage 1 network sizes (full size per the paper: expression 512, volume 32 x 16 x 64 x 64, style 2048)."""

    image_size: int = 64
    encoder_channels: tuple[int, ...] = (16, 32, 64, 64)
    expression_dim: int = 64
    appearance_dim: int = 64
    feature_channels: int = 32
    volume_channels: int = 8
    volume_depth: int = 8
    volume_size: int = 16
    decoder_channels: tuple[int, ...] = (64, 32, 16)
    discriminator_channels: tuple[int, ...] = (16, 32, 64)
    # annotated expression parameters an auxiliary linear head reads from the expression code (loss.expression_prior;
    # 0 = no head). SynthHeads annotates 5 (jaw_open, smile, blink_left, blink_right, brow_raise).
    expression_targets: int = 0
    # also warp the source image itself (as the surface skip_radii names) by the relative pose and fuse it at the
    # decoder's last stage: full-resolution texture past the 16^3 volume (tiny's deviation; reference_model/README.md)
    image_skip: bool = False
    # what the expression encoder reads: `image` (the whole re-posed driving frame; the paper's FAN on aligned
    # faces) or `glimpses` (tiny: pose-normalised eye + mouth patches, dexbench/model/motion/glimpses.py, sampled
    # where the pose encoder's estimate of the driver's pose puts these head-frame patches)
    expression_input: str = "image"
    glimpse_size: int = 24  # pixels per glimpse side
    # patch centres in the head frame (x right, y down, z toward the back; head units): subject-right eye,
    # left eye, mouth. Least-squares fits of the eye-corner / mouth landmark centres on SynthHeads ground truth
    # (eyes lowered to take the brows in); another dataset's head frame needs its own
    glimpse_anchors: tuple[tuple[float, float, float], ...] = (
        (-0.42, -0.12, -0.93),
        (0.42, -0.12, -0.93),
        (0.0, 0.88, -0.85),
    )
    glimpse_extents: tuple[float, ...] = (0.36, 0.36, 0.52)  # half side lengths of the patches (head units)
    # frames are read at this size for the glimpses (0 = image_size): normalised coordinates make the glimpses
    # resolution-independent, so they can see eyes and mouth at the dataset's crop size
    glimpse_source_size: int = 0
    # blank the glimpse regions (eyes, mouth; at the driver's estimated pose) of the warped source image before
    # the decoder's image skip, so that the decoder cannot copy the source's eyes and mouth past the code
    skip_mask_parts: bool = False
    # output = mask * warped source image + (1 - mask) * decoded colours (a predicted per-pixel mask) instead of
    # decoding the colours alone: the face plane keeps the source's full-resolution texture (tiny; needs image_skip)
    skip_blend: bool = False
    # channels of the part canvas (0 = off; tiny): the expression code is also decoded into one small feature patch
    # per glimpse part, drawn into the image at the driving pose (glimpses.paste_parts) and fused at the decoder's
    # last stage, so the code acts where the eyes and mouth are rather than only through global AdaIN statistics
    part_canvas: int = 0
    # the decoder also predicts a smooth 2-D flow (from its AdaIN-modulated features, zero at init) that moves the
    # warped source image's pixels before the image skip, so the code can move lips, jaw and lids of the source
    # instead of having to paint over them (the expression deformation of FOMM / LivePortrait-style reenactment)
    skip_flow: float = 0.0
    # the image skip's face surface: () = the head's mid-plane (z = 0); three half axes (head units) = the camera-
    # facing half of an ellipsoid around the head centre, so that the warped source image nods and turns with the
    # head instead of only foreshortening (warp.warp_image_ellipsoid; README.md)
    skip_radii: tuple[float, ...] = ()
    # output resolution (0 = image_size; else 2 x image_size, needs image_skip): a last stage at twice the size fuses
    # the decoder's features with the source warped at that size (moved by the upsampled skip_flow), so eyes and
    # mouth keep the crops' sharpness; the losses and the discriminator work at this size
    output_size: int = 0


@dataclass
class LossConfig:
    l1: float = 10.0
    face_l1: float = 10.0  # L1 inside the landmark face mask (stands in for the paper's face-masked LPIPS at tiny)
    perceptual: float = 0.0  # LPIPS-VGG; needs user-supplied VGG16 weights (see reference_model/README.md)
    face_perceptual: float = 0.0
    adversarial: float = 0.1
    # pix2pixHD / FOMM feature matching: L1 between the patch discriminator's activations on output and target, a
    # learned perceptual term where LPIPS-VGG's weights are missing (from adversarial_start, like the GAN term)
    feature_matching: float = 0.0
    pose_prior: float = 1.0  # regress the pose encoder toward the shard's pose annotation (0 = self-supervised)
    expression_l1: float = 0.0  # L1 inside the driver's eyes + mouth ellipses: where expression lives in the image
    # squared error inside the same ellipses (per-pixel optimum the mean, not L1's median). Tried in place of
    # expression_l1 against the narrow mouth, off: it did not widen it and cost expression (README.md)
    expression_l2: float = 0.0
    expression_prior: float = 0.0  # regress the expression annotation from the code (needs motion.expression_targets)
    # code-swap cycle (tiny): render each source with another sample's expression code (another identity), read the
    # expression back from the output's glimpses with the encoder and head frozen, and regress it to that sample's
    # annotation, so the decoder must draw the code rather than copy the source's eyes and mouth (needs the head)
    code_swap: float = 0.0
    # the share of each batch the code swap renders (its first ceil(fraction x B) samples): the swap's second decode,
    # read-back and backward are about a third of a tiny step, half of them far less (README.md); 1.0 = all of it
    code_swap_fraction: float = 1.0
    # the GAN term on the code-swap renderings too (needs code_swap and adversarial): the discriminator also sees
    # them as fakes, against codes signalled to the frozen read-back in colours no face has. Tried, off (README.md)
    code_swap_adversarial: float = 0.0
    # the code-swap read-back sees the rendering's luminance only, and the expression encoder reads half of its
    # training drivers in grey so it can: a code cannot then be signalled to the read-back in hue (the red brows of
    # README.md's sample grids); needs code_swap
    code_swap_grey: bool = False
    # what reads the code-swap renderings back: `encoder` (the model's own expression encoder and head, frozen on
    # that path) or `landmarks` (a part landmarker trained beside the model on real frames' exact landmarks, whose
    # landmark positions alone give the expression parameters: motion/part_landmarks.py; needs the shards'
    # landmarks). `landmarks` was tried on two seeds: no better, so tiny keeps `encoder` (README.md)
    code_swap_readback: str = "encoder"
    # L1 between where the part landmarker finds the brows, eyes and mouth in the reconstruction's grey glimpses and
    # where the driver's exact landmarks are (glimpse units, points inside their glimpse; the landmarker frozen on
    # this path): a geometric reconstruction term, since pixel L1 at 64 px barely sees a lip corner drawn short.
    # Tried at 10 on two seeds, off: worse on expression and pose-only leakage (README.md)
    landmarks: float = 0.0
    # a second patch discriminator on the eye and mouth glimpses (each part a 3-channel image, at the driver's
    # estimated pose) of the reconstructions and, with code_swap, of the code-swap renderings: the benchmark's
    # landmarker reads a softer mouth as a narrower one and softer lids as closing (README.md), and a whole-image
    # discriminator spends little of itself on a few hundred pixels. From adversarial_start, like the GAN term.
    # tiny: 0.5 since 2026-12-07 (three seeds: better on cross AED and APD and the expression-only edit; README.md)
    part_adversarial: float = 0.0
    # expression-keep cycle (tiny): render each source at its driver's pose with the source's *own* code and regress
    # the frozen encoder + head's read-out of it to the source's annotation: a pose-only edit must keep the source's
    # expression (pose-only dis_leakage; README.md). Needs glimpses and the head, like code_swap
    keep_expression: float = 0.0
    # source re-rendering (tried, off): the source at its own pose with its own code must reproduce the source frame
    # (L1 + eyes-and-mouth L1): the 64-px re-rendering's own expression error is most of pose-only leakage (README.md)
    source_recon: float = 0.0
    adversarial_start: int = 100


@dataclass
class AugmentConfig:
    mask_eyes_mouth: bool = True  # what the pose encoder sees
    repose_degrees: float = 25.0  # in-plane re-posing of the expression encoder's view
    repose_scale: float = 0.15
    repose_shift: float = 0.1
    # glimpse placement jitter (fraction of a patch's half side: shift, and log zoom) during training, so the
    # glimpse encoder tolerates the pose estimate's error
    glimpse_jitter: float = 0.1


@dataclass
class DiffusionConfig:
    """Stage 2 sizes. `latent: pixels` = diffusion on the image itself (tiny); `vae` = an AutoencoderKL."""

    latent: str = "pixels"  # pixels | vae
    pretrained: str | None = None  # local Stable-Diffusion-format folder (unet/, vae/); nothing is downloaded
    # pixels only: diffuse on space-to-depth patches (pixel_unshuffle by `patch`: 64x64x3 -> 32x32x12 at 2), an
    # exactly invertible "latent" with patch^2 fewer positions, so every UNet level costs ~patch^2 less
    patch: int = 1
    block_out_channels: tuple[int, ...] = (16, 32, 64)
    attention_levels: int = 1  # how many of the coarsest UNet levels carry (self + cross) attention
    layers_per_block: int = 1
    attention_head_dim: int = 8
    expression_tokens: int = 4  # the expression latent reshaped to tokens x token_dim (paper: 32 x 16)
    cross_attention_dim: int = 64
    pose_volume_depth: int = 4  # depth of the reshaped reference feature warped by the pose (paper: h / 2)
    temporal_heads: int = 2
    train_timesteps: int = 1000
    # what the denoiser predicts: epsilon (SD 1.5) or sample (x0). An under-trained epsilon model with few DDIM
    # steps amplifies its error by 1/sqrt(alpha_bar) (~14x at t = 999): tiny predicts x0
    prediction_type: str = "epsilon"
    drop_expression: float = 0.1  # condition dropout, so e(c without expression) and e(0) are trained
    drop_all: float = 0.05


@dataclass
class GuidanceConfig:
    steps: int = 35
    expression_free_steps: int = 5
    blend_steps: int = 5
    scale: float = 2.5


@dataclass
class TrainConfig:
    steps: int = 600
    batch_size: int = 8
    lr: float = 2e-4
    lr_discriminator: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    n_driving: int = 1
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    mixed_precision: str = "auto"  # auto = bf16 on GPU, no on CPU
    threads: int = 2
    # weight average (dexbench/model/training/ema.py): half-life in steps, 0 = off; the half-life ramps up as
    # ema_rampup x the steps so far (0 = no ramp). Inference loads the average when the checkpoint has one.
    ema_half_life: float = 0.0
    ema_rampup: float = 0.0
    # the learning rates (all optimisers) fall linearly over this last fraction of the run's steps (--max-steps, or
    # steps), toward 0; 0 = constant (dexbench/model/training/lr_schedule.py). Resuming toward another length moves
    # the fall (the rates may rise again; the loop says so): resume with the same --max-steps to continue exactly.
    lr_decay: float = 0.0


@dataclass
class ModelConfig:
    name: str = "tiny"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    stage1: TrainConfig = field(default_factory=TrainConfig)
    stage2: TrainConfig = field(default_factory=lambda: TrainConfig(lr=1e-4, betas=(0.9, 0.999), n_driving=2))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    default = cls()
    kwargs = {}
    for k, v in data.items():
        cur = getattr(default, k)
        if is_dataclass(cur):
            kwargs[k] = _build(type(cur), v or {}, f"{where}.{k}")
        elif isinstance(cur, tuple):
            kwargs[k] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        else:
            kwargs[k] = v
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    return _build(ModelConfig, data, "config")


def load_config(path: str | Path) -> ModelConfig:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "model config not found", "see reference_model/ for tiny.yaml and base.yaml")
    try:
        return config_from_dict(safe_load_strict(p.read_text()) or {})
    except yaml.YAMLError as exc:
        raise InputFileError(p, f"model config does not parse as YAML: {yaml_problem(exc)}") from exc
    except (ValueError, TypeError) as exc:
        raise InputFileError(p, f"invalid model config: {exc}") from exc
