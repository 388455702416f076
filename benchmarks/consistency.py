"""Balanced consistency regularisation of the discriminators (bCR; Zhao et al. 2021).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Each discriminator's loss adds ``WEIGHT * (mean((D(T(real)) - D(real))**2) + mean((D(T(fake))
- D(fake))**2))``, with ``T`` a random horizontal flip and a random shift of up to 1/8 of the
size (each image its own draw; :func:`~unpaired_i2i.diff_augment`'s translation) and
``WEIGHT`` 10 (the paper's lambda for real and for fake images). Unlike augmenting what the
discriminators judge (DiffAugment), the adversarial terms see the images as they are; the
discriminators are only asked to score an image and its shifted, mirrored copy alike. The
draws come from torch's global generator, which the checkpoints carry, so a resumed run draws
the same.
"""

from __future__ import annotations

import torch
from torch import nn

from unpaired_i2i import CycleTrainer, diff_augment

__all__ = ["WEIGHT", "ConsistencyTrainer", "flip_and_shift"]

WEIGHT = 10.0


def flip_and_shift(images: torch.Tensor) -> torch.Tensor:
    """``images`` ``(N, C, H, W)``, each mirrored left-right with probability 1/2 and shifted
    by up to ``H/8``, ``W/8`` pixels (zeros coming in); the same shape."""
    flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
    mirrored = torch.where(flip, images.flip(-1), images)
    return diff_augment(mirrored, ("translation",))


class ConsistencyTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminator losses add bCR's consistency terms."""

    def compute_discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        loss = super().compute_discriminator_loss(discriminator, real, fake)
        both = torch.cat([real, fake])
        scores: torch.Tensor = discriminator(torch.cat([both, flip_and_shift(both)]))
        plain, moved = scores.float().chunk(2)
        n = real.shape[0]
        real_term = (moved[:n] - plain[:n]).pow(2).mean()
        fake_term = (moved[n:] - plain[n:]).pow(2).mean()
        total: torch.Tensor = loss + WEIGHT * (real_term + fake_term)
        return total
