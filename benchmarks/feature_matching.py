"""Feature matching in the discriminators' features (Salimans et al. 2016, pix2pixHD's weights).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Each generator's adversarial term gets a second part: the frozen discriminator's hidden
features of the generated images, averaged over the positions, are pulled (L1) towards the
same averages for the real images of that domain in the batch (the "feature matching" of
Salimans et al. for unpaired data: statistics, not positions, since a fake and a real image
show different scenes). The layers weigh ``1 / n`` each and the sum ``WEIGHT`` (10, as in
pix2pixHD). The real images' features carry no gradient. It draws no random numbers, so a
resumed run is the same run.
"""

from __future__ import annotations

import torch
from torch import nn

from unpaired_i2i import ConvDiscriminator, CycleTrainer

__all__ = ["WEIGHT", "FeatureMatchingTrainer", "feature_means"]

WEIGHT = 10.0


def feature_means(
    discriminator: ConvDiscriminator, images: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The discriminator's hidden features averaged over positions, and its scores.

    Args:
        discriminator: A :class:`ConvDiscriminator` (its ``features`` stack, then its
            ``classifier``).
        images: ``(N, C, H, W)`` in ``[-1, 1]``.

    Returns:
        ``([(N, C_1), ..., (N, C_n)], scores)``: one ``(N, C_i)`` float32 tensor per layer of
        ``features``, and the ``(N, 1, h, w)`` scores ``discriminator(images)`` returns.
    """
    if not isinstance(discriminator, ConvDiscriminator):
        raise TypeError(
            "feature matching: expected a ConvDiscriminator (features, then classifier); "
            f"got {type(discriminator).__name__}"
        )
    means = []
    h = images
    for layer in discriminator.features:
        h = layer(h)
        means.append(h.float().mean(dim=(2, 3)))
    return means, discriminator.classifier(h)


class FeatureMatchingTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose generators' adversarial terms add ``WEIGHT`` times the mean,
    over the discriminator's hidden layers, of the L1 distance between the position-averaged
    features of the fakes and of the batch's real images."""

    def _adversarial_term(
        self, discriminator: nn.Module, fake: torch.Tensor, real: torch.Tensor
    ) -> torch.Tensor:
        if self.config.relativistic:
            raise ValueError("feature matching: expected relativistic=False; got True")
        fake_means, fake_score = feature_means(discriminator, self._augment(fake))  # type: ignore[arg-type]
        with torch.no_grad():
            real_means, _ = feature_means(discriminator, self._augment(real))  # type: ignore[arg-type]
        matching = torch.stack(
            [(f - r).abs().mean() for f, r in zip(fake_means, real_means, strict=True)]
        ).mean()
        return self._gan(fake_score, True, for_discriminator=False) + WEIGHT * matching
