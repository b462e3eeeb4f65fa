"""Stage 1's refusals of loss combinations that cannot work: each names the option, what it needs, and the fix."""

from __future__ import annotations

from dexbench.errors import DexbenchError
from dexbench.model.config import ModelConfig

READBACKS = ("encoder", "landmarks")


def check_stage1_config(cfg: ModelConfig) -> None:
    """Raise a DexbenchError for the first loss option whose prerequisites the config lacks."""
    if cfg.loss.source_recon > 0 and cfg.motion.expression_input != "glimpses":
        raise DexbenchError(
            "loss.source_recon needs motion.expression_input: glimpses (the source's code is read from it)",
            "set motion.expression_input: glimpses (or loss.source_recon to 0)",
        )
    for name in ("code_swap", "keep_expression"):
        if getattr(cfg.loss, name) > 0 and (
            cfg.motion.expression_input != "glimpses" or not cfg.motion.expression_targets
        ):
            raise DexbenchError(
                f"loss.{name} needs motion.expression_input: glimpses and motion.expression_targets > 0",
                f"set them in the config (or loss.{name} to 0)",
            )
    if cfg.loss.feature_matching > 0 and cfg.loss.adversarial <= 0:
        raise DexbenchError(
            "loss.feature_matching needs loss.adversarial > 0 (the discriminator only trains with the GAN term)",
            "set loss.adversarial (tiny: 0.1) or loss.feature_matching to 0",
        )
    if not 0.0 < cfg.loss.code_swap_fraction <= 1.0:
        raise DexbenchError(
            f"loss.code_swap_fraction must be in (0, 1], not {cfg.loss.code_swap_fraction}",
            "set the share of each batch the code swap renders (1.0: all of it)",
        )
    if cfg.loss.code_swap_grey and cfg.loss.code_swap <= 0:
        raise DexbenchError(
            "loss.code_swap_grey needs loss.code_swap > 0 (it changes what the code swap's read-back sees)",
            "set loss.code_swap (tiny: 3.0) or loss.code_swap_grey to false",
        )
    if cfg.loss.code_swap_adversarial > 0 and (cfg.loss.code_swap <= 0 or cfg.loss.adversarial <= 0):
        raise DexbenchError(
            "loss.code_swap_adversarial needs loss.code_swap > 0 and loss.adversarial > 0 (it judges the code-swap "
            "renderings with the GAN term's discriminator)",
            "set loss.code_swap and loss.adversarial (tiny: 3.0 and 0.1) or loss.code_swap_adversarial to 0",
        )
    if cfg.loss.code_swap_readback not in READBACKS:
        raise DexbenchError(
            f"loss.code_swap_readback must be one of {READBACKS}, not {cfg.loss.code_swap_readback!r}",
            "set it to encoder (the default) or landmarks",
        )
    if cfg.loss.code_swap_readback == "landmarks" and (cfg.loss.code_swap <= 0 or cfg.loss.code_swap_grey):
        raise DexbenchError(
            "loss.code_swap_readback: landmarks needs loss.code_swap > 0, without loss.code_swap_grey (the part "
            "landmarker reads grey glimpses already)",
            "set loss.code_swap (tiny: 3.0) and loss.code_swap_grey: false, or code_swap_readback: encoder",
        )
    if cfg.loss.part_adversarial > 0 and cfg.motion.expression_input != "glimpses":
        raise DexbenchError(
            "loss.part_adversarial needs motion.expression_input: glimpses (its discriminator judges the glimpses)",
            "set motion.expression_input: glimpses (or loss.part_adversarial to 0)",
        )
    if cfg.loss.landmarks > 0 and cfg.motion.expression_input != "glimpses":
        raise DexbenchError(
            "loss.landmarks needs motion.expression_input: glimpses (the part landmarker reads the glimpses)",
            "set motion.expression_input: glimpses (or loss.landmarks to 0)",
        )
