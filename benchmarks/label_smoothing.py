"""One-sided label smoothing (Salimans et al. 2016) for the least-squares discriminators.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The discriminators are taught to score real images 0.9 instead of 1 (fakes stay at 0, hence
"one-sided"), so they are never rewarded for unbounded confidence on the real images; the
generators still aim at 1, the reference's target. Everything else (the 0.5 of the
discriminator loss, the means over patches, float32 under autocast) stays as it is.
"""

from __future__ import annotations

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["REAL_TARGET", "SmoothedLabelsTrainer"]

REAL_TARGET = 0.9


class SmoothedLabelsTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminators aim real scores at ``REAL_TARGET``
    (``gan_mode="lsgan"``, not relativistic)."""

    def _gan(
        self, pred: torch.Tensor, target_is_real: bool, *, for_discriminator: bool
    ) -> torch.Tensor:
        if self.config.gan_mode != "lsgan" or self.config.relativistic:
            raise ValueError(
                "SmoothedLabelsTrainer: expected gan_mode='lsgan' without relativistic; got "
                f"gan_mode={self.config.gan_mode!r}, relativistic={self.config.relativistic}"
            )
        if not target_is_real:
            target = 0.0
        else:
            target = REAL_TARGET if for_discriminator else 1.0
        return (pred.float() - target).square().mean()
