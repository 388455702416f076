"""The least-squares GAN loss with the a-b-c coding ``-1, 1, 0`` (Mao et al. 2017, section 3.2).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The reference's least-squares loss uses the 0-1 coding: the discriminators push real scores
to 1 and fake ones to 0, the generators push fake scores to 1. With ``b - c = 1`` and
``b - a = 2`` the objective minimises the Pearson chi-squared divergence between ``p_data +
p_g`` and ``2 p_g`` (the paper's theorem); ``a = -1, b = 1, c = 0``: the discriminators push
real scores to 1 and fake ones to -1, the generators push fake scores to 0, the point between
the two the discriminators are taught. Everything else (the 0.5 of the discriminator loss,
the means over patches, float32 under autocast) stays as it is.
"""

from __future__ import annotations

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["PearsonLSGANTrainer"]


class PearsonLSGANTrainer(CycleTrainer):
    """:class:`CycleTrainer` with the ``-1, 1, 0`` least-squares coding (``gan_mode="lsgan"``,
    not relativistic)."""

    def _gan(
        self, pred: torch.Tensor, target_is_real: bool, *, for_discriminator: bool
    ) -> torch.Tensor:
        if self.config.gan_mode != "lsgan" or self.config.relativistic:
            raise ValueError(
                "PearsonLSGANTrainer: expected gan_mode='lsgan' without relativistic; got "
                f"gan_mode={self.config.gan_mode!r}, relativistic={self.config.relativistic}"
            )
        if for_discriminator:
            target = 1.0 if target_is_real else -1.0
        elif target_is_real:
            target = 0.0
        else:
            raise ValueError(
                "the generator's loss has a real target only; got target_is_real=False"
            )
        return (pred.float() - target).square().mean()
