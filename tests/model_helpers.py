"""Tiny random configs and inputs shared by the model tests (not a conftest: imported explicitly)."""

from __future__ import annotations

import torch

from dexbench.model.config import ModelConfig, config_from_dict

TINY_TEST = {
    "name": "test",
    "seed": 0,
    "data": {"size": 32, "pairs_per_clip": 2, "buffer": 4},
    "motion": {
        "image_size": 32,
        "encoder_channels": [8, 16],
        "expression_dim": 16,
        "appearance_dim": 8,
        "feature_channels": 8,
        "volume_channels": 4,
        "volume_depth": 4,
        "volume_size": 8,
        "decoder_channels": [16, 8, 8],
        "discriminator_channels": [8, 16],
        "expression_targets": 5,
        "image_skip": True,
        "skip_radii": [1.0, 1.2, 1.0],
    },
    "loss": {"adversarial_start": 0, "expression_l1": 5.0, "expression_prior": 1.0},
    "diffusion": {
        "block_out_channels": [8, 16],
        "patch": 2,
        "attention_levels": 1,
        "attention_head_dim": 4,
        "expression_tokens": 4,
        "cross_attention_dim": 16,
        "pose_volume_depth": 2,
        "temporal_heads": 2,
        "train_timesteps": 100,
        "prediction_type": "sample",
    },
    "guidance": {"steps": 4, "expression_free_steps": 1, "blend_steps": 1, "scale": 2.0},
    "stage1": {"steps": 3, "batch_size": 2, "log_every": 1, "sample_every": 3, "checkpoint_every": 2, "threads": 1},
    "stage2": {
        "steps": 3,
        "batch_size": 2,
        "n_driving": 2,
        "lr": 1e-3,
        "log_every": 1,
        "sample_every": 3,
        "checkpoint_every": 2,
        "threads": 1,
    },
}


def tiny_config(shards: str | None = None, **overrides) -> ModelConfig:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY_TEST.items()}
    if shards is not None:
        data["data"]["shards"] = shards
    for k, v in overrides.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) else v
    return config_from_dict(data)


def random_images(b: int, s: int, seed: int = 0) -> torch.Tensor:
    """(b, 3, s, s) seeded uniform images in [-1, 1]."""
    return torch.rand(b, 3, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1
