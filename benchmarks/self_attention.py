"""SAGAN's self-attention block (Zhang et al. 2019) in the middle of a ``ResnetGenerator``.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Convolutions see a neighbourhood; at the generator's bottleneck (``H/4 x W/4`` positions,
256 channels) one attention layer lets every position draw on the whole image, e.g. the sky's
colour on the lake's. As in SAGAN: 1x1 convolutions make queries and keys of ``C/8`` channels
and values of ``C/2`` (back to ``C`` by a last 1x1 convolution), a softmax over all positions,
and the result added to the input scaled by a learned ``gamma`` that starts at 0, so the
block starts as the identity (and the improved recipe's generator as before). The block goes
after residual block ``n_blocks // 2``; weights drawn ``N(0, 0.02)`` as the generator's.
"""

from __future__ import annotations

import torch
from torch import nn

from unpaired_i2i import ResnetGenerator

__all__ = ["SelfAttention", "add_self_attention"]


class SelfAttention(nn.Module):
    """``x + gamma * attention(x)`` over all positions of ``(N, C, H, W)``; same shape out."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 8:
            raise ValueError(f"SelfAttention channels: expected >= 8, got {channels}")
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels // 2, 1)
        self.out = nn.Conv2d(channels // 2, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))
        for conv in (self.query, self.key, self.value, self.out):
            nn.init.normal_(conv.weight, 0.0, 0.02)
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, C/8)
        k = self.key(x).flatten(2).transpose(1, 2)
        v = self.value(x).flatten(2).transpose(1, 2)  # (N, HW, C/2)
        # scale 1: SAGAN's unscaled dot products
        a = nn.functional.scaled_dot_product_attention(q, k, v, scale=1.0)
        a = a.transpose(1, 2).reshape(n, c // 2, h, w)
        out: torch.Tensor = x + self.gamma * self.out(a)
        return out


def add_self_attention(generator: ResnetGenerator) -> None:
    """Insert a :class:`SelfAttention` after residual block ``n_blocks // 2`` (in place)."""
    blocks = list(generator.blocks)
    if not blocks:
        raise ValueError("add_self_attention: the generator has no residual blocks")
    channels = next(m for m in blocks[0].modules() if isinstance(m, nn.Conv2d)).in_channels
    middle = len(blocks) // 2
    layers = [*blocks[: middle + 1], SelfAttention(channels), *blocks[middle + 1 :]]
    generator.blocks = nn.Sequential(*layers)
