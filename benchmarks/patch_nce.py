"""CUT's patchwise contrastive loss (PatchNCE, Park et al. 2020) added to the CycleGAN objective.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

For each direction, e.g. ``g_xy``, the generator's own encoder is run on the input ``x`` and on
its output ``fake_y = g_xy(x)``; at five depths (the image itself, the two stride-2 convs, the
first and the middle residual block) 256 positions are drawn, each position's feature vector
goes through a small MLP per depth (256 units, L2-normalised), and an InfoNCE loss
(temperature 0.07) asks each output patch to be closest to the input patch at the same place
among all drawn patches of the image. The input's side is a fixed target (no gradient), as
in CUT. The MLPs are attached to the generators (``g.nce_heads``), so the trainer's generator
optimiser, the checkpoints and the average carry them; a generator's forward never calls them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unpaired_i2i import CycleTrainer, ResnetGenerator

__all__ = ["PatchNCETrainer", "add_patch_heads", "encoder_features", "patch_nce_loss"]

N_PATCHES = 256
TEMPERATURE = 0.07


def encoder_features(generator: ResnetGenerator, x: torch.Tensor) -> list[torch.Tensor]:
    """The image and the encoder's features at four depths, each ``(N, C, H, W)``.

    Depths: ``x`` itself, the outputs of the stride-2 convs, of the first residual block and
    of the middle one (block ``n_blocks // 2``); CUT's layers 0, 4, 8, 12 and 16 of its
    9-block generator, scaled to the blocks there are.
    """
    features = [x]
    h = generator.stem(x)
    for layer in generator.encoder:
        h = layer(h)
        features.append(h)
    blocks = list(generator.blocks)
    middle = len(blocks) // 2
    for i, block in enumerate(blocks[: middle + 1]):
        h = block(h)
        if i in (0, middle):
            features.append(h)
    return features


class PatchHeads(nn.Module):
    """One two-layer MLP (``C -> 256 -> 256``) per depth, weights drawn ``N(0, 0.02)`` as CUT's."""

    def __init__(self, channels: Sequence[int], *, dim: int = 256) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, dim), nn.ReLU(), nn.Linear(dim, dim)) for c in channels
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def project(self, index: int, patches: torch.Tensor) -> torch.Tensor:
        """``(N, P, C)`` feature vectors -> ``(N, P, 256)`` unit vectors."""
        out: torch.Tensor = F.normalize(self.mlps[index](patches), dim=-1)
        return out


def add_patch_heads(generator: ResnetGenerator) -> None:
    """Attach ``generator.nce_heads``, sized by a dry run of :func:`encoder_features`."""
    size = generator.min_size
    probe = torch.zeros(1, generator.in_channels, size, size)
    with torch.no_grad():
        channels = [f.shape[1] for f in encoder_features(generator, probe)]
    generator.add_module("nce_heads", PatchHeads(channels))


def patch_nce_loss(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """InfoNCE over the patches of each image: ``query``, ``key`` ``(N, P, D)`` unit vectors.

    Patch ``p`` of the query is pulled towards patch ``p`` of the key (detached) and pushed from
    the key's other ``P - 1`` patches of the same image. Returns the mean over ``N * P``.
    """
    key = key.detach()
    n, p, _ = query.shape
    positive = (query * key).sum(-1, keepdim=True)
    negative = query @ key.transpose(1, 2)
    diagonal = torch.eye(p, dtype=torch.bool, device=query.device)
    negative = negative.masked_fill(diagonal, -10.0)
    logits = torch.cat([positive, negative], dim=-1) / TEMPERATURE
    target = torch.zeros(n * p, dtype=torch.long, device=query.device)
    return F.cross_entropy(logits.flatten(0, 1).float(), target)


def _generator_nce(
    generator: ResnetGenerator, source: torch.Tensor, output: torch.Tensor
) -> torch.Tensor:
    heads = generator.get_submodule("nce_heads")
    assert isinstance(heads, PatchHeads)
    with torch.no_grad():
        keys = encoder_features(generator, source)
    queries = encoder_features(generator, output)
    total = torch.zeros((), device=source.device)
    for i, (q, k) in enumerate(zip(queries, keys, strict=True)):
        q = q.flatten(2).transpose(1, 2)  # (N, H*W, C)
        k = k.flatten(2).transpose(1, 2)
        ids = torch.randperm(k.shape[1], device=k.device)[:N_PATCHES]
        with torch.no_grad():
            key = heads.project(i, k[:, ids])
        total = total + patch_nce_loss(heads.project(i, q[:, ids]), key)
    return total / len(queries)


class PatchNCETrainer(CycleTrainer):
    """:class:`CycleTrainer` whose generator loss adds ``lambda_nce`` times each direction's
    PatchNCE term (CUT's weight 1). Needs :func:`add_patch_heads` on both generators."""

    lambda_nce = 1.0

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        terms = dict(super().compute_generator_loss(real_x, real_y, outputs))
        g_xy, g_yx = self.model.g_xy, self.model.g_yx
        assert isinstance(g_xy, ResnetGenerator) and isinstance(g_yx, ResnetGenerator)
        nce = _generator_nce(g_xy, real_x, outputs["fake_y"])
        nce = nce + _generator_nce(g_yx, real_y, outputs["fake_x"])
        terms["g_total"] = terms["g_total"] + self.lambda_nce * nce
        return terms
