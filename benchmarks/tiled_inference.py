"""Tiled translation against whole-image translation: accuracy, peak memory, time; JSON out.

Usage::

    python benchmarks/tiled_inference.py                      # the full set, on the CPU
    python benchmarks/tiled_inference.py --device cuda        # CUDA max allocated as well
    python benchmarks/tiled_inference.py --no-accuracy --memory 1024:whole 1024:exact

The generator is the 9-block ``cyclegan`` layout (11.4 M parameters) with its random initial
weights (seed 0); the input is a built-in landscape (:func:`unpaired_i2i.draw_scene`) drawn at
each size.

* **Accuracy** (in this process): at 512x512 with tiles of 128, the relative mean difference
  ``mean |tiled - whole| / mean |whole - mean(whole)|`` of each way of getting the
  normalisation statistics: per-tile statistics (what naive tiling does), ``thumbnail`` and
  ``exact`` at several overlaps. Goal: <= 0.02 for ``exact``.
* **Memory and time** (one fresh subprocess per configuration, so that peaks do not mix; the
  scene is drawn by this process and read from a PNG): peak resident memory of the process
  (``VmHWM``, else ``ru_maxrss``), the same just before the translation (imports, weights, the
  input: about 0.7 GB of it is ``import torch``), their difference (the translation's working
  memory), CUDA max allocated on a GPU, and seconds per megapixel.
  Configurations are ``SIZE:MODE`` with ``MODE`` one of ``whole``, ``exact`` or ``thumbnail``
  (tiles of ``--tile`` with ``--overlap``). Goal: ``exact`` at 1024 with tiles of 256 at most
  half the peak of ``whole``. ``thumbnail`` has the same working set as ``exact`` (the same
  tiles in the final pass; its extra run is one tile's size) at a fraction of the time, which
  is how the default set reports 4096x4096 on a CPU.

Timings on a shared machine vary; peak memory does not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import v2

from unpaired_i2i import ResnetGenerator, draw_scene, translate, translate_tiled
from unpaired_i2i.bench import machine_info
from unpaired_i2i.tiling import plan_tiling

DEFAULT_MEMORY = [
    "1024:whole", "1024:exact", "1024:thumbnail",
    "2048:whole", "2048:thumbnail",
    "4096:thumbnail",
]  # fmt: skip
RESULTS = Path(__file__).with_name("results") / "tiled_inference.json"


def generator(device: str) -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator.from_preset("cyclegan").to(device).eval()


def scene(size: int, seed: int = 3) -> torch.Tensor:
    """A ``(1, 3, size, size)`` landscape in ``[-1, 1]``."""
    return as_batch(draw_scene(seed, "summer", size=size))


def as_batch(image: Image.Image) -> torch.Tensor:
    unit = v2.functional.to_dtype(v2.functional.to_image(image), torch.float32, scale=True)
    batch: torch.Tensor = (unit.as_subclass(torch.Tensor) * 2 - 1).unsqueeze(0)
    return batch


def max_rss_mib() -> float:
    """Peak resident memory of this process's address space, in MiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: unlike ``ru_maxrss``, which Linux
    carries over from the parent process through fork and exec, it starts afresh with the
    program.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def relative_difference(tiled: torch.Tensor, whole: torch.Tensor) -> float:
    return float((tiled - whole).abs().mean() / (whole - whole.mean()).abs().mean())


def per_tile(g: torch.nn.Module, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """Naive tiling: each tile with its halo normalised by its own statistics."""
    out = torch.empty_like(x)
    size = x.shape[-1]
    with torch.inference_mode():
        for top in range(0, size, tile):
            for left in range(0, size, tile):
                t0, l0 = max(0, top - overlap), max(0, left - overlap)
                t1, l1 = min(size, top + tile + overlap), min(size, left + tile + overlap)
                y = g(x[..., t0:t1, l0:l1])
                out[..., top : top + tile, left : left + tile] = y[
                    ..., top - t0 : top - t0 + tile, left - l0 : left - l0 + tile
                ]
    return out


def accuracy(args: argparse.Namespace) -> dict[str, Any]:
    g = generator(args.device)
    size, tile = args.accuracy_size, args.accuracy_tile
    rows: list[dict[str, Any]] = []
    for name, x in (("scene", scene(size)), ("noise", None)):
        if x is None:
            x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        started = time.perf_counter()
        whole = translate(g, x)
        whole_s = time.perf_counter() - started
        cases: list[tuple[Any, int]] = [("exact", 32)]
        if name == "scene":
            cases = [("per-tile", 32), ("thumbnail", 32)] + [("exact", o) for o in args.overlaps]
        for stats, overlap in cases:
            started = time.perf_counter()
            if stats == "per-tile":
                tiled, passes = per_tile(g, x, tile, overlap), 1
            else:
                tiled = translate_tiled(g, x, tile=tile, overlap=overlap, stats=stats)
                plan = plan_tiling(g, (size, size), tile=tile, overlap=overlap, stats=stats)
                passes = plan.passes
            seconds = time.perf_counter() - started
            row = {
                "input": name,
                "stats": stats,
                "overlap": overlap,
                "relative_mean_difference": round(relative_difference(tiled, whole), 5),
                "max_abs_difference": round(float((tiled - whole).abs().max()), 5),
                "passes": passes,
                "seconds": round(seconds, 2),
                "time_vs_whole": round(seconds / whole_s, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return {"size": size, "tile": tile, "results": rows}


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """One configuration in this (fresh) process: peak memory and time of one translation."""
    device = torch.device(config["device"])
    g = generator(config["device"])
    # Drawn by the parent: drawing a large scene would raise this process's peak before the run.
    with Image.open(config["image"]) as image:
        x = as_batch(image)  # on the CPU: whole runs move it to the device, tiled runs tiles
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    before = max_rss_mib()
    cuda_before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    started = time.perf_counter()
    if config["mode"] == "whole":
        y = translate(g, x)
    else:
        y = translate(
            g, x, tile=config["tile"], overlap=config["overlap"], tile_stats=config["mode"]
        )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    assert y.shape == x.shape
    megapixels = config["size"] ** 2 / 1e6
    result = {
        **config,
        "torch_threads": torch.get_num_threads(),
        "max_rss_mib": round(max_rss_mib(), 1),
        "rss_before_mib": round(before, 1),
        "working_mib": round(max_rss_mib() - before, 1),
        "seconds": round(seconds, 2),
        "seconds_per_megapixel": round(seconds / megapixels, 2),
    }
    if config["mode"] != "whole":
        plan = plan_tiling(
            g, (config["size"],) * 2, tile=config["tile"], overlap=config["overlap"],
            stats=config["mode"],
        )  # fmt: skip
        result["plan"] = plan.describe()
    if device.type == "cuda":
        result["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        result["cuda_allocated_before_mib"] = round(cuda_before / 2**20, 1)
    return result


def memory(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for spec in args.memory:
            size_text, _, mode = spec.partition(":")
            size = int(size_text)
            image = Path(folder) / f"scene-{size}.png"
            if not image.exists():
                draw_scene(3, "summer", size=size).save(image)
            config = {
                "size": size,
                "mode": mode,
                "tile": args.tile,
                "overlap": args.overlap,
                "device": args.device,
                "image": str(image),
            }
            done = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(config)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                row = {**config, "error": done.stderr.strip().splitlines()[-1:]}
            else:
                row = json.loads(done.stdout.strip().splitlines()[-1])
            row.pop("image", None)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Tiled peak / whole peak and time per megapixel, per size."""
    by = {(r["size"], r["mode"]): r for r in rows if "error" not in r}
    out: dict[str, Any] = {}
    for size in sorted({r["size"] for r in rows}):
        whole = by.get((size, "whole"))
        for mode in ("exact", "thumbnail"):
            tiled = by.get((size, mode))
            if whole and tiled:
                out[f"{size}:{mode}"] = {
                    "peak_rss_ratio": round(tiled["max_rss_mib"] / whole["max_rss_mib"], 3),
                    "working_memory_ratio": round(tiled["working_mib"] / whole["working_mib"], 3),
                    "time_ratio": round(tiled["seconds"] / whole["seconds"], 2),
                    **(
                        {
                            "cuda_peak_ratio": round(
                                tiled["cuda_max_allocated_mib"] / whole["cuda_max_allocated_mib"],
                                3,
                            )
                        }
                        if "cuda_max_allocated_mib" in whole
                        else {}
                    ),
                }
    exact = [r["seconds_per_megapixel"] for r in rows if r.get("mode") == "exact"]
    if exact:
        out["exact_seconds_per_megapixel_median"] = statistics.median(exact)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tile", type=int, default=256, help="tile of the memory runs")
    parser.add_argument("--overlap", type=int, default=32, help="overlap of the memory runs")
    parser.add_argument("--accuracy-size", type=int, default=512)
    parser.add_argument("--accuracy-tile", type=int, default=128)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--memory", nargs="*", default=DEFAULT_MEMORY, metavar="SIZE:MODE")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    report: dict[str, Any] = {
        "machine": machine_info(args.device),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "note": args.note,
        "generator": "ResnetGenerator.from_preset('cyclegan'), 9 blocks, random init (seed 0)",
    }
    if not args.no_accuracy:
        report["accuracy"] = accuracy(args)
    rows = memory(args)
    report["memory"] = {"tile": args.tile, "overlap": args.overlap, "runs": rows}
    report["summary"] = summary(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
