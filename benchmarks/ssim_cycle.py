"""A cycle term that mixes SSIM and L1 (Zhao et al. 2017, "Loss functions for image
restoration with neural networks").

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Each cycle term ``lambda_cycle * L1(rec, real)`` becomes ``lambda_cycle * ((1 - ALPHA) *
L1(rec, real) + ALPHA * (1 - SSIM(rec, real)))`` with Zhao et al.'s ``ALPHA = 0.84``. The L1
is the library's (in ``[-1, 1]`` units); the SSIM is the library's
:func:`~unpaired_i2i.ssim` (Gaussian 11x11 window, sigma 1.5) of both images mapped to
``[0, 1]``, averaged over the batch. SSIM compares local means, contrasts and structure, so the
cycle asks the generators to keep the scene's edges and textures rather than only its
per-pixel values. It draws no random numbers, so a resumed run is the same run.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from unpaired_i2i import CycleTrainer, cycle_consistency_loss, ssim

__all__ = ["ALPHA", "SSIMCycleTrainer", "mixed_cycle_loss"]

ALPHA = 0.84


def mixed_cycle_loss(real: torch.Tensor, rec: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * ((1 - ALPHA) * L1(rec, real) + ALPHA * mean(1 - SSIM(rec, real)))``.

    Args:
        real: ``(N, C, H, W)`` in ``[-1, 1]``, ``H, W >= 11``.
        rec: The reconstruction, same shape and range.
        weight: ``lambda_cycle``.

    Returns:
        A 0-d float32 tensor, 0 when ``rec`` equals ``real``.
    """
    l1 = cycle_consistency_loss(real.float(), rec.float(), 1.0)
    structure = 1 - ssim((rec.float() + 1) / 2, (real.float() + 1) / 2).mean()
    return weight * ((1 - ALPHA) * l1 + ALPHA * structure)


class SSIMCycleTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose cycle terms are :func:`mixed_cycle_loss`."""

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        terms = super().compute_generator_loss(real_x, real_y, outputs)
        weight = self.config.lambda_cycle
        terms["cycle_x"] = mixed_cycle_loss(real_x, outputs["rec_x"], weight)
        terms["cycle_y"] = mixed_cycle_loss(real_y, outputs["rec_y"], weight)
        parts = ("g_adv_xy", "g_adv_yx", "cycle_x", "cycle_y", "identity_x", "identity_y")
        terms["g_total"] = torch.stack([terms[k] for k in parts]).sum()
        return terms
