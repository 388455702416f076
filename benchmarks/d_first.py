"""The discriminators' update before the generators' in each step (the usual GAN order).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The reference updates the generators first, against discriminators that have not yet seen
their current translations, and then the discriminators on those translations (through the
image pools). Most GAN training since Goodfellow et al.'s algorithm (DCGAN, BigGAN, StyleGAN)
takes the other order: the discriminators step first, then the generators are scored by the
discriminators just updated on their own outputs, so each generator step follows the newest
judgement instead of lagging one step behind it. :class:`DFirstTrainer` keeps everything else:
the same translations (one forward pass of the generators, before either update), the same
pool queries and losses, one Adam step each, at the same cost. The discriminators' step is
bit-for-bit the reference's (the same fakes, made before the generators' update); only the
generators' step sees the updated discriminators. It draws the same random numbers in the same
order as :class:`~unpaired_i2i.CycleTrainer` (the pools'), so a run resumes exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from unpaired_i2i import CycleTrainer
from unpaired_i2i.training.objective import LOSS_KEYS

__all__ = ["DFirstTrainer"]


class DFirstTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose step updates the discriminators, then the generators.

    Float32 or bf16 (no GradScaler: with ``amp="fp16"`` the scaler's single update per step
    would need the reference order), no ``compile``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.scaler is not None or self.config.compile:
            raise ValueError("DFirstTrainer: expected amp other than 'fp16' and compile=False")

    def train_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update: translations, the discriminators' step, then the generators' step.

        Args:
            real_x: Images of domain X ``(N, C_x, H, W)`` in ``[-1, 1]``.
            real_y: Images of domain Y ``(N, C_y, H, W)`` in ``[-1, 1]``.

        Returns:
            The losses under :data:`~unpaired_i2i.training.objective.LOSS_KEYS`, as
            :meth:`CycleTrainer.train_step` returns them (the generators' terms scored by the
            updated discriminators).
        """
        x = self._to_device("real_x", real_x)
        y = self._to_device("real_y", real_y)
        self.model.train()
        self.optimizer_g.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.generator_forward(x, y)
        loss_d_x, loss_d_y = self._discriminator_step(x, y, outputs)
        self._set_d_requires_grad(False)
        try:
            with self._autocast():
                terms = self.compute_generator_loss(x, y, outputs)
            self._backward_and_step(terms["g_total"], self.optimizer_g)
        finally:
            self._set_d_requires_grad(True)
        losses = {key: terms[key].detach() for key in LOSS_KEYS[:7]}
        losses["d_x"] = loss_d_x.detach()
        losses["d_y"] = loss_d_y.detach()
        return losses
