"""loss.feature_matching: the patch discriminator's activations as a learned perceptual distance (pix2pixHD, FOMM).
The features are the discriminator's own computation, the loss vanishes on the target and pulls only the output,
and stage 1 trains with it and refuses it without the GAN term that trains the discriminator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator

from dexbench.errors import DexbenchError
from dexbench.model.motion.discriminator import PatchDiscriminator, feature_matching_loss
from dexbench.model.training.loop import train
from dexbench.model.training.stage1 import Stage1
from tests.model_helpers import random_images, tiny_config


def test_features_are_the_discriminators_computation() -> None:
    torch.manual_seed(0)
    channels = tiny_config().motion.discriminator_channels
    d = PatchDiscriminator(channels)
    img = random_images(2, 64)
    feats = d.features(img)
    assert len(feats) == len(channels) + 1
    assert [f.shape[1] for f in feats] == [*channels, 1]
    assert [f.shape[-1] for f in feats[:-1]] == [64 // 2 ** (i + 1) for i in range(len(channels))]
    assert torch.equal(feats[-1], d(img))


def test_feature_matching_vanishes_on_the_target_and_pulls_only_the_output() -> None:
    torch.manual_seed(0)
    d = PatchDiscriminator(tiny_config().motion.discriminator_channels)
    target = random_images(2, 64, seed=1).requires_grad_(True)
    assert feature_matching_loss(d.features(target), d.features(target)).item() == 0.0
    pred = random_images(2, 64, seed=2).requires_grad_(True)
    loss = feature_matching_loss(d.features(pred), d.features(target))
    assert loss.item() > 0
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None  # the target's activations are detached: it is not pulled toward the output
    with pytest.raises(ValueError):  # a stage missing on one side is an error, not a silently shorter sum
        feature_matching_loss(d.features(pred)[:-1], d.features(target))


def test_stage1_trains_with_feature_matching_and_needs_the_gan_term(workspace, tmp_path: Path) -> None:
    cfg = tiny_config(str(workspace.shards), loss={"feature_matching": 10.0})
    train(Stage1, cfg, tmp_path / "s1", max_steps=2, cpu=True)
    rows = (tmp_path / "s1" / "losses.csv").read_text().splitlines()
    col = rows[0].split(",").index("feature_matching")
    vals = [float(r.split(",")[col]) for r in rows[1:]]
    assert len(vals) == 2 and all(np.isfinite(vals)) and all(v > 0 for v in vals)
    before_gan = tiny_config(str(workspace.shards), loss={"feature_matching": 10.0, "adversarial_start": 5})
    train(Stage1, before_gan, tmp_path / "s1_early", max_steps=2, cpu=True)
    rows = (tmp_path / "s1_early" / "losses.csv").read_text().splitlines()
    col = rows[0].split(",").index("feature_matching")
    assert all(r.split(",")[col] == "nan" for r in rows[1:])  # off until the discriminator trains
    no_gan = tiny_config(str(workspace.shards), loss={"feature_matching": 10.0, "adversarial": 0.0})
    with pytest.raises(DexbenchError, match="feature_matching"):
        Stage1(no_gan, Accelerator(cpu=True))
