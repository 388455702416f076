"""Discriminators at two scales (pix2pixHD, Wang et al. 2018), as a candidate's discriminators.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Each discriminator keeps its 70x70 PatchGAN and gains a second one of the same layout (its own
weights) that scores the image average-pooled to half its size (pix2pixHD's 3x3 pool, stride 2,
padding not counted), so its patches span twice as much of the scene: the colours and the
layout of the whole view besides the texture of the patches. The two score maps are returned
as two channels of one ``(N, 2, H', W')`` map, the coarse one repeated up to the fine one's
size, so the losses' mean over the map is the mean of the two scales' means (each scale
weighs the same, as in pix2pixHD's sum over scales up to a factor 2).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from unpaired_i2i import ConvDiscriminator

__all__ = ["TwoScaleDiscriminator", "two_scale"]


class TwoScaleDiscriminator(ConvDiscriminator):
    """A :class:`ConvDiscriminator` (``N, C, H, W`` in ``[-1, 1]``) plus ``coarse``, the same
    layout on the half-size image; scores ``(N, 2, H', W')``."""

    def __init__(self, in_channels: int = 3, **config: Any) -> None:
        super().__init__(in_channels, **config)
        self.coarse = ConvDiscriminator(in_channels, **config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = super().forward(x)
        half = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        coarse = self.coarse(half)
        (h, w), (ch, cw) = fine.shape[-2:], coarse.shape[-2:]
        if h % ch or w % cw:
            raise ValueError(
                f"TwoScaleDiscriminator: the coarse scores {ch}x{cw} do not tile the fine "
                f"ones {h}x{w}; got an input of {tuple(x.shape[-2:])}"
            )
        coarse = coarse.repeat_interleave(h // ch, dim=-2).repeat_interleave(w // cw, dim=-1)
        return torch.cat([fine, coarse], dim=1)


def two_scale(discriminator: ConvDiscriminator) -> TwoScaleDiscriminator:
    """``discriminator``'s layout and weights, plus a coarse scale drawn from torch's RNG."""
    out = TwoScaleDiscriminator(**discriminator.get_config())
    state = {f"coarse.{k}": v for k, v in out.coarse.state_dict().items()}
    out.load_state_dict({**discriminator.state_dict(), **state})
    return out
