"""U-Net skip connections (Ronneberger et al. 2015) across a ``ResnetGenerator``'s bottleneck.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The ResNet generator carries the whole image through its ``H/4 x W/4`` bottleneck; the
reference's other generator family, the U-Net of pix2pix, passes each encoder resolution's
features straight to the decoder layer of the same resolution, so edges and small shapes (the
mountains' outline, the trees) need not survive the bottleneck. Here the decoder layer that
returns to a resolution adds the features the encoder had at that resolution (the input of the
encoder layer that left it), scaled by a learned ``gamma`` per skip that starts at 0 (as
SAGAN's attention, ReZero): the generator starts as the recipe's, bit for bit, and the skips
open as far as training finds them useful. The encoder's and decoder's layers keep their
state-dict keys; the two ``gamma`` are new (``decoder.gammas.0``, ``decoder.gammas.1``).
"""

from __future__ import annotations

import torch
from torch import nn

from unpaired_i2i import ResnetGenerator

__all__ = ["SkipDecoder", "TapEncoder", "add_unet_skips"]


class TapEncoder(nn.Sequential):
    """The encoder's layers, run as before, keeping each layer's input in ``taps`` (a list
    shared with the :class:`SkipDecoder`): ``(N, C_i, H_i, W_i)`` tensors, highest resolution
    first."""

    def __init__(self, encoder: nn.Sequential, taps: list[torch.Tensor]) -> None:
        super().__init__(*encoder)
        self.taps = taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.taps.clear()
        for layer in self:
            self.taps.append(x)
            x = layer(x)
        return x


class SkipDecoder(nn.Module):
    """The decoder's layers (under their old names, ``"0"``, ``"1"``, ...), each output plus
    ``gammas[j]`` times the encoder tap of its shape (layer ``j`` takes tap ``n - 1 - j`` of the
    ``n`` taps); every ``gamma`` starts at 0."""

    def __init__(self, decoder: nn.Sequential, taps: list[torch.Tensor]) -> None:
        super().__init__()
        self.names = [name for name, _ in decoder.named_children()]
        self.n_layers = len(self.names)
        for name, layer in decoder.named_children():
            self.add_module(name, layer)
        self.taps = taps
        self.gammas = nn.ParameterList(nn.Parameter(torch.zeros(())) for _ in decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = self.taps
        if len(taps) != self.n_layers:
            raise RuntimeError(
                f"SkipDecoder: expected {self.n_layers} encoder taps from this forward; got "
                f"{len(taps)} (run the generator, not the decoder alone)"
            )
        for j, name in enumerate(self.names):
            tap = taps[self.n_layers - 1 - j]
            x = getattr(self, name)(x)
            if x.shape != tap.shape:
                raise RuntimeError(
                    f"SkipDecoder: decoder layer {j} gives {tuple(x.shape)}, its encoder tap "
                    f"is {tuple(tap.shape)}"
                )
            x = x + self.gammas[j] * tap
        taps.clear()
        return x


def add_unet_skips(generator: ResnetGenerator) -> None:
    """Join the generator's encoder and decoder by gated skips (in place; see the module)."""
    encoder, decoder = generator.encoder, generator.decoder
    if not isinstance(encoder, nn.Sequential) or not isinstance(decoder, nn.Sequential):
        raise TypeError(
            "add_unet_skips: expected a generator with nn.Sequential encoder and decoder"
        )
    if len(encoder) == 0 or len(encoder) != len(decoder):
        raise ValueError(
            f"add_unet_skips: expected as many decoder layers as encoder layers (at least one); "
            f"got {len(encoder)} and {len(decoder)}"
        )
    taps: list[torch.Tensor] = []
    # add_module replaces the registered children under their names
    generator.add_module("encoder", TapEncoder(encoder, taps))
    generator.add_module("decoder", SkipDecoder(decoder, taps))
