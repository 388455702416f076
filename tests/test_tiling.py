"""Tiled translation: the same result as the whole image, at memory set by the tile."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from unpaired_i2i import (
    CycleGAN,
    CycleTrainer,
    ResnetGenerator,
    TilingPlan,
    TrainConfig,
    plan_tiling,
    translate,
    translate_tiled,
)
from unpaired_i2i.cli import main

ATOL = 1e-5  # float32 rounding; the halo of 32 px covers the tiny generators' receptive field


def tiny(seed: int = 0, **overrides: Any) -> ResnetGenerator:
    torch.manual_seed(seed)
    options: dict[str, Any] = {"base_channels": 4, "n_blocks": 1, **overrides}
    return ResnetGenerator.from_preset("cyclegan", **options)


def randomize_norms(g: nn.Module) -> nn.Module:
    """Non-trivial affine parameters and running statistics, so that they are tested too."""
    torch.manual_seed(1)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d | nn.GroupNorm):
            if m.weight is not None:
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.normal_(m.bias)
            if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.running_mean is not None:
                assert m.running_var is not None
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return g


def images(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


NORMS: dict[str, Any] = {
    "instance": "instance",
    "batch (eval, running stats)": "batch",
    "none": "none",
    "instance, affine": lambda c: nn.InstanceNorm2d(c, affine=True),
    "batch, batch stats": lambda c: nn.BatchNorm2d(c, track_running_stats=False),
    "group": lambda c: nn.GroupNorm(2, c),
}


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("norm", list(NORMS.values()), ids=list(NORMS))
def test_tiled_equals_whole_image(norm: Any) -> None:
    g = randomize_norms(tiny(norm=norm)).eval()
    x = images(2, 3, 96, 128)  # two images: statistics are per image (per batch for BN)
    whole = translate(g, x)
    tiled = translate_tiled(g, x, tile=32, overlap=32)
    assert tiled.shape == whole.shape
    assert max_diff(tiled, whole) < ATOL


def test_residual_generator_tiles_exactly() -> None:
    g = randomize_norms(tiny(norm="instance", residual=True)).eval()
    x = images(1, 3, 96, 128)
    assert max_diff(translate_tiled(g, x, tile=32, overlap=32), translate(g, x)) < ATOL


@pytest.mark.parametrize("detail", [None, 7])
def test_local_affine_generator_tiles_exactly(detail: int | None) -> None:
    # the per-pixel matrix multiplies each pixel's own input (or its 7x7 detail, inside the
    # halo): tiles stay exact
    options: dict[str, Any] = {
        "residual": True,
        "local_affine": True,
        "local_affine_detail": detail,
    }
    g = randomize_norms(tiny(norm="instance", **options)).eval()
    with torch.no_grad():
        g.get_parameter("head.conv.weight")[3:].normal_(0.0, 0.02)
    x = images(1, 3, 96, 128)
    assert max_diff(translate_tiled(g, x, tile=32, overlap=32), translate(g, x)) < ATOL


def test_per_tile_statistics_would_be_wrong() -> None:
    # The tiles are not trivially right: without whole-image statistics they differ.
    g = tiny().eval()
    x = images(1, 3, 96, 96)
    whole = translate(g, x)
    with torch.no_grad():
        per_tile = torch.cat(
            [
                torch.cat([g(x[..., r : r + 32, c : c + 32]) for c in (0, 32, 64)], -1)
                for r in (0, 32, 64)
            ],
            -2,
        )
    assert max_diff(per_tile, whole) > 0.05
    assert max_diff(translate_tiled(g, x, tile=32, overlap=32), whole) < ATOL


@given(
    height=st.integers(min_value=33, max_value=90),
    width=st.integers(min_value=33, max_value=90),
    tile=st.sampled_from([32, 40, 48, 64]),
)
def test_any_size_keeps_its_size_and_matches_whole_image(
    height: int, width: int, tile: int
) -> None:
    g = tiny().eval()
    x = images(1, 3, height, width, seed=height * 100 + width)
    tiled = translate(g, x, tile=tile, overlap=32)
    assert tiled.shape == (1, 3, height, width)
    assert max_diff(tiled, translate(g, x)) < ATOL


def test_odd_photo_size_keeps_its_size() -> None:
    g = tiny().eval()
    x = images(1, 3, 300, 451)
    y = translate_tiled(g, x, tile=128, overlap=32)
    assert y.shape == (1, 3, 300, 451)
    assert max_diff(y, translate(g, x)) < ATOL


def test_other_layouts_and_shared_norm_layers() -> None:
    # The compact layout: no stem, 4x4 kernels, three downsamplings (divisor 8), BatchNorm.
    basic = randomize_norms(ResnetGenerator.from_preset("basic", base_channels=4, n_blocks=1))
    x = images(1, 3, 100, 120)
    assert max_diff(translate_tiled(basic.eval(), x, tile=40), translate(basic, x)) < ATOL
    up = tiny(upsampling="resize_conv", n_blocks=2).eval()
    assert max_diff(translate_tiled(up, x, tile=32, overlap=48), translate(up, x)) < ATOL

    class SharedNorm(nn.Module):  # one InstanceNorm module called twice; no divisor attribute
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 6, 3, padding=1, padding_mode="reflect")
            self.b = nn.Conv2d(6, 6, 3, padding=1)
            self.c = nn.Conv2d(6, 3, 3, padding=1, padding_mode="reflect")
            self.norm = nn.InstanceNorm2d(6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.norm(self.a(x)).relu()
            return torch.tanh(self.c(self.norm(self.b(h)).relu()))

    torch.manual_seed(0)
    shared = SharedNorm()
    assert plan_tiling(shared, (64, 64), tile=16).norm_layers == 2
    y = translate_tiled(shared, x, tile=16, overlap=8)
    with torch.no_grad():
        assert max_diff(y, shared(x)) < ATOL


def test_thumbnail_statistics_are_exact_when_the_thumbnail_is_the_image() -> None:
    g = tiny().eval()
    x = images(1, 3, 64, 80)
    whole = translate(g, x)
    # 64x80 fits in one tile with its halo (32 + 2 * 32 = 96): the thumbnail is the image itself.
    same = translate_tiled(g, x, tile=32, overlap=32, stats="thumbnail")
    assert max_diff(same, whole) < ATOL
    # A larger image: the thumbnail is smaller, the statistics an approximation.
    big = images(1, 3, 192, 160)
    approx = translate(g, big, tile=32, overlap=32, tile_stats="thumbnail")
    assert approx.shape == big.shape and bool(approx.abs().le(1).all())
    assert plan_tiling(g, (192, 160), tile=32, stats="thumbnail").passes == 2


def test_image_within_one_tile_runs_whole(caplog: pytest.LogCaptureFixture) -> None:
    g = tiny().eval()
    x = images(1, 3, 30, 21)
    with caplog.at_level(logging.INFO, logger="unpaired_i2i.tiling"):
        y = translate_tiled(g, x, tile=64)
    assert "one run, as a whole image" in caplog.text
    assert torch.equal(y, translate(g, x))


# ---------------------------------------------------------------------------- the reported cost
def test_plan_counts_tiles_layers_and_passes() -> None:
    plan = plan_tiling(tiny(), (300, 451), tile=128, overlap=30)
    assert isinstance(plan, TilingPlan)
    assert (plan.height, plan.width, plan.rows, plan.cols, plan.tiles) == (300, 452, 3, 4, 12)
    # Near-equal cores (100 px down, 116 or 112 px across); overlap rounded up to the divisor.
    assert (plan.tile, plan.overlap) == (116, 32)
    # The largest inputs: inner tiles with a halo on both sides (the 116 px core is at the edge).
    assert (plan.tile_height, plan.tile_width) == (100 + 2 * 32, 112 + 2 * 32)
    # stem + 2 downsamplings + 2 per residual block + 2 upsamplings
    assert (plan.norm_layers, plan.passes, plan.tile_runs) == (7, 8, 96)
    assert "exact statistics of 7 normalisation layers, 8 passes" in plan.describe()
    nine = ResnetGenerator.from_preset("cyclegan", base_channels=2)
    assert plan_tiling(nine, (512, 512), tile=128).passes == 24
    assert plan_tiling(tiny(norm="batch"), (512, 512), tile=128).passes == 1
    assert plan_tiling(tiny(norm="none"), (512, 512), tile=128).norm_layers == 0


def test_each_run_logs_its_cost(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="unpaired_i2i.tiling"):
        translate_tiled(tiny(), images(1, 3, 64, 64), tile=32, overlap=8)
    assert "4 tile(s)" in caplog.text and "8 passes, 32 tile runs" in caplog.text


# -------------------------------------------------------------------------- the generator is left
def test_generator_modes_and_norm_layers_are_restored() -> None:
    g = tiny()
    g.train()
    g.blocks.eval()
    translate_tiled(g, images(1, 3, 64, 64), tile=32)
    assert g.training and not g.blocks.training and g.stem.training
    assert all("forward" not in vars(m) for m in g.modules())

    def broken(module: nn.Module, args: Any, output: torch.Tensor) -> None:
        raise RuntimeError("boom")

    handle = g.head.register_forward_hook(broken)
    with pytest.raises(RuntimeError, match="boom"):
        translate_tiled(g, images(1, 3, 64, 64), tile=32)
    handle.remove()
    assert all("forward" not in vars(m) for m in g.modules())


def test_dtype_and_device_follow_the_input() -> None:
    g = tiny().eval()
    x = images(1, 3, 64, 72).double()
    y = translate_tiled(g, x, tile=32)
    assert y.dtype == torch.float64 and not y.is_inference()
    assert max_diff(y, translate(g, x)) < ATOL


# -------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tile": 4}, r"translate_tiled tile must be an int >= 8 \(the smallest input of Re"),
        ({"tile": True}, r"translate_tiled tile must be an int >= 8 .*; got True"),
        ({"tile": 32, "overlap": -1}, r"translate_tiled overlap must be an int >= 0; got -1"),
        ({"tile": 32, "stats": "tile"}, r"translate_tiled stats must be one of 'exact', 'thumb"),
    ],
)
def test_translate_tiled_rejects_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        translate_tiled(tiny(), images(1, 3, 64, 64), **kwargs)


def test_translate_rejects_bad_tiling_and_speed_options(tmp_path: Path) -> None:
    g, x = tiny(), images(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"translate tile must be None or an int >= 8; got 0"):
        translate(g, x, tile=0)
    with pytest.raises(ValueError, match=r"translate overlap applies to tiled translation"):
        translate(g, x, overlap=16)
    with pytest.raises(ValueError, match=r"tile_stats applies to tiled translation"):
        translate(g, x, tile_stats="thumbnail")
    with pytest.raises(ValueError, match=r"translate overlap must be an int >= 0; got -2"):
        translate(g, x, tile=32, overlap=-2)
    with pytest.raises(ValueError, match=r"translate tile_stats must be one of"):
        translate(g, x, tile=32, tile_stats="approx")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"translate amp must be one of 'off', 'bf16', 'fp16'"):
        translate(g, x, amp="fp8")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"translate channels_last must be a bool; got 1"):
        translate(g, x, channels_last=1)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"plan_tiling size must be \(H, W\)"):
        plan_tiling(g, (0, 10), tile=32)
    # Options are checked before any file is read or written.
    with pytest.raises(ValueError, match="overlap"):
        translate(g, tmp_path / "missing.png", output_dir=tmp_path / "out", overlap=8)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ files and speed options
def write_png(path: Path, width: int, height: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path)
    return path


def test_translate_files_in_tiles(tmp_path: Path) -> None:
    g = tiny().eval()
    photo = write_png(tmp_path / "photo.png", 75, 58)
    (whole,) = translate(g, photo)
    (tiled,) = translate(g, photo, tile=32, overlap=32)
    assert tiled.shape == whole.shape == (3, 58, 75)
    assert max_diff(tiled, whole) < ATOL
    (resized,) = translate(g, photo, tile=32, overlap=32, fit="resize")
    assert resized.shape == (3, 58, 75)
    assert max_diff(resized, translate(g, photo, fit="resize")[0]) < ATOL


def test_tiled_translate_runs_one_image_at_a_time_by_default() -> None:
    g = tiny().eval()
    seen: list[int] = []
    handle = g.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    x = images(3, 3, 64, 64)
    tiled = translate(g, x, tile=32)
    assert set(seen) == {1}  # memory follows the tile, whatever the number of images
    seen.clear()
    assert max_diff(translate(g, x, tile=32, batch_size=2), tiled) < ATOL
    assert set(seen) == {1, 2}
    seen.clear()
    translate(g, x)
    assert seen == [3]  # whole images: batches of up to 8
    handle.remove()


@pytest.mark.parametrize("tile", [None, 32])
def test_channels_last_matches_float32_and_restores_the_weights(tile: int | None) -> None:
    g = tiny().eval()
    x = images(2, 3, 64, 48)
    fp32 = translate(g, x)
    fast = translate(g, x, channels_last=True, tile=tile)
    assert fast.is_contiguous() and fast.dtype == torch.float32
    assert max_diff(fast, fp32) < ATOL
    assert all(p.is_contiguous() for p in g.parameters())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_autocast_is_close_to_float32(amp: Any) -> None:
    g = tiny().eval()
    x = images(1, 3, 48, 64)
    fp32 = translate(g, x)
    for tile in (None, 32):
        low = translate(g, x, amp=amp, tile=tile)
        assert low.dtype == torch.float32 and low.shape == fp32.shape
        assert float((low - fp32).abs().mean()) < 0.02
        assert max_diff(low, fp32) < 0.2


# ------------------------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = CycleGAN.from_preset(
        "cyclegan", base_channels=4, n_blocks=1, discriminator_overrides={"base_channels": 4}
    )
    trainer = CycleTrainer(model, TrainConfig(), device="cpu")
    return trainer.save_checkpoint(tmp_path_factory.mktemp("ckpt") / "last.pt")


def test_cli_tile(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = write_png(tmp_path / "photo.png", 90, 70)
    assert main(["translate", str(checkpoint), str(photo), "--out", str(tmp_path / "whole")]) == 0
    code = main(
        [
            "translate",
            str(checkpoint),
            str(photo),
            "--out",
            str(tmp_path / "tiled"),
            "--tile",
            "32",
            "--overlap",
            "32",
            "--channels-last",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "tiled translation: tiles of 32 px with 32 px of overlap" in out
    assert "exact statistics of 7 norm layers: 8 pass(es)" in out
    with (
        Image.open(tmp_path / "whole" / "photo.png") as a,
        Image.open(tmp_path / "tiled" / "photo.png") as b,
    ):
        assert a.size == b.size == (90, 70)
        diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
    assert diff.max() <= 1  # the same image, up to 8-bit rounding


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--overlap", "8"], "argument --overlap: applies to tiled translation; add --tile PX"),
        (["--tile-stats", "thumbnail"], "argument --tile-stats: applies to tiled translation"),
        (["--tile", "4"], "argument --tile: plan_tiling tile must be an int >= 8"),
        (["--amp", "fp8"], "argument --amp: invalid choice"),
    ],
)
def test_cli_tile_usage_errors(
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    match: str,
) -> None:
    photo = write_png(tmp_path / "p.png", 20, 20)
    code = main(["translate", str(checkpoint), str(photo), "--out", str(tmp_path / "o"), *extra])
    assert code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
