"""The reference branch (Animate-Anyone scheme): reference-UNet hidden states join the denoiser's self-attention.

Both UNets get a `ReferenceAttnProcessor` on every self-attention (attn1). The reference UNet runs first and each
processor *writes* its input hidden states to a shared bank; in the denoiser the processor at the same place
*reads* them and attends over [own tokens; reference tokens] (keys and values), so identity flows in at every
attention resolution. `state.ref_index[i]` names the reference sample of denoiser sample i (frames and guidance
branches share one reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class ReferenceState:
    bank: dict[str, torch.Tensor] = field(default_factory=dict)
    ref_index: torch.Tensor | None = None
    features: dict[str, torch.Tensor] = field(default_factory=dict)  # pose-branch reference features


class ReferenceAttnProcessor:
    def __init__(self, state: ReferenceState, name: str, role: str) -> None:
        self.state, self.name, self.role = state, name, role

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        residual = hidden_states
        b, n, _ = hidden_states.shape
        context = hidden_states
        if encoder_hidden_states is None:  # self-attention: the place where the reference joins
            if self.role == "write":
                self.state.bank[self.name] = hidden_states
            elif self.name in self.state.bank and self.state.ref_index is not None:
                ref = self.state.bank[self.name][self.state.ref_index]
                context = torch.cat([hidden_states, ref], dim=1)
        else:
            context = encoder_hidden_states
        q = attn.to_q(hidden_states)
        k, v = attn.to_k(context), attn.to_v(context)
        h = attn.heads
        q, k, v = (x.view(b, -1, h, x.shape[-1] // h).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(b, n, -1)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def install(unet, state: ReferenceState, role: str) -> None:
    """Put reference processors on a UNet's self-attentions (plain attention on its cross-attentions)."""
    procs = {}
    for name in unet.attn_processors:
        key = name.removesuffix(".processor")
        procs[name] = ReferenceAttnProcessor(state, key, role if key.endswith("attn1") else "cross")
    unet.set_attn_processor(procs)
