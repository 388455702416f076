"""Running an image generator on any ``H`` and ``W``: its size rules and the pad/resize fit.

The one home of the attribute lookups (``downsampling_factor``, ``min_size``, ``in_channels``),
the checked generator call, the mirror self-ensemble and the "fit" that makes any image size
acceptable, shared by :mod:`unpaired_i2i.inference`, :mod:`unpaired_i2i.tiling`,
:mod:`unpaired_i2i.export` and :func:`unpaired_i2i.evaluate_paired`.
Private: the public API never exposes these names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FIT_MODES",
    "FitMode",
    "call_generator",
    "divisor_of",
    "fitted_size",
    "in_channels_of",
    "least_size",
    "min_size_of",
    "run_fitted",
]

FitMode: TypeAlias = Literal["pad", "resize"]
"""How :func:`~unpaired_i2i.translate` makes ``H`` and ``W`` divisible by the generator's
downsampling factor."""

FIT_MODES: tuple[FitMode, ...] = ("pad", "resize")


def divisor_of(generator: nn.Module, default: int) -> int:
    """``generator.downsampling_factor`` (``H`` and ``W`` must be multiples of it), or ``default``.

    Raises:
        ValueError: The attribute exists but is not a positive integer.
    """
    factor = getattr(generator, "downsampling_factor", default)
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(
            f"{type(generator).__name__}.downsampling_factor must be a positive integer; "
            f"got {factor!r}"
        )
    return factor


def min_size_of(generator: nn.Module, divisor: int) -> int:
    """The smallest ``H``/``W`` the generator accepts: ``generator.min_size``, else ``divisor``."""
    value = getattr(generator, "min_size", divisor)
    return value if isinstance(value, int) and value >= 1 else divisor


def least_size(divisor: int, min_size: int) -> int:
    """The smallest multiple of ``divisor`` that is at least ``min_size``."""
    return math.ceil(min_size / divisor) * divisor


def in_channels_of(generator: nn.Module) -> int:
    """``generator.in_channels``, or 3 when it has no such integer attribute."""
    channels = getattr(generator, "in_channels", 3)
    return channels if isinstance(channels, int) else 3


def call_generator(generator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``generator(x)``, checked to be a tensor (``nn.Module.__call__`` returns ``Any``).

    Raises:
        TypeError: The generator returned something else.
    """
    out = generator(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{type(generator).__name__} returned {type(out).__name__}, not a Tensor")
    return out


def mirror_ensemble(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The mirror self-ensemble ``0.5 * (run(x) + flip(run(flip(x))))``.

    ``flip`` mirrors the last (width) dimension. The average is taken in float32 at least
    (``promote_types(out, float32)``), whatever precision ``run`` returns (e.g. under
    autocast).
    """
    plain = run(x)
    mirrored = run(x.flip(-1)).flip(-1)
    dtype = torch.promote_types(plain.dtype, torch.float32)
    return plain.to(dtype).add_(mirrored.to(dtype)).mul_(0.5)


def fitted_size(n: int, divisor: int, min_size: int, fit: FitMode) -> int:
    """The side length the generator runs at for an image side of ``n`` pixels."""
    least = least_size(divisor, min_size)
    if fit == "pad":
        return max(math.ceil(n / divisor) * divisor, least)
    return max(round(n / divisor) * divisor, least)


def run_fitted(
    x: torch.Tensor,
    run: Callable[[torch.Tensor], torch.Tensor],
    *,
    divisor: int,
    min_size: int,
    fit: FitMode,
) -> torch.Tensor:
    """Apply ``run`` (a generator call) to ``x`` of any ``H``/``W``; the result keeps ``H``/``W``.

    ``fit="pad"`` reflect-pads ``x``, split evenly between opposite sides, up to the fitted
    size and crops the result; ``fit="resize"`` resizes to the fitted size and back (bilinear,
    antialiased, clamped to ``[-1, 1]``). Padding and resizing happen on ``x``'s device.

    Args:
        x: Images ``(N, C, H, W)``.
        run: Maps ``(N, C, H', W')`` with ``H'``/``W'`` fitted to ``(N, C_out, H', W')``.
        divisor: ``H'`` and ``W'`` are multiples of this.
        min_size: ``H'`` and ``W'`` are at least this.
        fit: ``"pad"`` or ``"resize"``.

    Returns:
        ``(N, C_out, H, W)``, where ``run`` put it.
    """
    h, w = x.shape[-2:]
    th = fitted_size(h, divisor, min_size, fit)
    tw = fitted_size(w, divisor, min_size, fit)
    if (th, tw) == (h, w):
        return run(x)
    if fit == "pad":
        top, left = (th - h) // 2, (tw - w) // 2
        bottom, right = th - h - top, tw - w - left
        # Reflect padding needs each pad to be smaller than the side; tiny images replicate.
        mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
        y = run(F.pad(x, (left, right, top, bottom), mode=mode))
        return y[..., top : top + h, left : left + w]
    resized = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
    y = run(resized)
    y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return y.clamp(-1.0, 1.0)
