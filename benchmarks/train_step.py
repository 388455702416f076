"""Time one CycleGAN training step on your device; writes JSON next to this script.

Usage (on a GPU machine)::

    python benchmarks/train_step.py --variants eager-fp32 bf16 bf16+channels_last

This is ``unpaired-i2i bench`` with the reference's full-size defaults (256x256, 9 blocks,
20 timed steps after 5 warm-up steps, eager fp32 vs bf16, JSON in ``benchmarks/results/``);
any of its options given here override them. Every variant runs in the same process, in
alternation with the others, and is reported as a ratio against the plain eager float32 loop
(``plain-eager-fp32``). ``benchmarks/gpu.sh`` runs the whole GPU table.
"""

from __future__ import annotations

import sys
from pathlib import Path

from unpaired_i2i.cli import main

DEFAULTS = [
    "--size", "256", "--n-blocks", "9", "--steps", "20", "--warmup", "5",
    "--variants", "eager-fp32", "bf16",
    "--json", str(Path(__file__).with_name("results") / "train_step.json"),
]  # fmt: skip

if __name__ == "__main__":
    raise SystemExit(main(["bench", *DEFAULTS, *sys.argv[1:]]))
