"""Adversarial, cycle-consistency and identity losses (functions, plus a module form).

Every function takes tensors and returns a 0-d tensor (or the unreduced tensor with
``reduction="none"``). Losses never import models.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

from unpaired_i2i._checks import check_choice

__all__ = [
    "GANLoss",
    "GANMode",
    "Reduction",
    "cycle_consistency_loss",
    "fake_mse_loss",
    "gan_loss",
    "identity_loss",
    "r1_penalty",
    "real_mse_loss",
    "relativistic_gan_loss",
]

Reduction: TypeAlias = Literal["mean", "sum", "none"]
"""How a loss reduces over elements."""
GANMode: TypeAlias = Literal["lsgan", "vanilla", "hinge"]
"""Adversarial objectives: least squares, binary cross-entropy on logits, hinge."""
GAN_MODES: tuple[GANMode, ...] = ("lsgan", "vanilla", "hinge")
_REDUCTIONS: tuple[Reduction, ...] = ("mean", "sum", "none")


def _reduce(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    check_choice("reduction", reduction, _REDUCTIONS)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def real_mse_loss(d_out: torch.Tensor, *, reduction: Reduction = "mean") -> torch.Tensor:
    """Least-squares loss pushing discriminator scores to 1 (real): ``mean((d_out - 1)^2)``.

    Args:
        d_out: Discriminator scores, any shape, e.g. ``(N, 1, H', W')``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A 0-d tensor ``>= 0`` (the elementwise loss for ``"none"``); 0 exactly when all scores
        are 1.

    Example:
        >>> import torch
        >>> real_mse_loss(torch.ones(2, 1, 4, 4)).item()
        0.0
        >>> real_mse_loss(torch.zeros(3)).item()
        1.0
    """
    return _reduce((d_out - 1.0).square(), reduction)


def fake_mse_loss(d_out: torch.Tensor, *, reduction: Reduction = "mean") -> torch.Tensor:
    """Least-squares loss pushing discriminator scores to 0 (fake): ``mean(d_out^2)``.

    Args:
        d_out: Discriminator scores, any shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A 0-d tensor ``>= 0``; 0 exactly when all scores are 0.

    Example:
        >>> import torch
        >>> fake_mse_loss(torch.full((4,), 2.0)).item()
        4.0
    """
    return _reduce(d_out.square(), reduction)


def cycle_consistency_loss(
    real: torch.Tensor,
    reconstructed: torch.Tensor,
    lambda_weight: float = 10.0,
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Weighted L1 between images and their round-trip reconstructions.

    ``lambda_weight * mean(|real - reconstructed|)``, the cycle term of Zhu et al. 2017
    (``lambda = 10`` in the reference).

    Args:
        real: Images ``(N, C, H, W)`` in ``[-1, 1]``.
        reconstructed: ``F(G(real))``, same shape.
        lambda_weight: Weight of the term.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A 0-d tensor ``>= 0``; 0 exactly when ``reconstructed == real``.

    Raises:
        ValueError: The shapes differ.

    Example:
        >>> import torch
        >>> x = torch.zeros(1, 3, 4, 4)
        >>> cycle_consistency_loss(x, x + 0.5).item()
        5.0
    """
    _check_same_shape("real", real, "reconstructed", reconstructed)
    return lambda_weight * _reduce((real - reconstructed).abs(), reduction)


def identity_loss(
    real: torch.Tensor,
    same: torch.Tensor,
    lambda_weight: float,
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Weighted L1 keeping a generator close to the identity on its target domain.

    ``lambda_weight * mean(|real - same|)`` with ``same = G(y)`` for ``real = y``. The reference
    weight is ``lambda_identity * lambda_cycle = 0.5 * 10 = 5``.

    Args:
        real: Images of the generator's output domain, ``(N, C, H, W)`` in ``[-1, 1]``.
        same: The generator applied to ``real``, same shape.
        lambda_weight: Weight of the term.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A 0-d tensor ``>= 0``; 0 exactly when ``same == real``.

    Raises:
        ValueError: The shapes differ.

    Example:
        >>> import torch
        >>> identity_loss(torch.ones(2, 3), torch.zeros(2, 3), 5.0).item()
        5.0
    """
    _check_same_shape("real", real, "same", same)
    return lambda_weight * _reduce((real - same).abs(), reduction)


def gan_loss(
    pred: torch.Tensor,
    target_is_real: bool,
    *,
    mode: GANMode = "lsgan",
    for_discriminator: bool = True,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Adversarial loss of discriminator scores against a real/fake target.

    - ``"lsgan"``: ``mean((pred - t)^2)`` with ``t = 1`` for real, 0 for fake (the reference).
    - ``"vanilla"``: binary cross-entropy on logits (``BCEWithLogits``).
    - ``"hinge"``: for the discriminator ``mean(relu(1 - pred))`` (real) and
      ``mean(relu(1 + pred))`` (fake); for the generator (``for_discriminator=False``,
      ``target_is_real=True``) ``-mean(pred)``.

    Args:
        pred: Raw discriminator scores, any shape, e.g. ``(N, 1, H', W')``.
        target_is_real: Whether the target is "real".
        mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        for_discriminator: Only for ``"hinge"``: the discriminator or the generator form.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A 0-d tensor; ``>= 0`` except for the hinge generator form.

    Raises:
        ValueError: ``mode`` is unknown, or the hinge generator form is asked for a fake target.

    Example:
        >>> import torch
        >>> gan_loss(torch.ones(1, 1, 2, 2), True).item()
        0.0
        >>> round(gan_loss(torch.zeros(4), False, mode="vanilla").item(), 4)
        0.6931
    """
    check_choice("mode", mode, GAN_MODES)
    if mode == "lsgan":
        return (
            real_mse_loss(pred, reduction=reduction)
            if target_is_real
            else fake_mse_loss(pred, reduction=reduction)
        )
    if mode == "vanilla":
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        return _reduce(
            F.binary_cross_entropy_with_logits(pred, target, reduction="none"), reduction
        )
    if not for_discriminator:
        if not target_is_real:
            raise ValueError(
                "target_is_real must be True for the hinge generator loss "
                "(for_discriminator=False); got False"
            )
        return _reduce(-pred, reduction)
    return _reduce(F.relu(1.0 - pred) if target_is_real else F.relu(1.0 + pred), reduction)


def relativistic_gan_loss(
    pred: torch.Tensor,
    other: torch.Tensor,
    target_is_real: bool,
    *,
    mode: GANMode = "lsgan",
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Relativistic average adversarial loss (Jolicoeur-Martineau 2018).

    It scores how much more real ``pred``'s images look than the other batch's, on average.

    With ``d = pred - mean(other)`` (the mean over every score of the other batch, all images
    and patches):

    - ``"lsgan"`` (RaLSGAN): ``mean((d - 1)^2)`` for a real target, ``mean((d + 1)^2)`` for
      fake;
    - ``"vanilla"`` (RaSGAN): binary cross-entropy of ``d`` as a logit against 1 or 0;
    - ``"hinge"`` (RaHinge): ``mean(relu(1 - d))`` for real, ``mean(relu(1 + d))`` for fake.

    The discriminator's loss is ``f(D(real), D(fake), True) + f(D(fake), D(real), False)``; the
    generator's is the same with the targets swapped, ``f(D(fake), D(real), True) +
    f(D(real), D(fake), False)``, so the generator also learns from the real images' scores.
    Gradients flow through ``other``'s mean as well.

    Args:
        pred: Raw discriminator scores of one batch, any shape, e.g. ``(N, 1, H', W')``.
        other: Raw scores of the batch it is compared with (real for a fake ``pred`` and vice
            versa), any shape with at least one element.
        target_is_real: Whether ``pred``'s images should look more real than ``other``'s.
        mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (over ``pred``'s elements).

    Returns:
        A 0-d tensor ``>= 0``.

    Raises:
        ValueError: ``mode`` or ``reduction`` is unknown, or ``other`` is empty.

    Example:
        >>> import torch
        >>> real, fake = torch.full((2, 1, 3, 3), 0.5), torch.full((2, 1, 3, 3), -0.5)
        >>> relativistic_gan_loss(real, fake, True).item()  # real is 1 above fake on average
        0.0
        >>> relativistic_gan_loss(fake, real, True).item()  # the generator's view of the fake
        4.0
    """
    check_choice("mode", mode, GAN_MODES)
    if other.numel() == 0:
        raise ValueError("other must hold at least one score; got an empty tensor")
    d = pred - other.mean()
    if mode == "lsgan":  # targets +1 / -1: a fake target of 0 would ask for d = 0
        return _reduce((d - (1.0 if target_is_real else -1.0)).square(), reduction)
    # vanilla and hinge: the discriminator's form of the plain loss, applied to d
    return gan_loss(d, target_is_real, mode=mode, for_discriminator=True, reduction=reduction)


def r1_penalty(scores: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty (Mescheder et al. 2018) on the images a discriminator scored.

    The squared norm of the discriminator's gradient with respect to its input images,
    averaged over the batch.

    An image's score is the mean of its patch scores, so the penalty is
    ``mean_n ||d mean(scores[n]) / d images[n]||^2``; a loss adds ``gamma / 2`` times it on
    real images (``TrainConfig.r1_gamma``). The gradient is built with ``create_graph=True``,
    so the penalty can itself be back-propagated into the discriminator's weights (a second
    backward pass through the discriminator).

    Args:
        scores: Raw discriminator scores ``(N, ...)`` computed from ``images`` (with the
            autograd graph).
        images: The scored images ``(N, C, H, W)``, with ``requires_grad=True``.

    Returns:
        A 0-d tensor ``>= 0``.

    Raises:
        ValueError: ``images`` does not require gradients, or the batch sizes differ.

    Example:
        >>> import torch
        >>> images = torch.ones(2, 3, 4, 4, requires_grad=True)
        >>> scores = 0.5 * images.sum(dim=(1, 2, 3), keepdim=True)  # gradient 0.5 per pixel
        >>> r1_penalty(scores, images).item()  # 48 pixels * 0.5^2
        12.0
    """
    if not images.requires_grad:
        raise ValueError(
            "images must require gradients (set images.requires_grad_(True) before the "
            "discriminator scores them); got a tensor with requires_grad=False"
        )
    if scores.ndim == 0 or scores.shape[0] != images.shape[0]:
        raise ValueError(
            f"scores must have the batch size of images ({images.shape[0]}) first; "
            f"got shape {tuple(scores.shape)}"
        )
    per_image = scores.reshape(scores.shape[0], -1).float().mean(1)
    (grad,) = torch.autograd.grad(per_image.sum(), images, create_graph=True)
    return grad.float().square().reshape(grad.shape[0], -1).sum(1).mean()


class GANLoss(nn.Module):
    """Module form of :func:`gan_loss`: stores the mode and reduction, calls the function.

    Args:
        mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        - ``pred``: any shape, raw discriminator scores.
        - Output: 0-d tensor (elementwise for ``"none"``).

    Example:
        >>> import torch
        >>> GANLoss("lsgan")(torch.zeros(2, 1, 3, 3), target_is_real=False).item()
        0.0
    """

    def __init__(self, mode: GANMode = "lsgan", *, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.mode: GANMode = check_choice("mode", mode, GAN_MODES)
        self.reduction: Reduction = check_choice("reduction", reduction, _REDUCTIONS)

    def forward(
        self, pred: torch.Tensor, target_is_real: bool, *, for_discriminator: bool = True
    ) -> torch.Tensor:
        """Return :func:`gan_loss` of ``pred`` with the stored settings."""
        return gan_loss(
            pred,
            target_is_real,
            mode=self.mode,
            for_discriminator=for_discriminator,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        """The adversarial mode."""
        return f"mode={self.mode!r}"
