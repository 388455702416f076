"""Benchmark harness for the training step and inference (``unpaired-i2i bench``, ``benchmarks/``).

Method: every candidate is measured in one process against a baseline written the plain way
(``plain-eager-fp32``: the reference's eager float32 loop, six generator calls, four
discriminator calls, default Adam, no library code in the step), so every figure is also a
ratio to it. Each variant first runs ``warmup`` untimed steps (their total time, which
includes compilation, is reported as ``warmup_s``); then ``repeats`` rounds time ``steps``
steps of every variant in turn (baseline, candidate 1, candidate 2, ..., baseline, ...), so
that slow drifts of the machine (heat, other processes) hit every variant alike. Each step is
timed alone, between device synchronisations. Reported per variant: median, min, max, stdev
and interquartile range of the step times, images per second, peak memory (CUDA: the largest
``max_memory_allocated`` of its rounds), and the machine (torch and CUDA versions, device and
CPU model, CPU flags including AVX-512 and AMX, threads, git commit).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import torch
from torch import nn

from unpaired_i2i import __version__
from unpaired_i2i._io import write_atomic
from unpaired_i2i.training.config import AmpMode, CompileMode

__all__ = [
    "BASELINE",
    "BENCH_KINDS",
    "BENCH_VARIANTS",
    "BenchKind",
    "BenchVariant",
    "benchmark_train_step",
    "format_markdown",
    "format_result",
    "machine_info",
    "run_benchmarks",
]

BenchKind: TypeAlias = Literal["train", "inference"]
"""What :func:`run_benchmarks` times: the training step or the generator's inference."""
BENCH_KINDS: tuple[BenchKind, ...] = ("train", "inference")


@dataclass(frozen=True)
class BenchVariant:
    """One way of running the training step (or the generator, for inference).

    Args:
        name: Label in the report.
        amp: ``"off"``, ``"bf16"``, ``"fp16"`` or ``"auto"`` autocast.
        channels_last: Use the channels-last memory format.
        compile: Compile the networks with :func:`torch.compile`.
        compile_mode: ``"default"``, ``"reduce-overhead"`` (CUDA graphs) or
            ``"max-autotune"``.
        plain: The baseline: the step written the straightforward way, without the library's
            trainer (the other options must stay at their defaults).
    """

    name: str = "eager-fp32"
    amp: AmpMode = "off"
    channels_last: bool = False
    compile: bool = False
    compile_mode: CompileMode = "default"
    plain: bool = False


#: The plain eager float32 loop every figure is compared with.
BASELINE = BenchVariant("plain-eager-fp32", plain=True)

#: The named variants of ``unpaired-i2i bench --variants`` and ``benchmarks/``.
BENCH_VARIANTS: dict[str, BenchVariant] = {
    v.name: v
    for v in (
        BASELINE,
        BenchVariant("eager-fp32"),
        BenchVariant("channels_last", channels_last=True),
        BenchVariant("bf16", amp="bf16"),
        BenchVariant("fp16", amp="fp16"),
        BenchVariant("auto", amp="auto"),
        BenchVariant("bf16+channels_last", amp="bf16", channels_last=True),
        BenchVariant("compile", compile=True),
        BenchVariant("compile+channels_last", compile=True, channels_last=True),
        BenchVariant("bf16+compile", amp="bf16", compile=True),
        BenchVariant("bf16+channels_last+compile", amp="bf16", channels_last=True, compile=True),
        BenchVariant(
            "bf16+compile-reduce-overhead", amp="bf16", compile=True, compile_mode="reduce-overhead"
        ),
        BenchVariant(
            "bf16+channels_last+compile-reduce-overhead",
            amp="bf16",
            channels_last=True,
            compile=True,
            compile_mode="reduce-overhead",
        ),
        BenchVariant(
            "bf16+compile-max-autotune", amp="bf16", compile=True, compile_mode="max-autotune"
        ),
    )
}

_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def _cpu_model_and_flags() -> tuple[str, list[str]]:
    model = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line and not flags:
                    present = set(line.split(":", 1)[1].split())
                    flags = [f for f in _CPU_FLAGS if f in present]
    except OSError:  # not Linux
        pass
    return model, flags


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine_info(device: torch.device | str) -> dict[str, Any]:
    """Describe the machine a benchmark ran on.

    Returns:
        ``date`` (UTC, ISO 8601, when this was called), ``torch``, ``python``,
        ``unpaired_i2i`` (version), ``commit`` (git, when run from a checkout), ``platform``,
        ``cpu_model``, ``cpu_flags`` (those of AVX2, AVX-512, AVX-512 bf16/fp16 and AMX
        present), ``cpu_amx``, ``onednn_max_cpu_isa`` (the ``ONEDNN_MAX_CPU_ISA`` cap on
        torch's CPU convolutions, ``None`` when unset), ``cpu_count``, ``torch_threads``,
        ``device``, and on CUDA
        ``device_name``, ``cuda`` and ``cudnn``.
    """
    from unpaired_i2i.training.speed import cpu_has_amx, onednn_isa_cap

    device = torch.device(device)
    model, flags = _cpu_model_and_flags()
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "unpaired_i2i": __version__,
        "commit": _git_commit(),
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_amx": cpu_has_amx(),
        "onednn_max_cpu_isa": onednn_isa_cap(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
    return info


def _device(device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _max_rss_mib() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


@dataclass
class _Runner:
    """One variant, built and ready: ``step()`` runs one step on fixed inputs."""

    variant: BenchVariant
    step: Callable[[], Any]
    device: torch.device
    images_per_step: int
    warmup_s: float = 0.0
    times: list[float] = field(default_factory=list)
    repeat_medians: list[float] = field(default_factory=list)
    peak_mib: float | None = None
    check: Callable[[], bool] = lambda: True


def _build_model(preset: str, n_blocks: int | None, base_channels: int | None, seed: int) -> Any:
    from unpaired_i2i.models import CycleGAN

    torch.manual_seed(seed)
    overrides: dict[str, Any] = {}
    d_overrides: dict[str, Any] = {}
    if n_blocks is not None:
        overrides["n_blocks"] = n_blocks
    if base_channels is not None:
        overrides["base_channels"] = base_channels
        d_overrides["base_channels"] = base_channels
    return CycleGAN.from_preset(preset, discriminator_overrides=d_overrides, **overrides)


def _inputs(
    batch_size: int, size: int, seed: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1
    y = torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1
    return x.to(device), y.to(device)


def _plain_train_step(model: Any, device: torch.device) -> Callable[..., Any]:
    """The reference's step written the straightforward way (the baseline)."""
    from unpaired_i2i.training.pool import ImagePool

    g_xy, g_yx, d_x, d_y = model.g_xy, model.g_yx, model.d_x, model.d_y
    betas = (0.5, 0.999)
    opt_g = torch.optim.Adam([*g_xy.parameters(), *g_yx.parameters()], lr=2e-4, betas=betas)
    opt_d = torch.optim.Adam([*d_x.parameters(), *d_y.parameters()], lr=2e-4, betas=betas)
    pool_x, pool_y = ImagePool(50, seed=0), ImagePool(50, seed=1)
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def gan(pred: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(pred) if real else torch.zeros_like(pred)
        loss: torch.Tensor = mse(pred, target)
        return loss

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        model.train()
        for p in [*d_x.parameters(), *d_y.parameters()]:
            p.requires_grad_(False)
        opt_g.zero_grad()
        fake_y = g_xy(x)
        rec_x = g_yx(fake_y)
        fake_x = g_yx(y)
        rec_y = g_xy(fake_x)
        idt_y = g_xy(y)
        idt_x = g_yx(x)
        loss_g = (
            gan(d_y(fake_y), True)
            + gan(d_x(fake_x), True)
            + 10.0 * l1(rec_x, x)
            + 10.0 * l1(rec_y, y)
            + 5.0 * l1(idt_y, y)
            + 5.0 * l1(idt_x, x)
        )
        torch.autograd.backward(loss_g)
        opt_g.step()
        for p in [*d_x.parameters(), *d_y.parameters()]:
            p.requires_grad_(True)
        opt_d.zero_grad()
        fy = pool_y.query(fake_y)
        loss_dy = 0.5 * (gan(d_y(y), True) + gan(d_y(fy.detach()), False))
        torch.autograd.backward(loss_dy)
        fx = pool_x.query(fake_x)
        loss_dx = 0.5 * (gan(d_x(x), True) + gan(d_x(fx.detach()), False))
        torch.autograd.backward(loss_dx)
        opt_d.step()
        out: torch.Tensor = loss_g.detach()
        return out

    return step


def _train_runner(variant: BenchVariant, settings: dict[str, Any], dev: torch.device) -> _Runner:
    from unpaired_i2i.training.config import TrainConfig
    from unpaired_i2i.training.trainer import CycleTrainer

    seed = settings["seed"]
    model = _build_model(settings["preset"], settings["n_blocks"], settings["base_channels"], seed)
    x, y = _inputs(settings["batch_size"], settings["size"], seed, dev)
    last: dict[str, Any] = {}
    if variant.plain:
        model.to(dev)
        plain = _plain_train_step(model, dev)

        def step() -> None:
            last["loss"] = plain(x, y)

        def finite() -> bool:
            return bool(torch.isfinite(last["loss"]))

    else:
        config = TrainConfig(
            amp=variant.amp,
            channels_last=variant.channels_last,
            compile=variant.compile,
            compile_mode=variant.compile_mode,
            seed=seed,
            cudnn_benchmark=dev.type == "cuda",
            tf32=dev.type == "cuda",
        )
        trainer = CycleTrainer(model, config, device=dev)

        def step() -> None:
            last["losses"] = trainer.train_step(x, y)

        def finite() -> bool:
            return all(bool(torch.isfinite(v)) for v in last["losses"].values())

    return _Runner(variant, step, dev, 2 * settings["batch_size"], check=finite)


def _inference_runner(
    variant: BenchVariant, settings: dict[str, Any], dev: torch.device
) -> _Runner:
    from unpaired_i2i.training.speed import resolve_amp

    model = _build_model(
        settings["preset"], settings["n_blocks"], settings["base_channels"], settings["seed"]
    )
    generator: nn.Module = model.g_xy.to(dev).eval()
    x, _ = _inputs(settings["batch_size"], settings["size"], settings["seed"], dev)
    last: dict[str, torch.Tensor] = {}
    if variant.plain:

        def step() -> None:
            with torch.no_grad():
                last["out"] = generator(x)

    else:
        fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
        generator.to(memory_format=fmt)
        xf = x.contiguous(memory_format=fmt)
        net: nn.Module = generator
        if variant.compile:
            net = torch.compile(  # type: ignore[assignment]
                generator, mode=variant.compile_mode, dynamic=False
            )
        amp = resolve_amp(variant.amp, dev)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

        def step() -> None:
            if variant.compile and variant.compile_mode != "default":
                torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
            autocast = (
                torch.autocast(dev.type, dtype=dtype)
                if dtype is not None
                else contextlib.nullcontext()
            )
            with torch.inference_mode(), autocast:
                last["out"] = net(xf)

    def finite() -> bool:
        return bool(torch.isfinite(last["out"]).all())

    return _Runner(variant, step, dev, settings["batch_size"], check=finite)


def _count_flops(runner: _Runner) -> int:
    """Floating-point operations of one step (convolutions and matmuls, forward and backward).

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` on one step of the plain
    loop (the same math as every variant).
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        runner.step()
    return int(counter.get_total_flops())


def _warm(runner: _Runner, warmup: int) -> None:
    _sync(runner.device)
    start = time.perf_counter()
    for _ in range(warmup):
        runner.step()
    _sync(runner.device)
    runner.warmup_s = time.perf_counter() - start


def _time_round(runner: _Runner, steps: int) -> None:
    cuda = runner.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(runner.device)
    times = []
    for _ in range(steps):
        _sync(runner.device)
        start = time.perf_counter()
        runner.step()
        _sync(runner.device)
        times.append(time.perf_counter() - start)
    runner.times.extend(times)
    runner.repeat_medians.append(statistics.median(times))
    if cuda:
        peak = torch.cuda.max_memory_allocated(runner.device) / 1024**2
        runner.peak_mib = max(runner.peak_mib or 0.0, peak)


def _summary(runner: _Runner) -> dict[str, Any]:
    times = sorted(runner.times)
    median = statistics.median(times)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [median] * 3
    return {
        "variant": asdict(runner.variant),
        "median_s": median,
        "min_s": times[0],
        "max_s": times[-1],
        "mean_s": statistics.fmean(times),
        "stdev_s": statistics.stdev(times) if len(times) > 1 else 0.0,
        "iqr_s": quartiles[2] - quartiles[0],
        "repeat_medians_s": runner.repeat_medians,
        "warmup_s": runner.warmup_s,
        "images_per_s": runner.images_per_step / median,
        "peak_memory_mib": runner.peak_mib,
        "finite": runner.check(),
    }


def _check_counts(steps: int, warmup: int, repeats: int) -> None:
    for name, value, low in (("steps", steps, 1), ("warmup", warmup, 0), ("repeats", repeats, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}")


def run_benchmarks(
    variants: Sequence[BenchVariant] = (BenchVariant(),),
    *,
    kind: BenchKind = "train",
    preset: str = "cyclegan",
    size: int = 128,
    batch_size: int = 1,
    n_blocks: int | None = 6,
    base_channels: int | None = None,
    steps: int = 5,
    warmup: int = 3,
    repeats: int = 3,
    device: str | torch.device | None = None,
    seed: int = 0,
    output: str | os.PathLike[str] | None = None,
    markdown: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Time variants of the training step (or of inference) against the plain eager loop.

    :data:`BASELINE` is always measured (first; added when missing). All variants are built
    first, warmed up, then timed in alternation, ``repeats`` rounds of ``steps`` steps each.

    Args:
        variants: The variants to measure (see :data:`BENCH_VARIANTS`).
        kind: ``"train"`` (one full CycleGAN update: both generators and discriminators) or
            ``"inference"`` (one ``g_xy`` forward pass in eval mode, ``inference_mode``).
        preset: ``CycleGAN.from_preset`` name.
        size: Square image size.
        batch_size: Images per domain and step.
        n_blocks: Residual blocks (``None`` keeps the preset's).
        base_channels: Generator and discriminator width (``None`` keeps the preset's).
        steps: Timed steps per variant and round.
        warmup: Untimed steps per variant before timing (compilation happens here).
        repeats: Rounds.
        device: Device (default: CUDA if available, else CPU).
        seed: Seed for weights and inputs.
        output: Optional JSON file for the report (``settings``, ``machine``, ``results``).
        markdown: Optional Markdown file for the same report as a table.

    Returns:
        One dict per variant, baseline first: ``median_s``, ``min_s``, ``max_s``, ``mean_s``,
        ``stdev_s``, ``iqr_s`` per step, ``repeat_medians_s``, ``warmup_s`` (total time of the
        warm-up steps, compilation included), ``images_per_s`` (both domains counted for
        training), ``peak_memory_mib`` (CUDA; ``None`` on the CPU, where the process's max
        RSS is in ``machine["max_rss_mib"]``), ``finite`` (last losses or outputs finite),
        ``speedup_vs_eager_fp32`` (baseline median / this median), ``tflops_per_s`` (the
        step's floating-point operations, counted once by
        :class:`~torch.utils.flop_counter.FlopCounterMode` and stored in
        ``settings["flops_per_step"]``, per median step time), ``variant``, ``settings`` and
        ``machine``.

    Raises:
        ValueError: ``steps`` or ``repeats`` < 1, ``warmup`` < 0, an unknown ``kind``, or a
            plain variant with other options.
    """
    _check_counts(steps, warmup, repeats)
    if kind not in BENCH_KINDS:
        raise ValueError(f"kind must be 'train' or 'inference'; got {kind!r}")
    for v in variants:
        if v.plain and v != BenchVariant(v.name, plain=True):
            raise ValueError(f"variant {v.name!r}: a plain variant takes no other options")
    dev = _device(device)
    settings: dict[str, Any] = {
        "kind": kind,
        "preset": preset,
        "size": size,
        "batch_size": batch_size,
        "n_blocks": n_blocks,
        "base_channels": base_channels,
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        "seed": seed,
    }
    ordered = [BASELINE, *[v for v in variants if not v.plain]]
    build = _train_runner if kind == "train" else _inference_runner
    runners = [build(v, settings, dev) for v in ordered]
    settings["flops_per_step"] = _count_flops(runners[0])
    for runner in runners:
        _warm(runner, warmup)
    for _ in range(repeats):
        for runner in runners:
            _time_round(runner, steps)
    machine = machine_info(dev)
    machine["max_rss_mib"] = _max_rss_mib()
    results = [_summary(r) for r in runners]
    base_median = results[0]["median_s"]
    for result in results:
        result["speedup_vs_eager_fp32"] = base_median / result["median_s"]
        result["tflops_per_s"] = settings["flops_per_step"] / result["median_s"] / 1e12
        result["settings"] = settings
        result["machine"] = machine
    if output is not None:
        report = {"settings": settings, "machine": machine, "results": _strip(results)}
        text = json.dumps(report, indent=2) + "\n"
        write_atomic(Path(output), lambda f: f.write(text.encode()))
    if markdown is not None:
        table = format_markdown(results)
        write_atomic(Path(markdown), lambda f: f.write(table.encode()))
    return results


def _strip(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("settings", "machine")} for r in results]


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
    """Time one variant of the training step (one round; no baseline, no ratio).

    Args:
        preset: ``CycleGAN.from_preset`` name.
        size: Square image size.
        batch_size: Images per domain and step.
        n_blocks: Residual blocks (``None`` keeps the preset's).
        base_channels: Width (``None`` keeps the preset's).
        steps: Timed steps.
        warmup: Untimed steps first.
        variant: How to run the step (default: the trainer's eager float32 step).
        device: Device (default: CUDA if available, else CPU).
        seed: Seed for weights and inputs.

    Returns:
        The fields of :func:`run_benchmarks`' results without ``speedup_vs_eager_fp32``.

    Raises:
        ValueError: ``steps`` < 1 or ``warmup`` < 0.
    """
    _check_counts(steps, warmup, 1)
    dev = _device(device)
    settings: dict[str, Any] = {
        "kind": "train",
        "preset": preset,
        "size": size,
        "batch_size": batch_size,
        "n_blocks": n_blocks,
        "base_channels": base_channels,
        "steps": steps,
        "warmup": warmup,
        "repeats": 1,
        "seed": seed,
    }
    runner = _train_runner(variant or BenchVariant(), settings, dev)
    _warm(runner, warmup)
    _time_round(runner, steps)
    result = _summary(runner)
    result["settings"] = settings
    result["machine"] = machine_info(dev)
    return result


def format_result(result: dict[str, Any]) -> str:
    """One line for a result of :func:`run_benchmarks`: time per step, throughput, speedup."""
    ratio = result.get("speedup_vs_eager_fp32")
    return (
        f"{result['variant']['name']:>28}: {result['median_s'] * 1000:9.1f} ms/step median "
        f"(min {result['min_s'] * 1000:.1f}, max {result['max_s'] * 1000:.1f}), "
        f"{result['images_per_s']:.2f} img/s, warm-up {result['warmup_s']:.1f} s"
        + (f", x{ratio:.2f} vs plain eager fp32" if ratio is not None else "")
    )


def format_markdown(results: Sequence[dict[str, Any]] | Mapping[str, Any]) -> str:
    """A Markdown table of :func:`run_benchmarks` results, with the settings and machine.

    Args:
        results: What :func:`run_benchmarks` returned, or the report it wrote with
            ``output=`` (``json.load`` of that file: ``settings``, ``machine``, ``results``),
            so a saved run can be tabled again later.

    Returns:
        The text: a heading line naming the device, settings and the date of the measurement
        (``machine["date"]``; today for reports without one), then one row per variant
        (ms/step median and IQR, images/s, ratio to the plain eager float32 loop, achieved
        TFLOP/s, warm-up time, peak memory).

    Raises:
        ValueError: There are no results, or a report lacks ``settings``, ``machine`` or
            ``results``.
    """
    if isinstance(results, Mapping):
        missing = [k for k in ("settings", "machine", "results") if k not in results]
        if missing:
            raise ValueError(
                "results must be run_benchmarks' list or its JSON report with the keys "
                f"'settings', 'machine' and 'results'; the report lacks {missing}"
            )
        rows: Sequence[dict[str, Any]] = results["results"]
    else:
        rows = results
    if not rows:
        raise ValueError("results must hold at least one benchmark result; got none")
    # A report holds the settings and machine once; each returned result holds them too.
    source = results if isinstance(results, Mapping) else rows[0]
    s, m = source["settings"], source["machine"]
    date = str(m.get("date") or time.strftime("%Y-%m-%d"))[:10]
    flags = ", ".join(m["cpu_flags"]) or "no AVX2"
    if m.get("onednn_max_cpu_isa"):
        flags += f", oneDNN capped at {m['onednn_max_cpu_isa']}"
    device = m.get("device_name") or f"{m['cpu_model']} ({flags}, {m['torch_threads']} threads)"
    lines = [
        f"**{s['kind']}**, `{s['preset']}` {s['size']}x{s['size']}, "
        f"{s['n_blocks'] if s['n_blocks'] is not None else 'preset'} blocks, "
        f"batch {s['batch_size']}, on {device}, torch {m['torch']}, "
        f"{date}, commit {m['commit'] or 'unknown'}",
        "",
        "| variant | ms/step (median) | IQR ms | images/s | vs plain eager fp32 | TFLOP/s "
        "| warm-up s | peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        peak = r["peak_memory_mib"]
        lines.append(
            f"| {r['variant']['name']} | {r['median_s'] * 1000:.1f} | {r['iqr_s'] * 1000:.1f} "
            f"| {r['images_per_s']:.2f} | {r.get('speedup_vs_eager_fp32', float('nan')):.2f}x "
            f"| {r.get('tflops_per_s', float('nan')):.3g} "
            f"| {r['warmup_s']:.1f} | {'-' if peak is None else f'{peak:.0f}'} |"
        )
    return "\n".join(lines) + "\n"
