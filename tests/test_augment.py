"""DiffAugment (:func:`diff_augment`) and its use in the training step (``d_augment``)."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from _tiny import tiny_model
from unpaired_i2i import AUGMENT_POLICIES, CycleTrainer, TrainConfig, diff_augment


def _positive(n: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Images without a single exact zero (so augmentation's zeros are visible)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=gen) * 0.9 + 0.1


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved so that output[i, j] = image[i + dy, j + dx], zeros outside."""
    _, h, w = image.shape
    padded = F.pad(image, (w, w, h, h))
    return padded[:, h + dy : 2 * h + dy, w + dx : 2 * w + dx]


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 4),
    h=st.integers(2, 12),
    w=st.integers(2, 12),
    policy=st.lists(st.sampled_from(AUGMENT_POLICIES), unique=True),
    seed=st.integers(0, 1000),
)
def test_shape_dtype_and_device_are_kept(
    n: int, c: int, h: int, w: int, policy: list[str], seed: int
) -> None:
    x = _positive(n, c, h, w, seed).double()
    out = diff_augment(x, policy)  # type: ignore[arg-type]
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    if not policy:
        assert out is x


@settings(max_examples=25, deadline=None)
@given(h=st.integers(2, 20), w=st.integers(2, 20), seed=st.integers(0, 1000))
def test_translation_shifts_each_image_within_the_ratio_and_fills_zeros(
    h: int, w: int, seed: int
) -> None:
    x = _positive(6, 2, h, w, seed)
    torch.manual_seed(seed)
    out = diff_augment(x, ("translation",), translation_ratio=0.25)
    max_y, max_x = int(h * 0.25 + 0.5), int(w * 0.25 + 0.5)
    for image, result in zip(x, out, strict=True):
        matches = [
            (dy, dx)
            for dy, dx in itertools.product(range(-max_y, max_y + 1), range(-max_x, max_x + 1))
            if torch.equal(result, _shifted(image, dy, dx))
        ]
        assert matches, "the output is no shift of its input within the ratio"


def test_translation_draws_each_image_its_own_shift() -> None:
    x = _positive(1, 3, 16, 16).expand(32, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = diff_augment(x, ("translation",))
    distinct = {tuple(o.flatten().tolist()) for o in out}
    assert len(distinct) > 5


@settings(max_examples=25, deadline=None)
@given(h=st.integers(2, 20), w=st.integers(2, 20), seed=st.integers(0, 1000))
def test_cutout_zeroes_one_rectangle_in_every_channel(h: int, w: int, seed: int) -> None:
    x = _positive(5, 3, h, w, seed)
    torch.manual_seed(seed)
    out = diff_augment(x, ("cutout",), cutout_ratio=0.5)
    size_y, size_x = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    for image, result in zip(x, out, strict=True):
        zero = result == 0
        assert torch.equal(zero, zero[:1].expand_as(zero))  # the same pixels in each channel
        assert torch.equal(result[~zero], image[~zero])  # the rest untouched
        rows = zero[0].any(dim=1).nonzero().flatten()
        cols = zero[0].any(dim=0).nonzero().flatten()
        assert len(rows) > 0 and len(cols) > 0
        # a solid rectangle, never larger than the cut-out, at least half of it per side
        assert bool(zero[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all())
        assert size_y // 2 <= len(rows) <= size_y and size_x // 2 <= len(cols) <= size_x
        assert int(zero[0].sum()) == len(rows) * len(cols)


def test_color_is_a_per_image_affine_map_of_the_values() -> None:
    x = _positive(4, 3, 8, 8)
    torch.manual_seed(1)
    out = diff_augment(x, ("color",))
    assert not torch.allclose(out, x)
    for image, result in zip(x, out, strict=True):
        # brightness, saturation, contrast: out = a * x + b * channel_mean + c per image, so
        # the output is an exact linear function of (x, channel mean, 1)
        channel_mean = image.mean(0, keepdim=True).expand_as(image).flatten()
        feats = torch.stack(
            [image.flatten(), channel_mean, torch.ones(image.numel())], dim=1
        ).double()
        coef = torch.linalg.lstsq(feats, result.flatten().double()).solution
        assert torch.allclose(feats @ coef, result.flatten().double(), atol=1e-5)


def test_gradient_reaches_every_kept_pixel_once() -> None:
    x = _positive(3, 2, 10, 10).requires_grad_(True)
    torch.manual_seed(2)
    out = diff_augment(x, ("translation", "cutout"))
    torch.autograd.backward(out.sum())
    assert x.grad is not None
    assert bool(((x.grad == 0) | (x.grad == 1)).all())
    assert int(x.grad.sum()) == int((out != 0).sum())


def test_same_seed_same_augmentation() -> None:
    x = _positive(4, 3, 8, 8)
    torch.manual_seed(3)
    a = diff_augment(x, AUGMENT_POLICIES)
    torch.manual_seed(3)
    b = diff_augment(x, AUGMENT_POLICIES)
    assert torch.equal(a, b)


def test_bad_input_is_refused_with_the_argument_named() -> None:
    x = _positive(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"x must be a 4-D floating-point tensor.*\(3, 8, 8\)"):
        diff_augment(x[0])
    with pytest.raises(ValueError, match=r"x must be a 4-D floating-point tensor.*int64"):
        diff_augment(torch.zeros(1, 3, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"policy must name distinct augmentations.*'flip'"):
        diff_augment(x, ("flip",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"policy must name distinct.*repeated"):
        diff_augment(x, ("cutout", "cutout"))
    with pytest.raises(ValueError, match=r"policy must be a sequence of augmentations"):
        diff_augment(x, "cutout")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"translation_ratio must be in \[0, 1\); got 1.0"):
        diff_augment(x, translation_ratio=1.0)
    with pytest.raises(ValueError, match=r"cutout_ratio must be in \[0, 1\]; got -0.1"):
        diff_augment(x, cutout_ratio=-0.1)


def test_config_field_is_validated_and_round_trips() -> None:
    config = TrainConfig(d_augment=["translation", "cutout"])  # type: ignore[arg-type]
    assert config.d_augment == ("translation", "cutout")
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig().d_augment == ()
    with pytest.raises(ValueError, match=r"TrainConfig.d_augment must name distinct.*'blur'"):
        TrainConfig(d_augment=("blur",))  # type: ignore[arg-type]


# --------------------------------------------------------------------- in the trainer
SIZE = 8


def _trainer(config: TrainConfig) -> CycleTrainer:
    return CycleTrainer(tiny_model(0), config, device="cpu")


def _lsgan(pred: torch.Tensor, target: float) -> float:
    return float(((pred.double() - target) ** 2).mean())


@pytest.mark.parametrize("policy", [("cutout",), ("translation", "cutout", "color")])
def test_every_batch_a_discriminator_scores_is_augmented(policy: tuple[str, ...]) -> None:
    """The step's losses, recomputed with the augmentations drawn in the step's order.

    Generators' step: ``d_y(aug(fake_y))``, ``d_x(aug(fake_x))``; discriminators' step:
    ``d_y(aug(cat(y, pool_y(fake_y))))``, then ``d_x`` likewise.
    """
    cfg = TrainConfig(d_augment=policy, lambda_identity=0.0, pool_size=0, seed=1)  # type: ignore[arg-type]
    trainer = _trainer(cfg)
    x = _positive(2, 3, SIZE, SIZE, 1) * 2 - 1
    y = _positive(2, 3, SIZE, SIZE, 2) * 2 - 1
    model = copy.deepcopy(trainer.model)
    torch.manual_seed(9)
    losses = trainer.train_step(x, y)

    def aug(images: torch.Tensor) -> torch.Tensor:
        return diff_augment(images, policy)  # type: ignore[arg-type]

    torch.manual_seed(9)
    with torch.no_grad():
        fake_y, fake_x = model.g_xy(x), model.g_yx(y)
        adv_xy = _lsgan(model.d_y(aug(fake_y)), 1.0)
        adv_yx = _lsgan(model.d_x(aug(fake_x)), 1.0)
        real_y, shown_y = model.d_y(aug(torch.cat([y, fake_y]))).split(2)
        real_x, shown_x = model.d_x(aug(torch.cat([x, fake_x]))).split(2)
    assert float(losses["g_adv_xy"]) == pytest.approx(adv_xy, rel=1e-5)
    assert float(losses["g_adv_yx"]) == pytest.approx(adv_yx, rel=1e-5)
    assert float(losses["d_y"]) == pytest.approx(
        0.5 * (_lsgan(real_y, 1.0) + _lsgan(shown_y, 0.0)), rel=1e-5
    )
    assert float(losses["d_x"]) == pytest.approx(
        0.5 * (_lsgan(real_x, 1.0) + _lsgan(shown_x, 0.0)), rel=1e-5
    )
    # and the check can fail: without the augmentation the scores differ
    with torch.no_grad():
        assert _lsgan(model.d_y(fake_y), 1.0) != pytest.approx(adv_xy, rel=1e-5)


def test_no_augmentation_draws_no_random_numbers() -> None:
    trainer = _trainer(TrainConfig(lambda_identity=0.0, pool_size=0, seed=1))
    x = _positive(1, 3, SIZE, SIZE, 1) * 2 - 1
    torch.manual_seed(4)
    trainer.train_step(x, x.flip(-1))
    after = torch.get_rng_state()
    torch.manual_seed(4)
    assert torch.equal(after, torch.get_rng_state())
