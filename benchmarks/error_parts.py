"""Split a recipes-benchmark run's paired error into colour and structure (issue 13).

Usage::

    python benchmarks/error_parts.py --candidate C --seed S [--run-threads T] [--size 64] \
        [--split validation]

Scores the saved X->Y generator of the latest recorded run of ``C`` with seed ``S`` (of its runs
with ``T`` threads, if given; saved with ``recipes.py run ... --save``) on the paired validation
or test scenes and prints one JSON object: the paired ``l1`` (as
:func:`~unpaired_i2i.evaluate_paired` computes it), its ``colour`` part (per scene, the mean
over channels of ``|mean(out_c) - mean(target_c)|``: how far the translation's overall colour is
from the real winter's) and its ``structure`` part (per scene, the L1 of the two images with
each channel's mean removed: where snow lies, which edges and textures are kept), each averaged
over the scenes, and the three worst scenes' L1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unpaired_i2i._modules import eval_mode

__all__ = ["error_parts"]


@torch.no_grad()
def error_parts(
    generator: nn.Module, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, Any]:
    """Paired L1 of ``generator`` on ``pairs`` and its colour and structure parts.

    Args:
        generator: Maps a ``(1, C, H, W)`` image in ``[-1, 1]`` to one of the same shape.
        pairs: ``(input, target)`` images, each ``(C, H, W)`` in ``[-1, 1]``.

    Returns:
        ``{"l1", "colour", "structure", "worst", "n"}``: the means over the pairs of the L1,
        of ``mean_c |mean(out_c) - mean(target_c)|`` and of the L1 with each image's channel
        means removed; the three largest per-pair L1s (ascending) and the number of pairs.

    Raises:
        ValueError: ``pairs`` is empty, or an output's shape is not its target's.
    """
    l1: list[float] = []
    colour = structure = 0.0
    # every submodule gets its own mode back, also when a pair is refused
    with eval_mode(generator):
        for x, y in pairs:
            out = generator(x[None])[0]
            if out.shape != y.shape:
                raise ValueError(
                    f"error_parts: expected an output of the target's shape {tuple(y.shape)}, "
                    f"got {tuple(out.shape)}"
                )
            mean_out, mean_y = out.mean((1, 2), keepdim=True), y.mean((1, 2), keepdim=True)
            l1.append((out - y).abs().mean().item())
            colour += (mean_out - mean_y).abs().mean().item()
            structure += ((out - mean_out) - (y - mean_y)).abs().mean().item()
    if not l1:
        raise ValueError("error_parts: expected at least one (input, target) pair, got none")
    n = len(l1)
    return {
        "l1": sum(l1) / n,
        "colour": colour / n,
        "structure": structure / n,
        "worst": sorted(l1)[-3:],
        "n": n,
    }


def main(argv: list[str] | None = None) -> None:
    from recipes import DEFAULT_OUT, _load_generator, _season_data, _setting

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidate", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=6)
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for scoring")
    parser.add_argument(
        "--run-threads", type=int, default=None,
        help="score the run trained with this many threads (default: the latest run)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    _, val, test = _season_data(out / "data", args.size)
    setting = _setting(args.size, args.n_blocks, None)
    generator = _load_generator(out, args.candidate, args.seed, setting, threads=args.run_threads)
    data = val if args.split == "validation" else test
    parts = error_parts(generator, (data[i] for i in range(len(data))))
    print(json.dumps({"candidate": args.candidate, "seed": args.seed, **parts}))


if __name__ == "__main__":
    main()
