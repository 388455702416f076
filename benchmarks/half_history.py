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
again), the fake term averaged over the two: its pools are :class:`HalfHistoryPool`, so the
trainer's own discriminator step runs unchanged on the longer batch. The same random numbers in
the same order as :class:`~unpaired_i2i.CycleTrainer`, so a run resumes exactly; the
discriminators score one more image per step (by multiply-adds, a few percent of the step's
work).
"""

from __future__ import annotations

from typing import Any

import torch

from unpaired_i2i import CycleTrainer, ImagePool

__all__ = ["HalfHistoryPool", "HalfHistoryTrainer"]


class HalfHistoryPool(ImagePool):
    """An :class:`~unpaired_i2i.ImagePool` whose ``query`` returns the newest images followed by
    what the pool returns for them: ``(N, C, H, W)`` in, ``(2N, C, H, W)`` out, detached."""

    def query(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([images.detach(), super().query(images)])


class HalfHistoryTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose discriminators score ``cat(newest, pool.query(newest))``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the trainer's pools, each continued (stored images and random state) as a
        # HalfHistoryPool, so the draws are the ones CycleTrainer's pools would make
        for name in ("pool_x", "pool_y"):
            pool: ImagePool = getattr(self, name)
            half = HalfHistoryPool(pool.size, seed=0)
            half.load_state_dict(pool.state_dict())
            setattr(self, name, half)
