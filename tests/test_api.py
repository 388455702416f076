"""The public API is flat, documented and typed."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import torch

import unpaired_i2i
from unpaired_i2i.bench import (
    BENCH_VARIANTS,
    BenchVariant,
    benchmark_train_step,
    format_markdown,
    format_result,
    run_benchmarks,
)


def test_every_public_name_is_exported_and_documented() -> None:
    assert len(unpaired_i2i.__all__) == len(set(unpaired_i2i.__all__))
    for name in unpaired_i2i.__all__:
        obj = getattr(unpaired_i2i, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
            if inspect.isfunction(obj):
                hints = inspect.signature(obj)
                assert hints.return_annotation is not inspect.Signature.empty, name


def test_package_is_typed() -> None:
    assert (Path(unpaired_i2i.__file__).parent / "py.typed").is_file()


def test_benchmark_reports_ratio_against_the_plain_loop(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    results = run_benchmarks(
        [BenchVariant("channels_last", channels_last=True)],
        output=report,
        size=32,
        n_blocks=1,
        base_channels=2,
        steps=2,
        warmup=1,
        repeats=2,
        device="cpu",
    )
    assert [r["variant"]["name"] for r in results] == ["plain-eager-fp32", "channels_last"]
    base, other = results
    assert base["speedup_vs_eager_fp32"] == 1.0
    assert other["speedup_vs_eager_fp32"] == pytest.approx(base["median_s"] / other["median_s"])
    assert base["machine"]["device"] == "cpu" and base["finite"] and other["finite"]
    assert len(other["repeat_medians_s"]) == 2 and other["warmup_s"] > 0
    assert other["min_s"] <= other["median_s"] <= other["max_s"]
    assert "x1.00 vs plain eager fp32" in format_result(base)
    assert BENCH_VARIANTS["channels_last"] == BenchVariant("channels_last", channels_last=True)
    table = format_markdown(results)
    assert "| channels_last |" in table
    # A saved report tables the same later, dated with the day it was measured.
    saved = json.loads(report.read_text())
    assert saved["machine"]["date"][:10] in table.splitlines()[0]
    assert format_markdown(saved) == table
    saved["machine"]["date"] = "2001-02-03T04:05:06Z"
    assert "2001-02-03" in format_markdown(saved)
    with pytest.raises(ValueError, match="settings"):
        format_markdown({"results": saved["results"]})
    with pytest.raises(ValueError, match="at least one"):
        format_markdown([])


def test_benchmark_plain_loop_is_the_reference_step() -> None:
    # The baseline's losses equal the trainer's first step on the same weights and inputs.
    from unpaired_i2i import CycleGAN, CycleTrainer, TrainConfig
    from unpaired_i2i.bench import _plain_train_step

    def model() -> CycleGAN:
        torch.manual_seed(0)
        return CycleGAN.from_preset(
            "cyclegan",
            base_channels=4,
            n_blocks=1,
            discriminator_overrides={"base_channels": 4, "n_layers": 1},
        )

    x, y = torch.rand(2, 1, 3, 16, 16) * 2 - 1
    plain_model = model()
    plain_loss = _plain_train_step(plain_model, torch.device("cpu"))(x, y)
    trainer = CycleTrainer(model(), TrainConfig(), device="cpu")
    losses = trainer.train_step(x, y)
    assert float(plain_loss) == pytest.approx(float(losses["g_total"]), rel=1e-5)
    for p, q in zip(plain_model.parameters(), trainer.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=5e-4)


def test_benchmark_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="repeats"):
        run_benchmarks(repeats=0)
    with pytest.raises(ValueError, match="kind"):
        run_benchmarks(kind="eval")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain variant"):
        run_benchmarks([BenchVariant("x", plain=True, amp="bf16")])


@pytest.mark.parametrize(("kw", "match"), [({"steps": 0}, "steps"), ({"warmup": -1}, "warmup")])
def test_benchmark_rejects_bad_counts(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        benchmark_train_step(size=16, n_blocks=1, base_channels=2, **kw)


# The public names as of 0.1 (commit 77505d1). Each must stay importable from the top level.
PUBLIC_NAMES_0_1 = (
    "BENCH_VARIANTS", "DATASET_NAMES", "DATASET_URL", "EMA", "IMAGE_EXTENSIONS", "LOSS_KEYS",
    "SEASONS", "BenchVariant", "Callback", "CheckpointError", "ColorTransfer",
    "ConvDiscriminator", "ConvNormAct", "CorruptImageError", "CorruptImageWarning", "CycleGAN",
    "CycleGANTransform", "CycleTrainer", "DownloadError", "GANLoss", "ImagePool", "LossPlot",
    "MetricsFormat", "MetricsLogger", "ModelCheckpoint", "NonFiniteLossError", "ProgressBar",
    "ResidualBlock", "ResnetGenerator", "SampleGrid", "Season", "ShapeError",
    "TensorBoardLogger", "TrainConfig", "TrainerState", "UnpairedImageDataset", "__version__",
    "benchmark_train_step", "cycle_consistency_loss", "default_load_size", "download_dataset",
    "draw_scene", "evaluate_paired", "export_generator", "fake_mse_loss", "format_result",
    "gan_loss", "identity_loss", "init_weights", "linear_decay_factor", "linear_decay_lambda",
    "list_images", "load_checkpoint_file", "load_cyclegan", "load_exported", "load_image",
    "machine_info", "make_season_dataset", "psnr", "real_mse_loss", "run_benchmarks",
    "save_checkpoint_file", "ssim", "to_rgb", "translate", "translation_grid",
)  # fmt: skip


def test_every_name_of_the_first_release_still_imports() -> None:
    code = "from unpaired_i2i import " + ", ".join(PUBLIC_NAMES_0_1)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert all(namespace[name] is not None for name in PUBLIC_NAMES_0_1)


def test_the_package_level_benchmark_names_are_typed_for_checkers() -> None:
    # The benchmark names are loaded lazily at run time (``__getattr__``); a type checker sees
    # them through the ``if TYPE_CHECKING:`` import, which must name every one of them.
    import ast

    import unpaired_i2i.bench

    tree = ast.parse(Path(inspect.getfile(unpaired_i2i)).read_text())
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for stmt in node.body
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "unpaired_i2i.bench"
        for alias in stmt.names
    }
    assert typed == set(unpaired_i2i.bench.__all__)
    for name in typed:  # and each is reachable at run time as the same object
        assert getattr(unpaired_i2i, name) is getattr(unpaired_i2i.bench, name)
