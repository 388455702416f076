"""A saved generator scored alone and as a mirror self-ensemble, on the recipes' scenes.

The self-ensemble of Timofte et al. 2016 and EDSR (Lim et al. 2017), with the mirror alone:
``0.5 * (G(x) + flip(G(flip(x))))``, ``flip`` the horizontal mirror. It needs no training, and
costs two generator calls per image. The runs train with random mirrors of their images, so
both halves are translations the generator was taught; where they differ, the average keeps
what they share. Scores the X->Y weights ``recipes.py run --save`` kept for the latest recorded
run of each seed (the run's own generator: its EMA average when it has one) on the validation
and test scenes, and prints, per seed and split, paired L1 and SSIM alone and as the ensemble
(``evaluate_paired(..., self_ensemble=True)``)::

    python benchmarks/recipes.py run --candidate C --seed S --threads 1 --save --no-record
    python benchmarks/flip_ensemble.py --candidate C --seeds 0 1 --threads 1

(``--no-record`` with a seed already recorded: the run reproduces the recorded realisation
when the thread count and CPU kind are the same, and only its weights are kept.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import recipes  # benchmarks/recipes.py, beside this script

    from unpaired_i2i import evaluate_paired

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidate", default="improved")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", default=str(recipes.DEFAULT_OUT))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=6)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    _, val, test = recipes._season_data(out / "data", args.size)
    setting = recipes._setting(args.size, args.n_blocks, args.width)
    print("| seed | split | L1 alone | L1 ensemble | change | SSIM alone | SSIM ensemble |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        generator = recipes._load_generator(out, args.candidate, seed, setting)
        for split, data in (("validation", val), ("test", test)):
            alone = evaluate_paired(generator, data)
            both = evaluate_paired(generator, data, self_ensemble=True)
            print(
                f"| {seed} | {split} | {alone['l1']:.4f} | {both['l1']:.4f} | "
                f"{both['l1'] - alone['l1']:+.4f} ({both['l1'] / alone['l1'] - 1:+.2%}) | "
                f"{alone['ssim']:.3f} | {both['ssim']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
