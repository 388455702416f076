"""Images per second of ``translate`` with its speed options; writes JSON next to this script.

Usage::

    python benchmarks/inference_speed.py                       # CPU (or --device cuda)
    python benchmarks/inference_speed.py --sizes 256 --variants fp32 bf16

Times :func:`unpaired_i2i.translate` on a ``(batch, 3, size, size)`` tensor with the 9-block
``cyclegan`` generator (random initial weights, seed 0) for each variant: ``fp32`` (the
default), ``channels_last``, ``bf16`` / ``fp16`` (autocast) and ``bf16+channels_last``. Each
measurement follows kornia's method: one warm-up call, then ``--repeats`` timed calls (device
synchronised), reporting the median and the spread. A variant whose single call takes longer
than ``--max-seconds`` is timed once without warm-up, and skipped at the larger sizes when the
estimate from the smaller size exceeds the budget (the estimate is recorded): on CPUs without
native bf16/fp16 arithmetic (no AVX-512 BF16 / AMX) autocast is tens of times slower than
float32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from unpaired_i2i import ResnetGenerator, translate
from unpaired_i2i.bench import machine_info

VARIANTS: dict[str, dict[str, Any]] = {
    "fp32": {},
    "channels_last": {"channels_last": True},
    "bf16": {"amp": "bf16"},
    "fp16": {"amp": "fp16"},
    "bf16+channels_last": {"amp": "bf16", "channels_last": True},
}
RESULTS = Path(__file__).with_name("results") / "inference_speed.json"


def timed(call: Any, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def measure(
    g: torch.nn.Module, variant: str, size: int, args: argparse.Namespace
) -> dict[str, Any]:
    device = torch.device(args.device)
    x = torch.rand(args.batch_size, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = (x * 2 - 1).to(device)
    options = VARIANTS[variant]

    def call() -> None:
        translate(g, x, batch_size=args.batch_size, **options)

    first = timed(call, device)
    times = [first]
    warmed = first <= args.max_seconds
    if warmed:
        times = [timed(call, device) for _ in range(args.repeats)]
    median = statistics.median(times)
    return {
        "variant": variant,
        "size": size,
        "batch_size": args.batch_size,
        "images_per_second": round(args.batch_size / median, 4),
        "median_seconds": round(median, 4),
        "min_seconds": round(min(times), 4),
        "max_seconds": round(max(times), 4),
        "repeats": len(times),
        "warmed_up": warmed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="budget per call")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.manual_seed(0)
    g = ResnetGenerator.from_preset("cyclegan").to(args.device).eval()
    rows: list[dict[str, Any]] = []
    seconds_per_pixel: dict[str, float] = {}
    for size in sorted(args.sizes):
        for variant in args.variants:
            pixels = args.batch_size * size * size
            estimate = seconds_per_pixel.get(variant, 0.0) * pixels
            if estimate > args.max_seconds:
                row: dict[str, Any] = {
                    "variant": variant,
                    "size": size,
                    "skipped": f"estimated {estimate:.0f} s per call from the smaller size",
                }
            else:
                row = measure(g, variant, size, args)
                seconds_per_pixel[variant] = row["median_seconds"] / pixels
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"machine": machine_info(args.device), "note": args.note, "results": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
