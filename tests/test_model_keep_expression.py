"""The pose-only leakage losses. loss.keep_expression (the pose-only edit's expression cycle): trains, validates its
config, and pushes only the renderer (the expression encoder and head are frozen on its path, the source's own code
is detached). loss.source_recon: the source re-rendered at its own pose reaches both encoder and renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from dexbench.errors import DexbenchError
from dexbench.model.motion.blocks import AdaIN
from dexbench.model.pose import Pose
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import tiny_config

GLIMPSES = {"expression_input": "glimpses", "glimpse_size": 8}


def _pose(b: int, yaw: float) -> Pose:
    c, s = np.cos(yaw), np.sin(yaw)
    r = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float32)
    return Pose(r.expand(b, 3, 3).clone(), torch.zeros(b, 2), torch.full((b,), 0.8))


def _style_live(G: torch.nn.Module) -> None:
    """AdaIN's style maps start at zero (no gradient reaches the code at step 0); give them weights, as if trained."""
    for m in G.modules():
        if isinstance(m, AdaIN):
            torch.nn.init.normal_(m.affine.weight, std=0.1)


def test_keep_expression_trains_and_needs_glimpses(workspace, tmp_path: Path) -> None:
    keep = {"keep_expression": 1.0}
    cfg = tiny_config(str(workspace.shards), data={"source_contrast": 2}, motion=GLIMPSES, loss=keep)
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True)
    rows = (tmp_path / "s1" / "losses.csv").read_text().splitlines()
    col = rows[0].split(",").index("keep_expression")
    vals = [float(r.split(",")[col]) for r in rows[1:]]
    assert len(vals) == 2 and all(np.isfinite(vals)) and all(v > 0 for v in vals)
    bad = tiny_config(str(workspace.shards), loss={"keep_expression": 1.0})  # whole-frame encoder: no glimpses
    with pytest.raises(DexbenchError, match="keep_expression"):
        Stage1(bad, Accelerator(cpu=True))
    loss = {"keep_expression": 1.0, "expression_prior": 0.0}
    no_head = tiny_config(str(workspace.shards), motion={**GLIMPSES, "expression_targets": 0}, loss=loss)
    with pytest.raises(DexbenchError, match="keep_expression"):
        Stage1(no_head, Accelerator(cpu=True))


def test_keep_expression_gradient_reaches_only_the_renderer() -> None:
    torch.manual_seed(0)
    cfg = tiny_config(None, motion=GLIMPSES, loss={"keep_expression": 1.0})
    st = Stage1(cfg, Accelerator(cpu=True))
    _style_live(st.G)  # so that an undetached source code would reach the encoder through the decoder's style
    b, s = 3, cfg.motion.image_size
    src = torch.rand(b, 3, s, s) * 2 - 1
    out = {"src": src, "src_full": src, "src_out": src, "pose_s": _pose(b, 0.0), "pose_d": _pose(b, 0.3)}
    out["staged"] = st.G.stage_source(src, out["pose_s"], out["pose_d"], src)  # as Stage1.forward stages it
    loss = st._keep_expression(out, torch.randn(b, cfg.motion.expression_targets))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    G = st.G
    frozen = [*G.expression_encoder.parameters(), *G.expression_head.parameters()]
    assert all(p.grad is None for p in frozen)  # read-out frozen, source code detached
    assert all(p.requires_grad for p in frozen)  # and unfrozen again afterwards
    renderer = [*G.decoder.parameters(), *G.appearance_encoder.parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in renderer)


def test_source_recon_trains_encoder_and_renderer_and_needs_glimpses() -> None:
    torch.manual_seed(0)
    cfg = tiny_config(None, motion=GLIMPSES, loss={"source_recon": 1.0})
    st = Stage1(cfg, Accelerator(cpu=True))
    _style_live(st.G)
    b, s = 2, cfg.motion.image_size
    src = torch.rand(b, 3, s, s) * 2 - 1
    g = torch.linspace(0.3 * s, 0.7 * s, 68)  # a face-sized landmark cloud in the middle of the frame
    lm = torch.stack([g, g.flip(0)], dim=1).expand(b, 68, 2).clone()
    out = {"src": src, "src_full": src, "src_out": src, "pose_s": _pose(b, 0.1), "lm_s": lm}
    loss = st._source_recon(out)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    loss.backward()
    G = st.G
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.decoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.expression_encoder.parameters())
    bad = tiny_config(None, loss={"source_recon": 1.0})  # whole-frame encoder
    with pytest.raises(DexbenchError, match="source_recon"):
        Stage1(bad, Accelerator(cpu=True))
