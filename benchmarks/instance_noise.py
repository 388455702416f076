"""Instance noise (Sønderby et al. 2017, Arjovsky and Bottou 2017), annealed to zero.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Everything a discriminator scores, real or generated, in its own step and in the generators'
adversarial terms, gets Gaussian noise added, its standard deviation ``SIGMA`` (in ``[-1, 1]``
image units) at the first step and falling linearly to 0 at the run's last step
(``fit(max_steps=...)``): early on the two distributions overlap, so the discriminators'
gradients stay informative; by the end the images are seen as they are. The noise is drawn
from torch's global generator, which the checkpoints carry, so a resumed run draws the same.
"""

from __future__ import annotations

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["SIGMA", "InstanceNoiseTrainer"]

SIGMA = 0.1


class InstanceNoiseTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminators see ``images + sigma(step) * N(0, 1)``, after
    any ``d_augment``; ``sigma`` falls from ``SIGMA`` to 0 over ``fit``'s ``max_steps``."""

    def sigma(self) -> float:
        """The noise's standard deviation at the step being taken."""
        total = self.state.max_steps
        if total is None or total < 1:
            raise ValueError(
                f"InstanceNoiseTrainer: expected fit(max_steps=N) with N >= 1; got {total!r}"
            )
        return SIGMA * max(0.0, 1.0 - self.state.step / total)

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        seen = super()._augment(images)
        sigma = self.sigma()
        return seen + sigma * torch.randn_like(seen) if sigma > 0 else seen
