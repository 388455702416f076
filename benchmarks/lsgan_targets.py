"""Other targets for the least-squares GAN loss: two prototypes for the recipes benchmark.

Prototypes for ``benchmarks/recipes.py``: each is screened as a candidate on top of the
improved recipe before any of it goes into the library. The reference's least-squares loss
uses the 0-1 coding: the discriminators push real scores to 1 and fake ones to 0, the
generators push fake scores to 1. Each trainer here changes only those targets; everything
else (the 0.5 of the discriminator loss, the means over patches, float32 under autocast) stays
as it is.

- :class:`PearsonLSGANTrainer`: the a-b-c coding ``-1, 1, 0`` (Mao et al. 2017, section 3.2).
  With ``b - c = 1`` and ``b - a = 2`` the objective minimises the Pearson chi-squared
  divergence between ``p_data + p_g`` and ``2 p_g`` (the paper's theorem): the discriminators
  push real scores to 1 and fake ones to -1, the generators push fake scores to 0, the point
  between the two the discriminators are taught.
- :class:`SmoothedLabelsTrainer`: one-sided label smoothing (Salimans et al. 2016): the
  discriminators are taught to score real images 0.9 instead of 1 (fakes stay at 0, hence
  "one-sided"), so they are never rewarded for unbounded confidence on the real images; the
  generators still aim at 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["LSGANTargetsTrainer", "PearsonLSGANTrainer", "SmoothedLabelsTrainer"]


class LSGANTargetsTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose least-squares loss (``gan_mode="lsgan"``, not relativistic)
    aims scores at ``targets[(for_discriminator, target_is_real)]``."""

    targets: ClassVar[Mapping[tuple[bool, bool], float]] = {
        (True, True): 1.0,
        (True, False): 0.0,
        (False, True): 1.0,
        (False, False): 0.0,
    }

    def _gan(
        self, pred: torch.Tensor, target_is_real: bool, *, for_discriminator: bool
    ) -> torch.Tensor:
        if self.config.gan_mode != "lsgan" or self.config.relativistic:
            raise ValueError(
                f"{type(self).__name__}: expected gan_mode='lsgan' without relativistic; got "
                f"gan_mode={self.config.gan_mode!r}, relativistic={self.config.relativistic}"
            )
        target = self.targets.get((for_discriminator, target_is_real))
        if target is None:
            raise ValueError(
                "the generator's loss has a real target only; got target_is_real=False"
            )
        return (pred.float() - target).square().mean()


class PearsonLSGANTrainer(LSGANTargetsTrainer):
    """The ``-1, 1, 0`` coding: real 1 and fake -1 for the discriminators, 0 for the generators
    (which have no fake target)."""

    targets: ClassVar[Mapping[tuple[bool, bool], float]] = {
        (True, True): 1.0,
        (True, False): -1.0,
        (False, True): 0.0,
    }


REAL_TARGET = 0.9
"""The discriminators' target for real scores under :class:`SmoothedLabelsTrainer`."""


class SmoothedLabelsTrainer(LSGANTargetsTrainer):
    """The discriminators aim real scores at ``REAL_TARGET``; every other target as the
    reference's."""

    targets: ClassVar[Mapping[tuple[bool, bool], float]] = {
        **LSGANTargetsTrainer.targets,
        (True, True): REAL_TARGET,
    }
