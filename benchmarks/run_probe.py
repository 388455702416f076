"""Read a recipes-benchmark run's checkpoint: is the GAN training, or stuck? (issue 13)

Usage::

    # the checkpoint recipes.py run --checkpoint-every keeps (a copy of it, while it trains)
    python benchmarks/run_probe.py --candidate C --seed S --size 128 CHECKPOINT.pt

Prints one JSON object for the trained (not averaged) networks of the checkpoint:

* ``d_y_real`` / ``d_y_fake`` (and ``d_x_...``): each discriminator's mean output on 16
  training images of its season and on the generator's translations of 16 of the other
  (least-squares targets: 1 real, 0 fake), with ``d_y_loss`` / ``d_x_loss`` (the
  discriminator's loss, ``0.5 * (mean (D(real) - 1)^2 + mean D(fake)^2)``) and ``g_xy_adv`` /
  ``g_yx_adv`` (the generator's, ``mean (D(fake) - 1)^2``);
* ``cycle_x`` / ``cycle_y``: the cycle L1 of the same images;
* ``change_xy`` / ``change_yx``: each generator's mean absolute change to its input;
* ``test_l1_xy``: paired L1 of the trained X->Y generator on 8 test scenes, and the same for
  :meth:`~unpaired_i2i.CycleTrainer.inference_generator` (``test_l1_xy_inference``);
* for a ``local_affine`` generator, the mean absolute ``r``, ``M`` and ``M x`` of the X->Y
  generator on those scenes (``r_abs``, ``m_abs``, ``mx_abs``; the matrix's input is the
  detail ``x - mean_k(x)`` for a generator with ``local_affine_detail=k``).

``--grid PNG`` also saves the 8 test scenes: summer | trained | inference | real winter rows.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from recipe_candidates import candidates, trainer_class
from recipes import DEFAULT_OUT, _season_data

__all__ = ["probe"]


def _lsgan(d: Any, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    dr, df = d(real), d(fake)
    return {
        "real": float(dr.mean()),
        "fake": float(df.mean()),
        "loss": float(0.5 * ((dr - 1).square().mean() + df.square().mean())),
        "adv": float((df - 1).square().mean()),
    }


def probe(
    trainer: Any, train: Any, test: Any, *, n_train: int = 16, n_test: int = 8
) -> tuple[dict[str, float], torch.Tensor]:
    """The figures above for a trainer with its checkpoint loaded, and the grid's images.

    Args:
        trainer: A :class:`~unpaired_i2i.CycleTrainer` (its model and callbacks loaded).
        train: Unpaired training set of ``(x, y)`` pairs, tensors ``(3, H, W)`` in ``[-1, 1]``.
        test: Paired test set of ``(x, y)`` pairs, the same shapes.
        n_train: Training images per season to score the discriminators and cycles on.
        n_test: Test scenes.

    Returns:
        The figures, and the grid ``(4 * n_test, 3, H, W)`` in ``[-1, 1]``.
    """
    m = trainer.model
    xs = torch.stack([train[i][0] for i in range(n_train)])
    ys = torch.stack([train[i][1] for i in range(n_train)])
    tx = torch.stack([test[i][0] for i in range(n_test)])
    ty = torch.stack([test[i][1] for i in range(n_test)])
    out: dict[str, float] = {}
    with torch.no_grad():
        fy, fx = m.g_xy(xs), m.g_yx(ys)
        for name, d, real, fake in (("y", m.d_y, ys, fy), ("x", m.d_x, xs, fx)):
            scores = _lsgan(d, real, fake)
            out |= {f"d_{name}_{k}": v for k, v in scores.items() if k != "adv"}
            out["g_xy_adv" if name == "y" else "g_yx_adv"] = scores["adv"]
        out["cycle_x"] = float((m.g_yx(fy) - xs).abs().mean())
        out["cycle_y"] = float((m.g_xy(fx) - ys).abs().mean())
        out["change_xy"] = float((fy - xs).abs().mean())
        out["change_yx"] = float((fx - ys).abs().mean())
        g = m.g_xy
        trained = g(tx)
        inference = trainer.inference_generator("xy")(tx)
        out["test_l1_xy"] = float((trained - ty).abs().mean())
        out["test_l1_xy_inference"] = float((inference - ty).abs().mean())
        if getattr(g, "local_affine", False):
            h = g.head(g.decoder(g.blocks(g.encoder(g.stem(tx)))))
            r, matrix, seen = g._split_matrix(h, tx)  # as its forward splits them
            out["r_abs"] = float(r.abs().mean())
            out["m_abs"] = float(matrix.abs().mean())
            out["mx_abs"] = float((matrix * seen.unsqueeze(1)).sum(2).abs().mean())
    return out, torch.cat([tx, trained, inference, ty])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--candidate", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=6)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="recipes.py's folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, _, test = _season_data(args.out / "data", args.size)
    spec = candidates()[args.candidate](args.seed, {"n_blocks": args.n_blocks})
    trainer = trainer_class(args.candidate)(
        spec.model, spec.config, callbacks=list(spec.callbacks), device="cpu"
    )
    with warnings.catch_warnings():
        # the run's own callbacks (clock, shadows, checkpointing) are not rebuilt here
        warnings.filterwarnings("ignore", message=".*callback states no callback claims.*")
        trainer.load_checkpoint(args.checkpoint)
    figures, grid = probe(trainer, train, test)
    print(json.dumps({"step": trainer.state.step, **{k: round(v, 4) for k, v in figures.items()}}))
    if args.grid is not None:
        from torchvision.utils import save_image

        save_image(grid * 0.5 + 0.5, args.grid, nrow=len(grid) // 4)


if __name__ == "__main__":
    main()
