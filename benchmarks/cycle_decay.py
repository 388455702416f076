"""The cycle weight decayed over the run ("CycleGAN with better cycles", Wang and Lin 2017).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Cycle consistency is what keeps the scene early in training, when the discriminators say
little; late in training it also holds the generators back from changes the other domain asks
for (a winter scene cannot be turned back into exactly its summer). Wang and Lin decay the cycle
weight as training goes on; here the cycle terms are scaled by a factor falling linearly from
1 at the first step to ``FINAL`` (one half) at the run's last step (``fit(max_steps=...)``),
i.e. ``lambda_cycle`` from 10 to 5. It draws no random numbers, and the factor depends on the
step alone, so a resumed run is the same run.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["FINAL", "CycleDecayTrainer"]

FINAL = 0.5


class CycleDecayTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose cycle terms are scaled by :meth:`cycle_factor`."""

    def cycle_factor(self) -> float:
        """1 at step 0, falling linearly to ``FINAL`` at ``fit``'s ``max_steps``."""
        total = self.state.max_steps
        if total is None or total < 1:
            raise ValueError(
                f"CycleDecayTrainer: expected fit(max_steps=N) with N >= 1; got {total!r}"
            )
        return 1.0 - (1.0 - FINAL) * min(1.0, self.state.step / total)

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        terms = super().compute_generator_loss(real_x, real_y, outputs)
        factor = self.cycle_factor()
        terms["cycle_x"] = terms["cycle_x"] * factor
        terms["cycle_y"] = terms["cycle_y"] * factor
        parts = ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y", "identity_x", "identity_y")
        terms["g_total"] = torch.stack([terms[k] for k in parts]).sum()
        return terms
