"""A saved generator scored alone and as a mirror self-ensemble, on the recipes' scenes.

The self-ensemble of Timofte et al. 2016 and EDSR (Lim et al. 2017), with the mirror alone:
``0.5 * (G(x) + flip(G(flip(x))))``, ``flip`` the horizontal mirror. It needs no training, and
costs two generator calls per image. The runs train with random mirrors of their images, so
both halves are translations the generator was taught; where they differ, the average keeps
what they share. Scores the X->Y weights ``recipes.py run --save`` kept for the latest recorded
run of each seed (the run's own generator: its EMA average when it has one) on the validation
and test scenes, and prints, per seed and split, paired L1 and SSIM alone and as the ensemble::

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
from torch import nn

__all__ = ["FlipEnsemble"]


class FlipEnsemble(nn.Module):
    """``0.5 * (generator(x) + generator(x.flip(-1)).flip(-1))``: ``(N, C, H, W)`` in ``[-1, 1]``
    in, the generator's output shape out (in ``[-1, 1]`` when the generator's is)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"FlipEnsemble: expected an (N, C, H, W) batch; got {tuple(x.shape)}")
        mirrored: torch.Tensor = self.generator(x.flip(-1)).flip(-1)
        out: torch.Tensor = 0.5 * (self.generator(x) + mirrored)
        return out


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
            both = evaluate_paired(FlipEnsemble(generator), data)
            print(
                f"| {seed} | {split} | {alone['l1']:.4f} | {both['l1']:.4f} | "
                f"{both['l1'] - alone['l1']:+.4f} ({both['l1'] / alone['l1'] - 1:+.2%}) | "
                f"{alone['ssim']:.3f} | {both['ssim']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
