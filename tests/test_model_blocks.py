"""Shapes and gradients of every stage-1 and stage-2 block, on tiny random components (CPU, seeded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dexbench.model.diffusion.model import DexDiffusion, PoseFeatureBranch
from dexbench.model.diffusion.temporal import TemporalAttention
from dexbench.model.motion.augment import face_mask, mask_eyes_mouth, repose
from dexbench.model.motion.blocks import AdaIN, ConvNeXtBlock, ResBlock3d, StyledBlock
from dexbench.model.motion.discriminator import PatchDiscriminator, discriminator_loss, generator_loss
from dexbench.model.motion.encoders import AppearanceEncoder, ExpressionEncoder, PoseEncoder
from dexbench.model.motion.generator import MotionGenerator
from dexbench.model.pose import Pose
from tests.model_helpers import random_images, tiny_config


def _grads_ok(module: torch.nn.Module) -> None:
    params = [p for p in module.parameters() if p.requires_grad]
    assert params
    missing = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reached {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in params)


def test_small_blocks() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    for block in (ConvNeXtBlock(8),):
        y = block(x)
        assert y.shape == x.shape
        y.square().mean().backward()
        _grads_ok(block)
    v = torch.randn(2, 4, 3, 6, 6)
    rb = ResBlock3d(4, 2)
    assert rb(v).shape == (2, 2, 3, 6, 6)
    rb(v).mean().backward()
    _grads_ok(rb)
    ada, style = AdaIN(8, 5), torch.randn(2, 5)
    assert torch.allclose(ada(x, style), torch.nn.functional.instance_norm(x), atol=1e-5)  # zero-init = plain IN
    sb = StyledBlock(8, 4, 5, upsample=True)
    out = sb(x, style)
    assert out.shape == (2, 4, 16, 16)
    out.square().mean().backward()
    _grads_ok(sb)


def test_stage1_encoders_generator_discriminator() -> None:
    cfg = tiny_config().motion
    torch.manual_seed(0)
    img = random_images(3, cfg.image_size)
    pe, ee, ae = PoseEncoder(cfg), ExpressionEncoder(cfg), AppearanceEncoder(cfg)
    pose = pe(img)
    assert pose.rotation.shape == (3, 3, 3) and pose.translation.shape == (3, 2) and pose.scale.shape == (3,)
    assert torch.allclose(pose.rotation @ pose.rotation.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-5)
    assert (pose.scale > 0).all()
    z = ee(img)
    assert z.shape == (3, cfg.expression_dim)
    vol, app, _feat = ae(img)
    assert vol.shape == (3, cfg.volume_channels, cfg.volume_depth, cfg.volume_size, cfg.volume_size)
    assert app.shape == (3, cfg.appearance_dim)
    g = MotionGenerator(cfg)
    pred, *poses = g(img, torch.cat([img, random_images(3, cfg.image_size, 1)]), img)
    assert pred.shape == img.shape and pred.abs().max() <= 1.0
    d = PatchDiscriminator(tiny_config().motion.discriminator_channels)
    logits = d(pred)
    assert logits.ndim == 4 and logits.shape[1] == 1
    (generator_loss(logits) + (pred - img).abs().mean() + sum(p.sum() for p in poses) * 0).backward()
    _grads_ok(g)
    d.zero_grad()
    discriminator_loss(d(img), d(pred.detach())).backward()
    _grads_ok(d)


@pytest.mark.parametrize("radii", [(), (1.0, 1.2, 1.0)])
def test_image_skip_surfaces_render_and_pass_gradients_to_the_pose(radii: tuple[float, ...]) -> None:
    cfg = tiny_config(motion={"skip_radii": list(radii)}).motion
    torch.manual_seed(0)
    g = MotionGenerator(cfg)
    src, drv = random_images(2, cfg.image_size), random_images(2, cfg.image_size, 1)
    pred, *_ = g(src, torch.cat([src, drv]), drv)
    assert pred.shape == src.shape
    pred.abs().mean().backward()
    grad = g.pose_encoder.head.weight.grad  # the pose's own layer (the blocks' residual scales start at zero)
    assert grad is not None and bool(grad.isfinite().all()) and grad.abs().sum() > 0


@pytest.mark.parametrize("radii", [(1.0, 1.2), (1.0, 0.0, 1.0)])
def test_bad_skip_radii_are_refused(radii: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="skip_radii"):
        MotionGenerator(tiny_config(motion={"skip_radii": list(radii)}).motion)


def test_render_one_source_many_frames() -> None:
    cfg = tiny_config().motion
    g = MotionGenerator(cfg).eval()
    src = random_images(1, cfg.image_size)
    drv = random_images(4, cfg.image_size, 3)
    with torch.no_grad():
        out = g.render(src, g.pose_encoder(src), g.pose_encoder(drv), g.expression_encoder(drv))
    assert out.shape == (4, 3, cfg.image_size, cfg.image_size)


def test_augmentations() -> None:
    s = 32
    lm = torch.zeros(2, 68, 2)
    lm[:, :, 0] = torch.linspace(6, 26, 68)
    lm[:, :, 1] = 16
    lm[:, 36:48, 1] = 10  # eyes row
    lm[:, 48:68, 1] = 24  # mouth row
    img = torch.ones(2, 3, s, s)
    masked = mask_eyes_mouth(img, lm)
    assert masked[0, :, 10, int(lm[0, 40, 0])].abs().max() == 0  # an eye pixel is blanked
    assert masked[0, :, 1, 1].min() == 1  # a corner is not
    fm = face_mask(lm, s)
    assert fm.shape == (2, 1, s, s) and 0 < fm.mean() < 1
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-1, 1, s).expand(2, 3, s, s).contiguous()
    r = repose(ramp, gen, 25.0, 0.1, 0.1)
    assert r.shape == ramp.shape and not torch.allclose(r, ramp)
    assert torch.allclose(repose(ramp, torch.Generator().manual_seed(0), 0, 0, 0), ramp, atol=1e-5)


def test_stage2_blocks_shapes_and_gradients() -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    ta = TemporalAttention(8, 2)
    x = torch.randn(6, 8, 4, 4)
    assert torch.equal(ta(x, 3), x)  # zero-initialised output: identity at start
    assert torch.equal(ta(x, 1), x)
    pb = PoseFeatureBranch(8, 2)
    eye = Pose(torch.eye(3).expand(2, 3, 3), torch.zeros(2, 2), torch.ones(2))
    assert pb(torch.randn(2, 8, 6, 6), eye, eye).abs().max() == 0  # zero-initialised
    dcfg, s = cfg.diffusion, cfg.motion.image_size
    m = DexDiffusion(dcfg, cfg.motion.expression_dim, 3, s)
    n = 4
    out = m(
        torch.randn(n, 3, s, s),
        torch.randint(0, 100, (n,)),
        torch.tensor([0, 0, 1, 1]),
        Pose.cat([eye, eye]),
        Pose(torch.eye(3).expand(n, 3, 3), torch.full((n, 2), 0.1), torch.full((n,), 0.9)),
        torch.randn(n, cfg.motion.expression_dim),
        torch.tensor([1.0, 0.0, 1.0, 1.0]),
        torch.ones(n),
        num_frames=2,
        reference=torch.randn(2, 3, s, s),
    )
    assert out.shape == (n, 3, s, s)
    out.square().mean().backward()
    # the reference UNet's up path past the last attention does not feed the denoiser; everything else must learn
    skip = ("reference.up_blocks", "reference.conv_norm_out", "reference.conv_out", "reference.mid_block")
    missing = [k for k, p in m.named_parameters() if p.grad is None and not k.startswith(skip)]
    assert not missing, missing[:8]
    assert m.denoiser.conv_in.weight.grad[:, 3:].abs().sum() > 0  # ray-map channels receive gradient
    assert m.null_tokens.grad.abs().sum() > 0 and m.expression_proj.weight.grad.abs().sum() > 0
    assert len(m.state.bank) > 0


def test_reference_changes_the_prediction() -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    s = cfg.motion.image_size
    m = DexDiffusion(cfg.diffusion, cfg.motion.expression_dim, 3, s).eval()
    eye = Pose(torch.eye(3)[None], torch.zeros(1, 2), torch.ones(1))
    args = (
        torch.randn(1, 3, s, s),
        torch.tensor([10]),
        torch.tensor([0]),
        eye,
        eye,
        torch.randn(1, 16),
        torch.ones(1),
        torch.ones(1),
    )
    with torch.no_grad():
        a = m(*args, reference=torch.zeros(1, 3, s, s))
        b = m(*args, reference=torch.ones(1, 3, s, s))
    assert not torch.allclose(a, b)


def test_patch_latent_is_exactly_invertible() -> None:
    import pytest
    from diffusers import DDIMScheduler

    from dexbench.errors import DexbenchError
    from dexbench.model.diffusion.pipeline import DexPortraitPipeline, pixels_to_latent
    from dexbench.model.training.stage2 import build_diffusion, scheduler_config

    cfg = tiny_config()
    s, p = cfg.motion.image_size, cfg.diffusion.patch
    img = random_images(2, s)
    lat = pixels_to_latent(img, p)
    assert p == 2 and lat.shape == (2, 3 * p * p, s // p, s // p)
    model = build_diffusion(cfg)
    assert model.denoiser.conv_in.in_channels == 3 * p * p + 6 and model.denoiser.config.sample_size == s // p
    pipe = DexPortraitPipeline(model, MotionGenerator(cfg.motion), DDIMScheduler(**scheduler_config(cfg)))
    assert torch.equal(pipe.from_latent(pipe.to_latent(img)), img)
    assert torch.equal(lat[:, :: p * p, 0, 0], img[:, :, 0, 0])  # channel c * p^2 of patch (0, 0) = its top-left pixel
    with pytest.raises(DexbenchError, match="patch"):
        build_diffusion(tiny_config(diffusion={"patch": 3}))  # 32 px does not split into 3x3 patches


def test_expression_head_reads_the_code() -> None:
    cfg = tiny_config().motion
    g = MotionGenerator(cfg)
    img = random_images(2, cfg.image_size)
    *_, code, readout = g(img, torch.cat([img, img]), img)
    assert code.shape == (2, cfg.expression_dim) and readout.shape == (2, cfg.expression_targets)
    assert torch.allclose(readout, g.expression_head(code))
    g0 = MotionGenerator(tiny_config(motion={"expression_targets": 0}).motion)
    assert g0.expression_head is None and g0(img, torch.cat([img, img]), img)[-1].shape == (2, 0)


def test_scheduler_follows_the_prediction_type_and_starts_at_pure_noise() -> None:
    from diffusers import DDIMScheduler

    from dexbench.model.training.stage2 import scheduler_config

    for kind in ("epsilon", "sample"):
        sched = DDIMScheduler(**scheduler_config(tiny_config(diffusion={"prediction_type": kind})))
        assert sched.config.prediction_type == kind
        sched.set_timesteps(4)
        assert int(sched.timesteps[0]) == 99  # trailing spacing: the first of 4 steps is the last training step


@pytest.mark.parametrize(
    "motion",
    [
        {},
        {"skip_flow": 0.25, "output_size": 64, "part_canvas": 4, "expression_input": "glimpses", "glimpse_size": 8},
        {"skip_mask_parts": True, "skip_radii": [], "output_size": 64},  # the mid-plane skip; source_hi made inside
    ],
)
def test_a_staged_source_decodes_to_what_render_draws(motion: dict) -> None:
    """Stage 1 stages the source once and decodes it with the driver's and the code swap's codes: each decoding
    must be render()'s image, and forward's staged source must be the one its prediction was drawn from."""
    cfg = tiny_config(motion=motion).motion
    torch.manual_seed(0)
    g = MotionGenerator(cfg).eval()
    for m in g.modules():  # AdaIN's style maps start at zero: give the code a say, as training does
        if isinstance(m, AdaIN):
            torch.nn.init.normal_(m.affine.weight, std=0.1)
    s = cfg.image_size
    src, drv = random_images(2, s), random_images(2, s, 1)
    hi = torch.nn.functional.interpolate(src, size=(g.output_size,) * 2, mode="bilinear") if g.cfg.skip_flow else None
    with torch.no_grad():
        pred, rs, ts, ss, rd, td, sd, code, _readout, staged = g(src, torch.cat([src, drv]), drv, None, hi, True)
        pose_s, pose_d = Pose(rs, ts, ss), Pose(rd, td, sd)
        assert torch.equal(g.decode(staged, code), pred)
        other = code.roll(1, dims=0)
        assert torch.equal(g.decode(staged, other), g.render(src, pose_s, pose_d, other, hi))
        assert not torch.equal(g.decode(staged, other), pred)
    assert len(g(src, torch.cat([src, drv]), drv, None, hi)) == 9  # unstaged by default
    with torch.no_grad():  # one source, many driving poses (inference): as the source repeated per pose
        many = Pose(torch.cat([rd, rs]), torch.cat([td, ts]), torch.cat([sd, ss]))
        one, codes = Pose(rs[:1], ts[:1], ss[:1]), code.repeat(2, 1)
        hi1 = None if hi is None else hi[:1]
        hi4 = None if hi is None else hi1.expand(4, -1, -1, -1)
        expected = g.render(src[:1].expand(4, -1, -1, -1), one.repeat_interleave(4), many, codes, hi4)
        torch.testing.assert_close(
            g.render(src[:1], one, many, codes, hi1), expected, atol=1e-5, rtol=0
        )  # batch-size rounding


def test_adain_matches_instance_norm_in_either_layout() -> None:
    torch.manual_seed(0)
    ada, style = AdaIN(6, 5), torch.randn(3, 5)
    torch.nn.init.normal_(ada.affine.weight)
    torch.nn.init.normal_(ada.affine.bias)
    x = torch.randn(3, 6, 9, 7) * 3 + 1
    gamma, beta = ada.affine(style)[:, :, None, None].chunk(2, dim=1)
    expected = torch.nn.InstanceNorm2d(6)(x) * (1 + gamma) + beta
    assert torch.allclose(ada(x, style), expected, atol=1e-5)
    y = ada(x.contiguous(memory_format=torch.channels_last), style)
    assert torch.allclose(y, expected, atol=1e-5)


def test_stage1_networks_run_channels_last_and_checkpoints_load_either_way(tmp_path) -> None:
    from dexbench.model.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = tiny_config().motion
    torch.manual_seed(0)
    g, d = MotionGenerator(cfg), PatchDiscriminator(cfg.discriminator_channels)
    convs = [p for m in (g, d) for p in m.parameters() if p.dim() in (4, 5)]
    assert convs and all(
        p.is_contiguous(memory_format=torch.channels_last if p.dim() == 4 else torch.channels_last_3d) for p in convs
    )
    img = random_images(2, cfg.image_size)
    pose = g.pose_encoder(img)
    code = torch.randn(2, cfg.expression_dim)
    with torch.no_grad():
        before = g.render(img, pose, pose, code)
    assert before.is_contiguous(memory_format=torch.channels_last)  # the activations followed the weights
    save_checkpoint(tmp_path, 1, {"motion": g}, {}, {})
    torch.manual_seed(1)
    fresh = MotionGenerator(cfg)
    load_checkpoint(tmp_path / "step-000001", {"motion": fresh}, {}, {})
    with torch.no_grad():
        assert torch.equal(fresh.render(img, pose, pose, code), before)
    # a generator kept in the default layout (as older code built it) loads the same weights and draws the same image
    plain = MotionGenerator(cfg)
    for p in plain.parameters():
        p.data = p.data.contiguous()
    load_checkpoint(tmp_path / "step-000001", {"motion": plain}, {}, {})
    with torch.no_grad():
        assert torch.allclose(plain.render(img, pose, pose, code), before, atol=1e-5)


def test_adain_gradients_and_bf16_autocast() -> None:
    torch.manual_seed(0)
    ada = AdaIN(6, 5)
    torch.nn.init.normal_(ada.affine.weight)
    x = (torch.randn(2, 6, 8, 8) * 4 + 30).requires_grad_()  # a large mean: the folded shift cancels x * scale
    style = torch.randn(2, 5)

    def reference(x: torch.Tensor) -> torch.Tensor:
        gamma, beta = ada.affine(style)[:, :, None, None].chunk(2, dim=1)
        return torch.nn.functional.instance_norm(x) * (1 + gamma) + beta

    w = torch.randn(2, 6, 8, 8)
    (g_new,) = torch.autograd.grad((ada(x, style) * w).sum(), x)
    (g_ref,) = torch.autograd.grad((reference(x) * w).sum(), x)
    assert torch.allclose(g_new, g_ref, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ada(x.bfloat16(), style)
    assert y.dtype == torch.bfloat16
    exact = reference(x.bfloat16().double()).float()
    # bf16 rounding of the output and of the affine's style (the fold done in bf16 erred by ~0.1 relative here)
    assert ((y.float() - exact).abs() / (exact.abs() + 1)).max() < 0.03


def test_resumed_adam_moments_take_their_parameters_layout(tmp_path) -> None:
    from dexbench.model.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = tiny_config().motion
    d = PatchDiscriminator(cfg.discriminator_channels)
    opt = torch.optim.Adam(d.parameters())
    d(random_images(2, 32)).mean().backward()
    opt.step()
    save_checkpoint(tmp_path, 1, {"d": d}, {"d": opt}, {})
    opt2 = torch.optim.Adam(d.parameters())
    load_checkpoint(tmp_path / "step-000001", {"d": d}, {"d": opt2}, {})
    for p in d.parameters():
        for k in ("exp_avg", "exp_avg_sq"):
            m = opt2.state[p][k]
            assert m.stride() == p.stride() and torch.equal(m, opt.state[p][k])


def test_stage1_gradients_keep_their_parameters_layout() -> None:
    """DDP's gradient-layout contract: each gradient has its parameter's exact strides. Size-1 kernels broke it (a
    1x1 conv's gradient came out channels-last against NCHW strides, a 1x1x1 conv3d's NCDHW against channels-last
    ones) and DDP warned and copied. Which layout comes out depends on the sizes and the thread count, so this is
    tiny itself at its batch, on its one training thread."""
    from dexbench.model.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "reference_model" / "tiny.yaml")
    torch.manual_seed(0)
    g, d = MotionGenerator(cfg.motion), PatchDiscriminator(cfg.motion.discriminator_channels)
    b, size = cfg.stage1.batch_size, cfg.motion.image_size
    img = random_images(b, size)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.stage1.threads)
    try:
        out = g(img, torch.cat([img, img]), random_images(b, cfg.motion.glimpse_source_size, seed=1))
        (out[0].square().mean() + out[7].square().mean() + out[8].square().mean() + d(out[0]).mean()).backward()
    finally:
        torch.set_num_threads(threads)
    checked = [(n, p) for m in (g, d) for n, p in m.named_parameters() if p.grad is not None]
    assert {p.dim() for _, p in checked if p.dim() > 3 and p.shape[-1] == 1} == {4, 5}  # size-1 kernels, 2-D and 3-D
    assert [n for n, p in checked if p.grad.stride() != p.stride()] == []
