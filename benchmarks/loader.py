"""Images per second of the training DataLoader alone (decode + reference preprocessing).

Usage::

    python benchmarks/loader.py                       # 1024x768 JPEGs, 256 crops, workers 0 1 2
    python benchmarks/loader.py --workers 0 4 8 --preprocess crop --json loader.json

Writes ``--images`` random-content 1024x768 JPEGs (quality 90, what a camera or phone export
looks like to the decoder) per domain into a temporary folder, builds the training
:class:`~unpaired_i2i.UnpairedImageDataset` (reference preprocessing: resize to 286, random 256
crop, flip) and times full passes of a ``DataLoader(batch_size=1, shuffle=True)`` for each
worker count: one untimed warm-up pass (worker start-up, page cache), then ``--repeats`` timed
passes; the median and the spread are reported. Each item is an ``(x, y)`` pair, i.e. two
decoded images: the figures count images, not pairs. No model runs: compare the result with
the steps per second of training (``unpaired-i2i bench``; each step consumes one pair per
image of the batch) to see whether the loader keeps up. Other processes on the machine
compete for the same cores, so run it on a quiet machine.

With ``num_workers=0`` the main process also converts and normalises the crops with torch's
intra-op threads (workers use one thread each); on a busy machine those threads wait for each
other, and ``--torch-threads 1`` shows the cost of the work itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader

from unpaired_i2i import PREPROCESS_MODES, UnpairedImageDataset
from unpaired_i2i.bench import machine_info


def write_jpegs(folder: Path, count: int, width: int, height: int, seed: int) -> None:
    """``count`` JPEGs of smooth random content (flat images would decode unrealistically fast)."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        coarse = torch.randint(0, 256, (3, height // 16, width // 16), generator=g)
        noise = torch.randint(-12, 13, (3, height, width), generator=g)
        up = torch.nn.functional.interpolate(
            coarse[None].float(), size=(height, width), mode="bilinear", align_corners=False
        )[0]
        pixels = (up + noise).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(folder / f"{i:04d}.jpg", quality=90)


def time_loader(
    dataset: UnpairedImageDataset, workers: int, repeats: int, seed: int
) -> dict[str, Any]:
    loader = DataLoader(
        dataset,
        batch_size=1,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
    )
    images_per_pass = 2 * len(dataset)
    for _ in loader:  # warm-up: worker start-up, page cache
        pass
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in loader:
            pass
        rates.append(images_per_pass / (time.perf_counter() - t0))
    return {
        "num_workers": workers,
        "images_per_s_median": statistics.median(rates),
        "images_per_s_min": min(rates),
        "images_per_s_max": max(rates),
        "pairs_per_s_median": statistics.median(rates) / 2,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--images", type=int, default=64, help="JPEGs per domain")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--load-size", type=int, default=None, help="default: 286 for 256")
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="resize_and_crop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--torch-threads", type=int, help="torch intra-op threads of the main process"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_jpegs(root / "A", args.images, args.width, args.height, seed=0)
        write_jpegs(root / "B", args.images, args.width, args.height, seed=1)
        made = time.perf_counter() - t0
        dataset = UnpairedImageDataset(
            root / "A",
            root / "B",
            size=args.crop_size,
            load_size=args.load_size,
            preprocess=args.preprocess,
        )
        print(
            f"{2 * args.images} JPEGs of {args.width}x{args.height} written in {made:.1f} s; "
            f"{dataset!r}"
        )
        results = []
        for workers in args.workers:
            result = time_loader(dataset, workers, args.repeats, seed=workers)
            results.append(result)
            print(
                f"num_workers={workers}: {result['images_per_s_median']:.0f} images/s "
                f"(min {result['images_per_s_min']:.0f}, max {result['images_per_s_max']:.0f}; "
                f"{result['pairs_per_s_median']:.0f} training pairs/s)"
            )
    report = {
        "benchmark": "loader",
        "image_size": [args.width, args.height],
        "crop_size": args.crop_size,
        "load_size": dataset.load_size,
        "preprocess": args.preprocess,
        "images_per_domain": args.images,
        "results": results,
        "machine": machine_info(torch.device("cpu")),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
