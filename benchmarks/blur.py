"""A fixed binomial blur after each of the generators' upsampling convolutions.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

A stride-2 transposed convolution whose kernel size is not a multiple of its stride gives
the output pixels uneven numbers of kernel taps, the source of the checkerboard (Odena et al.
2016). StyleGAN2 (Karras et al. 2020) follows each such upsampling with a fixed low-pass
filter; here a 3x3 binomial one (``[1, 2, 1]`` outer ``[1, 2, 1]`` / 16, reflect padding),
inserted between the transposed convolution and its InstanceNorm, so the learned weights and
their state-dict keys are the recipe's (the filter is a non-persistent buffer).

:func:`add_down_blur` is the other half of the same method: StyleGAN2 also low-passes before
each stride-2 convolution that downsamples (the blur-then-subsample order of Zhang 2019,
"Making Convolutional Networks Shift-Invariant Again", in its cheap form: the strided
convolution itself subsamples), so that what the layer keeps does not alias. The filter goes
before the convolution; the weights and keys again stay the recipe's.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Blur", "add_down_blur", "add_up_blur"]


class Blur(nn.Module):
    """A depthwise 3x3 binomial low-pass filter: ``(N, C, H, W)`` in, the same shape out.

    Each output pixel is ``sum(k[i, j] * x[.., y + i - 1, x + j - 1])`` with ``k = [1, 2, 1]
    outer [1, 2, 1] / 16`` (weights summing to 1, so constant images pass unchanged) and the
    borders reflected. No parameters.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"Blur: channels must be a positive integer; got {channels!r}")
        row = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(row, row) / 16
        self.channels = channels
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"Blur: expected a (N, {self.channels}, H, W) tensor; got {tuple(x.shape)}"
            )
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        kernel = cast(torch.Tensor, self.kernel).to(dtype=x.dtype)
        return F.conv2d(padded, kernel, groups=self.channels)


def add_up_blur(generator: nn.Module) -> None:
    """Insert a :class:`Blur` after the transposed convolution of every upsampling layer of a
    :class:`~unpaired_i2i.ResnetGenerator` (``generator.decoder``), before its norm."""
    decoder = generator.decoder
    if not isinstance(decoder, nn.Sequential):
        raise TypeError(
            f"add_up_blur: expected a generator with an nn.Sequential decoder; got "
            f"{type(decoder).__name__}"
        )
    count = 0
    for i, layer in enumerate(decoder):
        conv = getattr(layer, "conv", None)
        if not isinstance(conv, nn.ConvTranspose2d):
            continue
        parts = OrderedDict(layer.named_children())
        rebuilt: OrderedDict[str, nn.Module] = OrderedDict()
        for name, module in parts.items():
            rebuilt[name] = module
            if name == "conv":
                rebuilt["blur"] = Blur(conv.out_channels).to(conv.weight.device)
        decoder[i] = nn.Sequential(rebuilt)
        count += 1
    if count == 0:
        raise ValueError(
            "add_up_blur: expected a generator whose decoder upsamples with transposed "
            "convolutions; found none"
        )


def add_down_blur(layers: nn.Module) -> int:
    """Insert a :class:`Blur` before the convolution of every stride-2 ``nn.Conv2d`` layer of
    ``layers``, an ``nn.Sequential`` of ``ConvNormAct``-like layers (a
    :class:`~unpaired_i2i.ResnetGenerator`'s ``encoder``, a
    :class:`~unpaired_i2i.ConvDiscriminator`'s ``features``); returns how many it filtered."""
    if not isinstance(layers, nn.Sequential):
        raise TypeError(
            f"add_down_blur: expected an nn.Sequential of layers; got {type(layers).__name__}"
        )
    count = 0
    for i, layer in enumerate(layers):
        conv = getattr(layer, "conv", None)
        if not isinstance(conv, nn.Conv2d) or conv.stride != (2, 2):
            continue
        rebuilt: OrderedDict[str, nn.Module] = OrderedDict()
        rebuilt["blur"] = Blur(conv.in_channels).to(conv.weight.device)
        rebuilt.update(layer.named_children())
        layers[i] = nn.Sequential(rebuilt)
        count += 1
    if count == 0:
        raise ValueError("add_down_blur: expected layers with stride-2 convolutions; found none")
    return count
