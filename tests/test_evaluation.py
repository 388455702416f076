"""Tests for unpaired_i2i.data.evaluation (paired L1 / PSNR / SSIM)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unpaired_i2i import ShapeError
from unpaired_i2i.data import ColorTransfer, UnpairedImageDataset, evaluate_paired, psnr, ssim

KEYS = {"l1", "psnr", "ssim", "identity_l1", "identity_psnr", "identity_ssim"}


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Direct windowed SSIM (no convolution): mean over channels and valid 11x11 windows."""
    coords = np.arange(11) - 5.0
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for ch in range(a.shape[0]):
        for i in range(a.shape[1] - 10):
            for j in range(a.shape[2] - 10):
                pa, pb = a[ch, i : i + 11, j : j + 11], b[ch, i : i + 11, j : j + 11]
                ma, mb = (w * pa).sum(), (w * pb).sum()
                va = (w * (pa - ma) ** 2).sum()
                vb = (w * (pb - mb) ** 2).sum()
                cov = (w * (pa - ma) * (pb - mb)).sum()
                values.append(
                    ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
                )
    return float(np.mean(values))


class Negate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x


class Recorder(nn.Module):
    """Identity generator that records its mode and whether inference mode was on."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Dropout(0.5)
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, self.inner.training, torch.is_inference_mode_enabled()))
        return x


# ------------------------------------------------------------------------- psnr / ssim


def test_psnr_known_values() -> None:
    target = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    assert psnr(target + 0.1, target).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)
    assert psnr(target + 0.5, target, data_range=1.0).tolist() == pytest.approx(
        [10 * math.log10(4)] * 2
    )
    assert psnr(target + 10, target, data_range=255.0)[0].item() == pytest.approx(
        10 * math.log10(255**2 / 100), abs=1e-4
    )
    x = rand(3, 8, 8)
    assert psnr(x, x).shape == () and math.isinf(psnr(x, x).item())


def test_ssim_matches_direct_reference() -> None:
    a = rand(2, 3, 16, 16, seed=1)
    b = (a + 0.2 * rand(2, 3, 16, 16, seed=2)).clamp(0, 1)
    ours = ssim(a, b)
    assert ours.shape == (2,)
    for k in range(2):
        expected = reference_ssim(a[k].double().numpy(), b[k].double().numpy())
        assert ours[k].item() == pytest.approx(expected, abs=1e-5)


def test_ssim_identity_and_opposites() -> None:
    x = rand(2, 3, 16, 16)
    assert ssim(x, x).tolist() == [1.0, 1.0]
    assert ssim(x[0], x[0]).item() == 1.0
    const = torch.full((1, 1, 12, 12), 0.3)
    assert ssim(const, const).item() == pytest.approx(1.0)
    assert (ssim(x, 1 - x) < 0).all()


@given(seed=st.integers(0, 2**16), noise=st.floats(0.0, 1.0))
def test_metric_properties(seed: int, noise: float) -> None:
    a = rand(1, 3, 12, 12, seed=seed)
    b = (a + noise * (rand(1, 3, 12, 12, seed=seed + 1) - 0.5)).clamp(0, 1)
    s_ab, s_ba = ssim(a, b).item(), ssim(b, a).item()
    assert s_ab == pytest.approx(s_ba, abs=1e-6)
    assert -1.0 <= s_ab <= 1.0 + 1e-6
    p = psnr(a, b).item()
    assert p >= 0.0
    assert p == pytest.approx(psnr(b, a).item(), rel=1e-6)


def test_metric_shape_errors() -> None:
    with pytest.raises(ShapeError, match="same shape"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ShapeError, match="2-D"):
        ssim(torch.zeros(8, 8), torch.zeros(8, 8))
    with pytest.raises(ShapeError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="window_size"):
        ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), window_size=4)
    with pytest.raises(TypeError, match="Tensor"):
        psnr(np.zeros((1, 3, 8, 8)), torch.zeros(1, 3, 8, 8))  # type: ignore[arg-type]


# ------------------------------------------------------------------------- evaluate_paired


def negation_pairs(n: int = 5) -> TensorDataset:
    x = rand(n, 3, 16, 16) * 2 - 1
    return TensorDataset(x, -x)


def test_exactly_right_generator() -> None:
    scores = evaluate_paired(Negate(), negation_pairs(), batch_size=2)
    assert set(scores) == KEYS
    assert scores["l1"] == 0.0
    assert math.isinf(scores["psnr"])
    assert scores["ssim"] == 1.0
    assert scores["identity_l1"] > 0.5
    assert scores["identity_ssim"] < 0.0
    assert all(isinstance(v, float) for v in scores.values())


def test_exactly_wrong_generator() -> None:
    data = negation_pairs()
    identity = evaluate_paired(nn.Identity(), data)
    assert identity["l1"] == pytest.approx(identity["identity_l1"])
    assert identity["psnr"] == pytest.approx(identity["identity_psnr"])
    assert identity["ssim"] == pytest.approx(identity["identity_ssim"])
    # exact expected L1 for predicting x when y = -x: mean |2x|
    x = data.tensors[0]
    assert identity["l1"] == pytest.approx((2 * x).abs().mean().item(), rel=1e-5)

    class Opposite(nn.Module):  # the worst possible prediction in [-1, 1]
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return torch.where(-t >= 0, -1.0, 1.0)

    worst = evaluate_paired(Opposite(), data)
    assert worst["l1"] > identity["l1"] and worst["psnr"] < identity["psnr"]


def test_accepts_loaders_iterables_and_single_items() -> None:
    data = negation_pairs(4)
    expected = evaluate_paired(nn.Identity(), data)
    loader = DataLoader(data, batch_size=3)
    from_loader = evaluate_paired(nn.Identity(), loader, device="cpu")
    as_list = evaluate_paired(nn.Identity(), [(x, y) for x, y in loader])
    singles = evaluate_paired(nn.Identity(), [data[i] for i in range(4)])
    for other in (from_loader, as_list, singles):
        for key in KEYS:
            assert other[key] == pytest.approx(expected[key], rel=1e-6)


def test_modes_restored_and_inference_mode_used() -> None:
    model = Recorder()
    model.train()
    model.inner.eval()
    evaluate_paired(model, negation_pairs(2))
    assert model.seen and all(seen == (False, False, True) for seen in model.seen)
    assert model.training and not model.inner.training

    class Boom(Recorder):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    failing = Boom()
    failing.train()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate_paired(failing, negation_pairs(2))
    assert failing.training and failing.inner.training


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="empty"):
        evaluate_paired(nn.Identity(), [])
    with pytest.raises(TypeError, match=r"\(x, y\) pair"):
        evaluate_paired(nn.Identity(), [torch.zeros(1, 3, 16, 16)])
    with pytest.raises(ShapeError, match="same shape"):
        evaluate_paired(nn.Identity(), [(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 12, 12))])
    with pytest.raises(ShapeError, match="generator output"):
        evaluate_paired(nn.Flatten(), negation_pairs(1))
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_paired(nn.Identity(), negation_pairs(1), batch_size=0)


def test_unpaired_dataset_requires_eval_mode(tmp_path: Path) -> None:
    size = 16
    for i in range(3):
        img = Image.effect_mandelbrot((size, size), (-2 + i * 0.1, -1.5, 1, 1.5), 30).convert("RGB")
        (tmp_path / "testA").mkdir(exist_ok=True)
        (tmp_path / "testB").mkdir(exist_ok=True)
        img.save(tmp_path / "testA" / f"{i}.png")
        ImageOps.invert(img).save(tmp_path / "testB" / f"{i}.png")  # y = -x in [-1, 1]
    train = UnpairedImageDataset(tmp_path / "testA", tmp_path / "testB", size=size)
    with pytest.raises(ValueError, match="train=False"):
        evaluate_paired(Negate(), train)
    test = UnpairedImageDataset.from_root(tmp_path, "test", size=size, load_size=size)
    scores = evaluate_paired(Negate(), test)
    assert scores["l1"] < 1e-6
    assert scores["psnr"] > 100
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["identity_l1"] > 0.1


# ----------------------------------------------------------------------------- ColorTransfer
def test_color_transfer_matches_channel_statistics() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 8, 8, generator=g) * 0.4 - 0.6  # dark, low contrast
    y = torch.rand(4, 3, 8, 8, generator=g) * 0.8 + 0.1  # bright, more contrast
    baseline = ColorTransfer.fit([(x[:2], y[:2]), (x[2:], y[2:])])
    out = baseline(x)
    assert out.shape == x.shape
    for c in range(3):
        torch.testing.assert_close(out[:, c].mean(), y[:, c].mean(), atol=1e-4, rtol=0)
        torch.testing.assert_close(
            out[:, c].std(unbiased=False), y[:, c].std(unbiased=False), atol=1e-4, rtol=0
        )


def test_color_transfer_fits_from_dataset_and_clamps() -> None:
    x = torch.full((6, 3, 4, 4), -0.9)
    x[:, :, 0, 0] = -0.8
    y = torch.full((6, 3, 4, 4), 0.9)
    y[:, :, 0, 0] = 0.1
    baseline = ColorTransfer.fit(TensorDataset(x, y), batch_size=4)
    out = baseline(torch.ones(1, 3, 4, 4))  # far outside X's range: clamped
    assert torch.equal(out, torch.ones_like(out))  # far above Y's range: clamped to 1
    torch.testing.assert_close(baseline.mean_y.flatten(), torch.full((3,), 0.9 - 0.8 / 16))


def test_color_transfer_scores_between_identity_and_perfect() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 16, 16, generator=g) * 2 - 1
    y = (x * 0.5 + 0.3).clamp(-1, 1)  # an exact per-channel affine colour map
    baseline = ColorTransfer.fit([(x, y)])
    metrics = evaluate_paired(baseline, [(x, y)])
    assert metrics["l1"] < 1e-4 < metrics["identity_l1"]


def test_color_transfer_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        ColorTransfer.fit([])
    with pytest.raises(ShapeError, match="shape"):
        ColorTransfer(torch.zeros(3), torch.ones(3), torch.zeros(2), torch.ones(3))
    baseline = ColorTransfer(torch.zeros(3), torch.ones(3), torch.zeros(3), torch.ones(3))
    with pytest.raises(ShapeError, match="channels"):
        baseline(torch.zeros(1, 2, 4, 4))


def test_evaluation_of_a_dataset_leaves_the_global_rng_alone() -> None:
    # A DataLoader draws a seed each time it is iterated; from the global RNG, scoring during
    # training would change the run's shuffling and image-pool draws (seen: a 1000-step run
    # that evaluated every 100 steps ended somewhere else than the same run without).
    x = rand(5, 3, 16, 16) * 2 - 1
    pairs = TensorDataset(x, -x)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    evaluate_paired(nn.Identity(), pairs, batch_size=2)
    ColorTransfer.fit(pairs, batch_size=2)
    assert torch.equal(torch.get_rng_state(), before)
    # also when the caller hands over a DataLoader of their own
    evaluate_paired(nn.Identity(), DataLoader(pairs, batch_size=2))
    ColorTransfer.fit(DataLoader(pairs, batch_size=2))
    assert torch.equal(torch.get_rng_state(), before)
    # the check can fail: the same batches from a DataLoader on the global RNG move it
    for _ in DataLoader(pairs, batch_size=2):
        pass
    assert not torch.equal(torch.get_rng_state(), before)


class _Ramp(nn.Module):
    """Adds a left-to-right ramp: a generator that does not commute with the mirror."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.linspace(-0.5, 0.5, x.shape[-1])


def test_self_ensemble_scores_the_average_of_the_translation_and_its_mirror_twin() -> None:
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 - 0.4
    # x + ramp and flip(flip(x) + ramp) = x + reversed ramp: their mean is x itself
    alone = evaluate_paired(_Ramp(), TensorDataset(x, x))
    both = evaluate_paired(_Ramp(), TensorDataset(x, x), self_ensemble=True)
    ramp = torch.linspace(-0.5, 0.5, 16).abs().mean().item()
    assert alone["l1"] == pytest.approx(ramp, abs=1e-6)  # nothing clamped: |x + ramp| < 1
    assert both["l1"] == pytest.approx(0.0, abs=1e-6) and both["ssim"] == pytest.approx(1.0)
    assert both["identity_l1"] == alone["identity_l1"]  # the baseline is the input, unchanged
    # a generator that commutes with the mirror (a pointwise one) is its own ensemble
    pointwise = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Tanh())
    y = pointwise(x).detach()
    plain = evaluate_paired(pointwise, TensorDataset(x, y))
    mirrored = evaluate_paired(pointwise, TensorDataset(x, y), self_ensemble=True)
    assert mirrored["l1"] == pytest.approx(plain["l1"], abs=1e-6)


def test_self_ensemble_checks_its_flag_and_each_outputs_shape() -> None:
    pairs = TensorDataset(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="evaluate_paired self_ensemble must be a bool; got 1"):
        evaluate_paired(nn.Identity(), pairs, self_ensemble=1)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=r"shape \(2, 3, 16, 16\); got \(2, 3, 8, 8\) at batch 0"):
        evaluate_paired(nn.AvgPool2d(2), pairs, self_ensemble=True)
