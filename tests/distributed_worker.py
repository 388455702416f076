"""One rank of a tiny multi-process run, launched by ``tests/test_distributed.py`` via torchrun.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/distributed_worker.py \
        OUT --steps 8 [--save-at 4] [--resume CKPT] [--nan-on-rank 1] [--r1-gamma G]
        [--relativistic] [--compile-backend aot_eager]

Each rank writes ``OUT/rank{r}.pt`` (its final weights and a few facts) for the test to compare;
the callbacks write under ``OUT/rank{r}/`` so that the test can see which ranks wrote files.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from unpaired_i2i import EMA, Callback, CycleGAN, CycleTrainer, MetricsLogger, ModelCheckpoint
from unpaired_i2i import TrainConfig as Config

SIZE = 8


class FlippedPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Eight fixed pairs, each flipped at random from torch's global RNG (seeded seed + rank)."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(11)
        self.x = torch.rand(8, 3, SIZE, SIZE, generator=g) * 2 - 1
        self.y = torch.rand(8, 3, SIZE, SIZE, generator=g) * 2 - 1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.x[i], self.y[i]
        if float(torch.rand(())) < 0.5:
            x = x.flip(-1)
        return x, y


class NaNOnRank(Callback):
    """Poison one weight of ``g_xy`` on one rank after a given step."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_step_end(self, trainer: Any, batch: Any, losses: Any) -> None:
        if trainer.global_rank == self.rank and trainer.state.step == self.step:
            with torch.no_grad():
                next(trainer.model.g_xy.parameters()).fill_(float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--save-at", type=int, default=0)
    parser.add_argument("--resume", type=Path)
    parser.add_argument("--nan-on-rank", type=int)
    parser.add_argument("--r1-gamma", type=float, default=0.0)
    parser.add_argument("--relativistic", action="store_true")
    parser.add_argument("--compile-backend", help="compile the networks with this backend")
    args = parser.parse_args()

    # Each rank initialises differently on purpose: DDP must broadcast rank 0's weights.
    rank = int(os.environ["RANK"])
    torch.manual_seed(100 + rank)
    model = CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        discriminator_overrides={"base_channels": 4, "n_layers": 1},
    )
    config = Config(
        epochs=2,
        decay_epochs=2,
        pool_size=3,
        log_every=2,
        lr=1e-3,
        seed=3,
        r1_gamma=args.r1_gamma,
        relativistic=args.relativistic,
        compile=args.compile_backend is not None,
        compile_backend=args.compile_backend or "inductor",
    )
    own = args.out / f"rank{rank}"
    callbacks: list[Callback] = [
        ModelCheckpoint(own / "checkpoints", every_n_steps=args.save_at or 2),
        MetricsLogger(own / "metrics.csv"),
        EMA(0.9),
    ]
    if args.nan_on_rank is not None:
        callbacks.append(NaNOnRank(args.nan_on_rank, step=3))
    trainer = CycleTrainer(model, config, callbacks=callbacks, device="cpu")
    if args.resume is not None:
        trainer.load_checkpoint(args.resume)
    loader = DataLoader(FlippedPairs(), batch_size=2, shuffle=True)
    trainer.fit(loader, max_steps=args.steps)
    torch.save(
        {
            "weights": {k: v.clone() for k, v in trainer.model.state_dict().items()},
            "ema_g_xy": {k: v.clone() for k, v in callbacks[2].generator_xy.state_dict().items()},  # type: ignore[attr-defined]
            "world_size": trainer.world_size,
            "is_global_zero": trainer.is_global_zero,
            "step": trainer.state.step,
            "last_losses": dict(trainer.state.last_losses),
            "batches_per_epoch": len(trainer._data),  # type: ignore[arg-type]
        },
        args.out / f"rank{rank}.pt",
    )


if __name__ == "__main__":
    main()
