"""Stage 2: reference UNet + denoising UNet (diffusers), dual-branch pose, expression cross-attention, temporal."""
