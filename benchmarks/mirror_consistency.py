"""Mirror consistency of the generators (the geometry consistency of GcGAN, Fu et al. 2019,
with the horizontal mirror as the geometry).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

A season change does not depend on which way a scene faces: translating the mirrored image
should give the mirrored translation, ``G(flip(x)) = flip(G(x))``, and the data pipeline's
random mirrors make the mirror a symmetry of the training data. The recipe's trained generators
break it a little (averaging a translation with that of the mirrored input lowers their paired
L1 on every run measured, ``benchmarks/flip_ensemble.py``). Here each generator is also run on
the mirrored input and the step's generator loss gains

``LAMBDA_MIRROR * (L1(g_xy(flip(x)), flip(fake_y)) + L1(g_yx(flip(y)), flip(fake_x)))``

with GcGAN's weight for its geometry term, ``LAMBDA_MIRROR = 2``; gradients flow into both
sides. Two more generator calls, with their backward passes, per step. It draws no random
numbers, so a resumed run is the same run.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from unpaired_i2i import CycleTrainer

__all__ = ["LAMBDA_MIRROR", "MirrorConsistencyTrainer", "mirror_consistency_loss"]

LAMBDA_MIRROR = 2.0


def mirror_consistency_loss(
    generator: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float
) -> torch.Tensor:
    """``weight * L1(generator(flip(real)), flip(fake))``, ``flip`` the horizontal mirror.

    Args:
        generator: The generator that made ``fake`` from ``real``.
        real: Its input, ``(N, C, H, W)`` in ``[-1, 1]``.
        fake: Its output for ``real``, same shape and range (with its graph, so the term
            trains both calls).
        weight: The term's weight.

    Returns:
        A 0-d float32 tensor, 0 when the generator commutes with the mirror on ``real``.
    """
    mirrored: torch.Tensor = generator(real.flip(-1))
    return weight * F.l1_loss(mirrored.float(), fake.flip(-1).float())


class MirrorConsistencyTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose generator loss adds :func:`mirror_consistency_loss` for both
    generators (weight :data:`LAMBDA_MIRROR`), reported as ``mirror``."""

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        terms = super().compute_generator_loss(real_x, real_y, outputs)
        g_xy, g_yx = self.networks.g_xy, self.networks.g_yx
        mirror = mirror_consistency_loss(g_xy, real_x, outputs["fake_y"], LAMBDA_MIRROR)
        mirror = mirror + mirror_consistency_loss(g_yx, real_y, outputs["fake_x"], LAMBDA_MIRROR)
        terms["mirror"] = mirror
        terms["g_total"] = terms["g_total"] + mirror
        return terms
