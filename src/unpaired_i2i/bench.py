"""Benchmark harness for the training step (used by ``unpaired-i2i bench`` and ``benchmarks/``).

Method (after kornia's): build the model, run ``warmup`` untimed steps, then time ``steps``
steps one by one, synchronising the device around each, and report the median and spread
together with machine metadata. Every variant is measured in the same process, and its speed
is also given as a ratio against the plain eager float32 step (``"speedup_vs_eager_fp32"``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch

__all__ = [
    "BENCH_VARIANTS",
    "BenchVariant",
    "benchmark_train_step",
    "format_result",
    "machine_info",
    "run_benchmarks",
]


@dataclass(frozen=True)
class BenchVariant:
    """One way of running the training step.

    Args:
        name: Label in the report.
        amp: ``"off"``, ``"bf16"`` or ``"fp16"`` autocast.
        channels_last: Use the channels-last memory format.
    """

    name: str = "eager-fp32"
    amp: Literal["off", "bf16", "fp16"] = "off"
    channels_last: bool = False


#: The named variants of ``unpaired-i2i bench --variants`` and ``benchmarks/train_step.py``.
BENCH_VARIANTS: dict[str, BenchVariant] = {
    v.name: v
    for v in (
        BenchVariant("eager-fp32"),
        BenchVariant("channels_last", channels_last=True),
        BenchVariant("bf16", amp="bf16"),
        BenchVariant("fp16", amp="fp16"),
        BenchVariant("bf16+channels_last", amp="bf16", channels_last=True),
    )
}


def machine_info(device: torch.device) -> dict[str, Any]:
    """Describe the machine a benchmark ran on (versions, device name, CPU threads)."""
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def benchmark_train_step(
    *,
    preset: str = "cyclegan",
    size: int = 128,
    batch_size: int = 1,
    n_blocks: int | None = 6,
    base_channels: int | None = None,
    steps: int = 10,
    warmup: int = 3,
    variant: BenchVariant | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Time :meth:`CycleTrainer.train_step` for one model and one variant.

    Args:
        preset: ``CycleGAN.from_preset`` name.
        size: Square image size.
        batch_size: Images per domain and step.
        n_blocks: Residual blocks (``None`` keeps the preset's).
        base_channels: Generator and discriminator width (``None`` keeps the preset's).
        steps: Timed steps.
        warmup: Untimed steps first.
        variant: How to run the step (default: eager float32).
        device: Device (default: CUDA if available, else CPU).
        seed: Seed for weights and inputs.

    Returns:
        A JSON-ready dict: ``median_s``, ``min_s``, ``max_s``, ``mean_s``, ``stdev_s`` per
        step, ``images_per_s`` (both domains counted), the settings and ``machine``.

    Raises:
        ValueError: ``steps`` < 1 or ``warmup`` < 0.
    """
    from unpaired_i2i.models import CycleGAN
    from unpaired_i2i.training.config import TrainConfig
    from unpaired_i2i.training.trainer import CycleTrainer

    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0; got {warmup}")
    variant = variant or BenchVariant()
    dev = torch.device(device) if device is not None else None
    torch.manual_seed(seed)
    overrides: dict[str, Any] = {}
    d_overrides: dict[str, Any] = {}
    if n_blocks is not None:
        overrides["n_blocks"] = n_blocks
    if base_channels is not None:
        overrides["base_channels"] = base_channels
        d_overrides["base_channels"] = base_channels
    model = CycleGAN.from_preset(preset, discriminator_overrides=d_overrides, **overrides)
    config = TrainConfig(amp=variant.amp, channels_last=variant.channels_last, seed=seed)
    trainer = CycleTrainer(model, config, device=dev)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1).to(trainer.device)
    y = (torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1).to(trainer.device)
    for _ in range(warmup):
        trainer.train_step(x, y)
    _sync(trainer.device)
    times: list[float] = []
    for _ in range(steps):
        _sync(trainer.device)
        start = time.perf_counter()
        losses = trainer.train_step(x, y)
        _sync(trainer.device)
        times.append(time.perf_counter() - start)
    finite = all(bool(torch.isfinite(v)) for v in losses.values())
    median = statistics.median(times)
    return {
        "variant": asdict(variant),
        "preset": preset,
        "size": size,
        "batch_size": batch_size,
        "n_blocks": n_blocks,
        "base_channels": base_channels,
        "steps": steps,
        "warmup": warmup,
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "mean_s": statistics.fmean(times),
        "stdev_s": statistics.stdev(times) if len(times) > 1 else 0.0,
        "images_per_s": 2 * batch_size / median,
        "losses_finite": finite,
        "machine": machine_info(trainer.device),
    }


def run_benchmarks(
    variants: Sequence[BenchVariant] = (BenchVariant(),),
    *,
    output: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Benchmark several variants in one process, against the eager float32 step.

    The plain eager float32 variant is always measured first (added when missing), and each
    result gets ``speedup_vs_eager_fp32`` = baseline median / variant median.

    Args:
        variants: The variants to measure.
        output: Optional path of a JSON file to write the results to.
        **kwargs: Passed to :func:`benchmark_train_step`.

    Returns:
        One result dict per variant, baseline first.
    """
    baseline = BenchVariant()
    ordered = [baseline, *[v for v in variants if v != baseline]]
    results = [benchmark_train_step(variant=v, **kwargs) for v in ordered]
    base_median = results[0]["median_s"]
    for result in results:
        result["speedup_vs_eager_fp32"] = base_median / result["median_s"]
    if output is not None:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
    return results


def format_result(result: dict[str, Any]) -> str:
    """One line for a result of :func:`run_benchmarks`: time per step, throughput, speedup."""
    return (
        f"{result['variant']['name']:>20}: {result['median_s'] * 1000:9.1f} ms/step median "
        f"(min {result['min_s'] * 1000:.1f}, max {result['max_s'] * 1000:.1f}), "
        f"{result['images_per_s']:.2f} img/s, "
        f"x{result['speedup_vs_eager_fp32']:.2f} vs eager fp32"
    )
