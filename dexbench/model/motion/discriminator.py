"""A patch discriminator (one logit per receptive-field patch), the non-saturating softplus GAN losses and
pix2pixHD's discriminator feature matching."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dexbench.model.motion.blocks import channels_last


class PatchDiscriminator(nn.Module):
    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for c in channels:
            layers += [nn.Conv2d(cin, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            cin = c
        layers.append(nn.Conv2d(cin, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)
        channels_last(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The activation after each downsampling stage, then the logits (the same computation as forward)."""
        out, x = [], image
        for layer in self.net:
            x = layer(x)
            if not isinstance(layer, nn.Conv2d):
                out.append(x)
        return [*out, x]


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def feature_matching_loss(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean over the discriminator's stages of the L1 between its activations on the output and on the target
    (the target's detached): a perceptual distance the discriminator learns on the data itself."""
    return torch.stack([(f - r.detach()).abs().mean() for f, r in zip(fake, real, strict=True)]).mean()
