"""Differentiable augmentation of what the discriminators see (DiffAugment).

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training": the real and
the generated images are augmented the same random way *every time a discriminator scores
them*, in the discriminator's step and in the generator's, so the discriminator cannot
memorise a small training set and the generator's gradient still reaches it through the
augmentation. :func:`diff_augment` is the function; ``TrainConfig.d_augment`` turns it on in
:class:`~unpaired_i2i.CycleTrainer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F

__all__ = ["AUGMENT_POLICIES", "AugmentPolicy", "diff_augment"]

AugmentPolicy: TypeAlias = Literal["color", "translation", "cutout"]
"""One augmentation of :func:`diff_augment`."""
AUGMENT_POLICIES: tuple[AugmentPolicy, ...] = ("color", "translation", "cutout")
"""The augmentations :func:`diff_augment` knows, in the order it applies them."""


def check_policy(name: str, policy: object) -> tuple[AugmentPolicy, ...]:
    """``policy`` as a tuple of distinct :data:`AUGMENT_POLICIES`, or ``ValueError`` naming it."""
    if isinstance(policy, str) or not isinstance(policy, Sequence):
        raise ValueError(
            f"{name} must be a sequence of augmentations from {list(AUGMENT_POLICIES)} "
            f"(e.g. ('translation', 'cutout')); got {policy!r}"
        )
    unknown = [p for p in policy if p not in AUGMENT_POLICIES]
    if unknown or len(set(policy)) != len(policy):
        raise ValueError(
            f"{name} must name distinct augmentations from {list(AUGMENT_POLICIES)}; got "
            f"{tuple(policy)!r}" + (f" (unknown: {unknown})" if unknown else " (repeated)")
        )
    return tuple(policy)


def _uniform(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def _color(x: torch.Tensor) -> torch.Tensor:
    # Brightness in [-0.5, 0.5), saturation x [0, 2), contrast x [0.5, 1.5) (the paper's).
    x = x + (_uniform(x, 1, 1, 1) - 0.5)
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (_uniform(x, 1, 1, 1) * 2) + mean_c
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, 1, 1, 1) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float) -> torch.Tensor:
    # Each image shifted by a whole number of pixels, up to ratio of its size in each
    # direction; what comes in from outside is 0 (mid-grey in [-1, 1]).
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device)
    shift_x = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    # Index into the image padded by one zero pixel on every side: indices that fall
    # outside clamp onto that border.
    rows = (rows + shift_y + 1).clamp(0, h + 1)
    cols = (cols + shift_x + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (N, H+2, W+2, C)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, ratio: float) -> torch.Tensor:
    # One rectangle of ratio x the image's height and width per image set to 0, at a
    # uniformly drawn centre (clipped at the image's edges).
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    off_y = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device)
    off_x = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside_y = (rows >= off_y - size_y // 2) & (rows < off_y - size_y // 2 + size_y)
    inside_x = (cols >= off_x - size_x // 2) & (cols < off_x - size_x // 2 + size_x)
    keep = ~(inside_y & inside_x)
    return x * keep.unsqueeze(1).to(x.dtype)


def diff_augment(
    x: torch.Tensor,
    policy: Sequence[AugmentPolicy] = ("translation", "cutout"),
    *,
    translation_ratio: float = 0.125,
    cutout_ratio: float = 0.5,
) -> torch.Tensor:
    """Augment each image of a batch its own random way, differentiably (DiffAugment).

    The augmentations run in the order of :data:`AUGMENT_POLICIES` whatever the order of
    ``policy``, and draw their parameters per image from torch's global generator of
    ``x.device`` (so a run's RNG state, which checkpoints keep, covers them):

    * ``"color"``: brightness ``+ U[-0.5, 0.5)``, saturation ``x U[0, 2)`` around each pixel's
      channel mean, contrast ``x U[0.5, 1.5)`` around the image's mean;
    * ``"translation"``: a shift by a whole number of pixels, uniform in
      ``[-translation_ratio * size, translation_ratio * size]`` per axis; pixels coming in from
      outside are 0;
    * ``"cutout"``: a ``cutout_ratio * H`` by ``cutout_ratio * W`` rectangle at a uniformly
      drawn centre set to 0.

    0 is mid-grey for images in ``[-1, 1]``. The gradient with respect to ``x`` passes
    through every augmentation (each is a gather, a mask or an affine map).

    Args:
        x: Images ``(N, C, H, W)``, floating point, usually in ``[-1, 1]`` (the output may
            leave that range under ``"color"``).
        policy: Augmentations to apply, a sequence of distinct names from
            :data:`AUGMENT_POLICIES`; empty returns ``x`` itself.
        translation_ratio: Largest shift as a fraction of the size, in ``[0, 1)``.
        cutout_ratio: Side of the cut-out rectangle as a fraction of the size, in ``[0, 1]``.

    Returns:
        A tensor of ``x``'s shape, dtype and device.

    Raises:
        ValueError: ``x`` is not a 4-D floating-point tensor, ``policy`` names something
            else, or a ratio is out of range.
    """
    chosen = check_policy("policy", policy)
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = (
            f"a {x.dim()}-D {x.dtype} tensor of shape {tuple(x.shape)}"
            if isinstance(x, torch.Tensor)
            else type(x).__name__
        )
        raise ValueError(f"x must be a 4-D floating-point tensor (N, C, H, W); got {got}")
    if not 0.0 <= translation_ratio < 1.0:
        raise ValueError(f"translation_ratio must be in [0, 1); got {translation_ratio!r}")
    if not 0.0 <= cutout_ratio <= 1.0:
        raise ValueError(f"cutout_ratio must be in [0, 1]; got {cutout_ratio!r}")
    if "color" in chosen:
        x = _color(x)
    if "translation" in chosen:
        x = _translation(x, translation_ratio)
    if "cutout" in chosen:
        x = _cutout(x, cutout_ratio)
    return x
