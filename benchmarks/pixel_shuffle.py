"""Sub-pixel convolution upsampling with ICNR initialisation in the generators' decoder.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Each stride-2 transposed convolution of the decoder becomes a stride-1 3x3 convolution to four
times the channels followed by ``PixelShuffle(2)`` (the sub-pixel convolution of Shi et al.
2016), initialised with ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel
convolution"): the four sub-pixel kernels of each output channel start equal, so the untrained
layer is a 3x3 convolution followed by nearest-neighbour upsampling, with no checkerboard, and
training may then make the four positions differ. The shared kernel is the recipe's own draw,
the transposed convolution's weight turned into its equivalent stride-1 kernel (input and output
axes swapped, flipped in space), so the prototype draws no random numbers and every other weight
of the run is the recipe's. Reflect padding, as in the rest of the generator.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SCALE", "SubPixelUp", "add_pixel_shuffle", "icnr_weight"]

SCALE = 2


def icnr_weight(kernel: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """ICNR: each output channel's kernel repeated for the ``scale ** 2`` sub-pixel positions.

    Args:
        kernel: A stride-1 conv weight ``(C_out, C_in, k, k)``.
        scale: The upsampling factor ``r``.

    Returns:
        ``(C_out * r * r, C_in, k, k)``: channels ``c * r * r`` to ``c * r * r + r * r - 1``
        (the ones ``PixelShuffle(r)`` places in output channel ``c``) all equal ``kernel[c]``.
    """
    if kernel.dim() != 4:
        raise ValueError(
            f"icnr_weight: expected a (C_out, C_in, k, k) kernel; got shape {tuple(kernel.shape)}"
        )
    return kernel.repeat_interleave(scale * scale, dim=0)


class SubPixelUp(nn.Sequential):
    """``(N, C_in, H, W)`` -> ``(N, C_out, 2H, 2W)``: a reflect-padded 3x3 conv to ``4 * C_out``
    channels, then ``PixelShuffle(2)``; ``SubPixelUp.from_transposed`` builds it with ICNR."""

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels * SCALE * SCALE,
                3,
                padding=1,
                padding_mode="reflect",
                bias=bias,
            ),
            nn.PixelShuffle(SCALE),
        )
        self.in_channels = in_channels
        self.out_channels = out_channels

    @classmethod
    def from_transposed(cls, conv: nn.ConvTranspose2d) -> SubPixelUp:
        """The sub-pixel layer whose ICNR kernel is ``conv``'s weight as a stride-1 kernel."""
        if conv.stride != (SCALE, SCALE) or conv.kernel_size != (3, 3) or conv.groups != 1:
            raise ValueError(
                "SubPixelUp.from_transposed: expected a 3x3 stride-2 ConvTranspose2d; got "
                f"kernel {conv.kernel_size}, stride {conv.stride}, groups {conv.groups}"
            )
        layer = cls(conv.in_channels, conv.out_channels, bias=conv.bias is not None)
        first = layer[0]
        assert isinstance(first, nn.Conv2d)
        with torch.no_grad():
            kernel = conv.weight.transpose(0, 1).flip(-2, -1)  # (C_out, C_in, 3, 3)
            first.weight.copy_(icnr_weight(kernel))
            if conv.bias is not None and first.bias is not None:
                first.bias.copy_(conv.bias.repeat_interleave(SCALE * SCALE))
        return layer.to(conv.weight.device)


def add_pixel_shuffle(generator: nn.Module) -> None:
    """Replace the transposed convolution of every upsampling layer of a
    :class:`~unpaired_i2i.ResnetGenerator` (``generator.decoder``) by :class:`SubPixelUp`."""
    decoder = generator.decoder
    if not isinstance(decoder, nn.Sequential):
        raise TypeError(
            f"add_pixel_shuffle: expected a generator with an nn.Sequential decoder; got "
            f"{type(decoder).__name__}"
        )
    count = 0
    for layer in decoder:
        conv = getattr(layer, "conv", None)
        if isinstance(conv, nn.ConvTranspose2d):
            layer.conv = SubPixelUp.from_transposed(conv)
            count += 1
    if count == 0:
        raise ValueError(
            "add_pixel_shuffle: expected a generator whose decoder upsamples with transposed "
            "convolutions; found none"
        )
