"""R2, the zero-centred gradient penalty on generated images, next to R1 (R3GAN's objective).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Huang et al. 2024 ("The GAN is dead; long live the GAN! A Modern GAN Baseline", R3GAN) show that
a relativistic pairing loss with both zero-centred penalties, R1 on the real images and R2 on
the generated ones, converges locally where either penalty alone can fail (R1 alone lets the
discriminator's slope on the fakes grow until training oscillates), and train GANs with it
without the usual tricks. :class:`R2Trainer` adds ``r1_gamma / 2 * r1_penalty(D(fake), fake)``
to each discriminator's loss (the same gamma as the R1 term, as R3GAN uses one), scoring the
fakes a second time with gradients to their pixels; with the library's relativistic average loss
in its logistic form (``gan_mode="vanilla"``, ``relativistic=True``) and R1 (``r1_gamma``) this
is R3GAN's objective as far as the library has it (relativistic average rather than pairwise).
Float32 only, no ``compile``, no ``d_augment``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unpaired_i2i import CycleTrainer, r1_penalty

__all__ = ["R2Trainer"]


class R2Trainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminators' loss adds R2 with R1's ``r1_gamma``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        if cfg.r1_gamma <= 0 or self.amp != "off" or cfg.compile or cfg.d_augment:
            raise ValueError(
                "R2Trainer: expected r1_gamma > 0, amp='off', compile=False and no d_augment; "
                f"got r1_gamma={cfg.r1_gamma}, amp={self.amp!r}, compile={cfg.compile}, "
                f"d_augment={cfg.d_augment}"
            )

    def compute_discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        """The library's loss (with R1) plus ``r1_gamma / 2 * r1_penalty(D(fake), fake)``."""
        loss = super().compute_discriminator_loss(discriminator, real, fake)
        fake = fake.detach().requires_grad_(True)  # a new leaf: the pool's batch is untouched
        return loss + 0.5 * self.config.r1_gamma * r1_penalty(discriminator(fake), fake)
