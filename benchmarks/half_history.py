"""SimGAN's half-history discriminator batches (Shrivastava et al. 2017) for CycleGAN.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

The reference's image pool, once full, hands each discriminator an old translation in place of
the newest one half of the time, so in half the steps the discriminators never see what the
generators make now. SimGAN, where the history buffer comes from, builds each discriminator
batch from both: half the newest translations, half drawn from the history. With the recipe's
one image per step, :class:`HalfHistoryTrainer` scores the newest translation together with
what the pool returns for it (the pool's own draw, stored and returned as
:class:`~unpaired_i2i.ImagePool` does: an old image half of the time once full, else the newest
again), the fake term averaged over the two. The same random numbers in the same order as
:class:`~unpaired_i2i.CycleTrainer`, so a run resumes exactly; the discriminators score one more
image per step (by multiply-adds, a few percent of the step's work).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["HalfHistoryTrainer"]


class HalfHistoryTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminators score ``cat(newest, pool.query(newest))``."""

    def _discriminator_step(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer_d.zero_grad(set_to_none=True)
        fmt = self._memory_format()
        newest_y, newest_x = outputs["fake_y"].detach(), outputs["fake_x"].detach()
        fake_y = torch.cat([newest_y, self.pool_y.query(newest_y)]).contiguous(memory_format=fmt)
        fake_x = torch.cat([newest_x, self.pool_x.query(newest_x)]).contiguous(memory_format=fmt)
        with self._autocast():
            loss_d_y = self.compute_discriminator_loss(self.networks.d_y, real_y, fake_y)
            loss_d_x = self.compute_discriminator_loss(self.networks.d_x, real_x, fake_x)
        self._backward_and_step(loss_d_x + loss_d_y, self.optimizer_d)
        return loss_d_x, loss_d_y
