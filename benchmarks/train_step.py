"""Time one CycleGAN training step on your device; writes JSON next to this script.

Usage (on a GPU machine)::

    python benchmarks/train_step.py --size 256 --n-blocks 9 --batch-size 1 \
        --variants eager-fp32 bf16 bf16+channels_last

Every variant runs in the same process and is reported as a ratio against the plain eager
float32 step. The same harness backs ``unpaired-i2i bench``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unpaired_i2i.bench import BENCH_VARIANTS, format_result, run_benchmarks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="cyclegan")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--n-blocks", type=int, default=9)
    parser.add_argument("--base-channels", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--variants", nargs="+", default=["eager-fp32", "bf16"], choices=sorted(BENCH_VARIANTS)
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).with_name("results") / "train_step.json")
    )
    args = parser.parse_args()
    results = run_benchmarks(
        [BENCH_VARIANTS[v] for v in args.variants],
        output=args.out,
        preset=args.preset,
        size=args.size,
        batch_size=args.batch_size,
        n_blocks=args.n_blocks,
        base_channels=args.base_channels,
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
    )
    for result in results:
        print(format_result(result))
    print(json.dumps(results[0]["machine"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
