"""A per-pixel affine colour transform of the input in the generators' output (local affine).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The improved recipe's residual generators write ``tanh(atanh(x) + r)``: the input's full
resolution detail reaches the output only through the fixed skip ``atanh(x)``, and to change it
(smooth the ground under snow, keep a tree's dark edges) the generator must write the change
``r`` itself from features that passed the ``H/4`` bottleneck. Photo enhancement and
photorealistic style transfer model such edits as *local affine colour transforms* of the input
(Gharbi et al. 2017, HDRNet's bilateral grid of affine coefficients; Luan et al. 2017, the local
affine constraint of deep photo style transfer): smooth per-pixel coefficients that multiply the
input's own pixels, so the output's detail is the input's, rescaled and mixed between channels.
Here the generator's last convolution also writes a ``3 x 3`` matrix ``M`` per pixel and the
output becomes ``tanh(atanh(x) + r + M x)`` (``x`` in ``[-1, 1]``, mixed per pixel, ``3 x 3``).
The matrix's nine output channels start at zero, weights and bias (as SAGAN's attention scale,
ReZero): the untrained generator is the recipe's, bit for bit, its gradient opens them, and
the prototype draws no random numbers, so every other weight of the run is the recipe's.
The stem's and head's state-dict keys move under ``stem.stem.`` and ``head.head.``
(``head.head.conv.weight`` has 12 output channels, the first three the recipe's).
"""

from __future__ import annotations

import torch
from torch import nn

from unpaired_i2i import ResnetGenerator

__all__ = ["AffineHead", "InputTap", "add_local_affine"]


class InputTap(nn.Module):
    """The generator's stem, run as before, keeping its input ``x`` (``(N, 3, H, W)`` in
    ``[-1, 1]``) in ``taps`` (a list shared with the :class:`AffineHead`)."""

    def __init__(self, stem: nn.Module, taps: list[torch.Tensor]) -> None:
        super().__init__()
        self.stem = stem
        self.taps = taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.taps.clear()
        self.taps.append(x)
        out: torch.Tensor = self.stem(x)
        return out


class AffineHead(nn.Module):
    """The generator's head with 12 output channels: the residual ``r`` (channels 0-2) plus the
    per-pixel matrix ``M`` (channels 3-11, row-major, ``M[i, j]`` at ``3 + 3 * i + j``) applied
    to the tapped input: returns ``r + M x``, ``(N, 3, H, W)``."""

    def __init__(self, head: nn.Module, taps: list[torch.Tensor]) -> None:
        super().__init__()
        self.head = head
        self.taps = taps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if len(self.taps) != 1:
            raise RuntimeError(
                f"AffineHead: expected the input tapped by this forward's stem; got "
                f"{len(self.taps)} taps (run the generator, not the head alone)"
            )
        x = self.taps.pop()
        out = self.head(h)
        n, _, height, width = out.shape
        r, m = out[:, :3], out[:, 3:].reshape(n, 3, 3, height, width)
        mixed = (m * x.to(m.dtype).unsqueeze(1)).sum(dim=2)
        result: torch.Tensor = r + mixed
        return result


def add_local_affine(generator: ResnetGenerator) -> None:
    """Give a residual generator the per-pixel affine term (in place; see the module)."""
    if not generator.residual or generator.in_channels != 3 or generator.out_channels != 3:
        raise ValueError(
            "add_local_affine: expected a residual generator with 3 input and 3 output channels; "
            f"got residual={generator.residual}, in_channels={generator.in_channels}, "
            f"out_channels={generator.out_channels}"
        )
    head = generator.head
    conv = getattr(head, "conv", None)
    if not isinstance(conv, nn.Conv2d) or conv.out_channels != 3 or conv.bias is None:
        raise TypeError(
            "add_local_affine: expected a head with a 3-channel biased nn.Conv2d named 'conv'; "
            f"got {conv!r}"
        )
    # skip_init draws no random numbers: the recipe's other weights stay its own draws
    wide = nn.utils.skip_init(  # type: ignore[no-untyped-call]
        nn.Conv2d,
        conv.in_channels,
        12,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    assert wide.bias is not None
    with torch.no_grad():
        wide.weight.zero_()
        wide.bias.zero_()
        wide.weight[:3].copy_(conv.weight)
        wide.bias[:3].copy_(conv.bias)
    head.add_module("conv", wide)
    taps: list[torch.Tensor] = []
    generator.add_module("stem", InputTap(generator.stem, taps))
    generator.add_module("head", AffineHead(head, taps))
