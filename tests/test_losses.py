from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from unpaired_i2i import (
    GANLoss,
    cycle_consistency_loss,
    fake_mse_loss,
    gan_loss,
    identity_loss,
    r1_penalty,
    real_mse_loss,
    relativistic_gan_loss,
)

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)
scale = st.floats(0.1, 10.0)


def rand(shape: tuple[int, ...], seed: int, s: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * 2 - 1) * s


@given(shape=shapes, seed=st.integers(0, 1000), s=scale)
def test_mse_losses_non_negative_and_zero_on_ideal(
    shape: tuple[int, ...], seed: int, s: float
) -> None:
    d = rand(shape, seed, s)
    assert real_mse_loss(d).item() >= 0
    assert fake_mse_loss(d).item() >= 0
    assert real_mse_loss(torch.ones(shape)).item() == 0.0
    assert fake_mse_loss(torch.zeros(shape)).item() == 0.0
    torch.testing.assert_close(real_mse_loss(d), ((d - 1) ** 2).mean())
    torch.testing.assert_close(fake_mse_loss(d), (d**2).mean())


@given(shape=shapes, seed=st.integers(0, 1000), lam=st.floats(0.0, 20.0))
def test_cycle_and_identity_losses(shape: tuple[int, ...], seed: int, lam: float) -> None:
    a, b = rand(shape, seed), rand(shape, seed + 1)
    assert cycle_consistency_loss(a, a).item() == 0.0
    assert identity_loss(a, a, lam).item() == 0.0
    c = cycle_consistency_loss(a, b, lam)
    assert c.item() >= 0 and c.dim() == 0
    torch.testing.assert_close(c, lam * (a - b).abs().mean())
    torch.testing.assert_close(identity_loss(a, b, lam), lam * (a - b).abs().mean())


def test_cycle_default_weight_is_ten() -> None:
    x = torch.zeros(1, 3, 2, 2)
    assert cycle_consistency_loss(x, x + 1).item() == pytest.approx(10.0)
    assert cycle_consistency_loss(x, x + 1, lambda_weight=2.0).item() == pytest.approx(2.0)


@given(
    shape=shapes,
    seed=st.integers(0, 1000),
    real=st.booleans(),
    mode=st.sampled_from(["lsgan", "vanilla", "hinge"]),
)
def test_gan_loss_non_negative_and_scalar(
    shape: tuple[int, ...], seed: int, real: bool, mode: str
) -> None:
    pred = rand(shape, seed, 3.0)
    loss = gan_loss(pred, real, mode=mode)  # type: ignore[arg-type]
    assert loss.dim() == 0 and loss.item() >= 0


def test_gan_loss_ideal_inputs() -> None:
    assert gan_loss(torch.ones(2, 1, 3, 3), True).item() == 0.0
    assert gan_loss(torch.zeros(2, 1, 3, 3), False).item() == 0.0
    assert gan_loss(torch.full((4,), 1.5), True, mode="hinge").item() == 0.0
    assert gan_loss(torch.full((4,), -1.5), False, mode="hinge").item() == 0.0
    big = torch.full((4,), 50.0)
    assert gan_loss(big, True, mode="vanilla").item() == pytest.approx(0.0, abs=1e-12)
    assert gan_loss(-big, False, mode="vanilla").item() == pytest.approx(0.0, abs=1e-12)


def test_gan_loss_matches_definitions() -> None:
    pred = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    torch.testing.assert_close(gan_loss(pred, True, mode="lsgan"), real_mse_loss(pred))
    torch.testing.assert_close(gan_loss(pred, False, mode="lsgan"), fake_mse_loss(pred))
    torch.testing.assert_close(
        gan_loss(pred, True, mode="vanilla"),
        torch.nn.functional.binary_cross_entropy_with_logits(pred, torch.ones(4)),
    )
    torch.testing.assert_close(gan_loss(pred, True, mode="hinge"), torch.relu(1 - pred).mean())
    torch.testing.assert_close(gan_loss(pred, False, mode="hinge"), torch.relu(1 + pred).mean())
    torch.testing.assert_close(
        gan_loss(pred, True, mode="hinge", for_discriminator=False), -pred.mean()
    )


def test_reductions() -> None:
    pred = torch.tensor([[0.0, 2.0]])
    assert real_mse_loss(pred, reduction="sum").item() == 2.0
    assert real_mse_loss(pred, reduction="none").shape == (1, 2)
    assert gan_loss(pred, False, reduction="sum").item() == 4.0
    assert cycle_consistency_loss(pred, pred + 1, 1.0, reduction="sum").item() == 2.0
    with pytest.raises(
        ValueError, match="reduction must be one of 'mean', 'sum', 'none'; got 'avg'"
    ):
        real_mse_loss(pred, reduction="avg")  # type: ignore[arg-type]


def test_loss_errors() -> None:
    with pytest.raises(
        ValueError, match="mode must be one of 'lsgan', 'vanilla', 'hinge'; got 'wgan'"
    ):
        gan_loss(torch.zeros(1), True, mode="wgan")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="target_is_real must be True for the hinge generator loss"
    ):
        gan_loss(torch.zeros(1), False, mode="hinge", for_discriminator=False)
    with pytest.raises(
        ValueError,
        match=r"real and reconstructed must have the same shape; got \(1, 3\) and \(1, 4\)",
    ):
        cycle_consistency_loss(torch.zeros(1, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="real and same must have the same shape"):
        identity_loss(torch.zeros(2), torch.zeros(3), 5.0)


def test_gan_loss_module_calls_function() -> None:
    module = GANLoss("hinge")
    pred = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(module(pred, True), gan_loss(pred, True, mode="hinge"))
    torch.testing.assert_close(module(pred, True, for_discriminator=False), -pred.mean())
    assert "hinge" in repr(module)
    with pytest.raises(ValueError, match="mode must be one of"):
        GANLoss("w")  # type: ignore[arg-type]


def test_losses_are_differentiable() -> None:
    pred = torch.randn(3, requires_grad=True)
    torch.autograd.backward(gan_loss(pred, True) + cycle_consistency_loss(pred, torch.zeros(3)))
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


# ----------------------------------------------------------------------- relativistic, R1
def _ra_expected(pred: torch.Tensor, other: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    d = pred.double() - other.double().mean()
    if mode == "lsgan":
        return ((d - (1 if real else -1)) ** 2).mean()
    if mode == "vanilla":
        p = torch.sigmoid(d)
        return -(torch.log(p) if real else torch.log(1 - p)).mean()
    return torch.clamp(1 - d if real else 1 + d, min=0).mean()


@given(
    shape=shapes,
    seed=st.integers(0, 1000),
    s=scale,
    mode=st.sampled_from(["lsgan", "vanilla", "hinge"]),
    real=st.booleans(),
)
def test_relativistic_loss_matches_its_definition(
    shape: tuple[int, ...], seed: int, s: float, mode: str, real: bool
) -> None:
    pred, other = rand(shape, seed, s), rand((3, *shape), seed + 1, s)
    loss = relativistic_gan_loss(pred, other, real, mode=mode)  # type: ignore[arg-type]
    assert loss.ndim == 0 and loss.item() >= 0
    expected = _ra_expected(pred, other, real, mode)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=1e-5)


def test_relativistic_loss_compares_with_the_other_batch_mean() -> None:
    real, fake = torch.full((2, 1, 3, 3), 0.7), torch.full((2, 1, 3, 3), -0.3)
    # Only the difference counts: shifting both batches changes nothing.
    for mode in ("lsgan", "vanilla", "hinge"):
        a = relativistic_gan_loss(real, fake, True, mode=mode)
        b = relativistic_gan_loss(real + 5, fake + 5, True, mode=mode)
        torch.testing.assert_close(a, b)
    assert relativistic_gan_loss(real, fake, True).item() == pytest.approx(0.0, abs=1e-12)
    assert relativistic_gan_loss(fake, real, False).item() == pytest.approx(0.0, abs=1e-12)
    # The gradient reaches the other batch through its mean.
    other = fake.clone().requires_grad_(True)
    torch.autograd.backward(relativistic_gan_loss(real, other, False))
    assert other.grad is not None and other.grad.abs().sum() > 0


def test_relativistic_loss_errors() -> None:
    with pytest.raises(ValueError, match="other"):
        relativistic_gan_loss(torch.zeros(2), torch.zeros(0), True)
    with pytest.raises(ValueError, match="mode"):
        relativistic_gan_loss(torch.zeros(2), torch.zeros(2), True, mode="wgan")  # type: ignore[arg-type]


@given(seed=st.integers(0, 1000), n=st.integers(1, 3), patches=st.integers(1, 3))
def test_r1_penalty_of_a_linear_discriminator(seed: int, n: int, patches: int) -> None:
    # Each patch score is <w_k, image>, so an image's mean score has the gradient mean_k w_k
    # whatever the image: the penalty is ||mean_k w_k||^2.
    w = rand((patches, 3, 4, 4), seed)
    images = rand((n, 3, 4, 4), seed + 1).requires_grad_(True)
    scores = torch.einsum("nchw,kchw->nk", images, w).reshape(n, 1, patches, 1)
    penalty = r1_penalty(scores, images)
    expected = w.double().mean(0).square().sum()
    torch.testing.assert_close(penalty.double(), expected, rtol=1e-5, atol=1e-7)
    # The penalty is differentiable (R1 trains the discriminator through it).
    weights = w.clone().requires_grad_(True)
    scores = torch.einsum("nchw,kchw->nk", images, weights).reshape(n, 1, patches, 1)
    torch.autograd.backward(r1_penalty(scores, images))
    assert weights.grad is not None
    torch.testing.assert_close(
        weights.grad.double(), (2 * w.double().mean(0) / patches).expand_as(w), rtol=1e-5, atol=1e-7
    )


def test_r1_penalty_errors() -> None:
    images = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(images.sum((1, 2, 3)), images)
    images.requires_grad_(True)
    with pytest.raises(ValueError, match="batch size"):
        r1_penalty(images.sum(), images)
