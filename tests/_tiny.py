"""Shared test helpers: the tiny CycleGAN, random batches and a simulated crash.

Imported as ``_tiny`` (``tests`` is on pytest's ``pythonpath``). The tests that train compare
runs with each other, so what matters is that a helper called with the same arguments returns
the same model and batches every time.
"""

from __future__ import annotations

from typing import Any

import torch

from unpaired_i2i import Callback, CycleGAN, CycleTrainer


def tiny_model(seed: int = 0, *, dropout: float = 0.0, **overrides: Any) -> CycleGAN:
    """The ``cyclegan`` preset 4 channels wide with one residual block and a 1-layer
    discriminator, initialised after ``torch.manual_seed(seed)``.

    ``dropout > 0`` makes the generators draw from torch's global RNG, which the exact-resume
    tests need to exercise; ``overrides`` go to :meth:`CycleGAN.from_preset`.
    """
    if dropout:
        overrides["dropout"] = dropout
    torch.manual_seed(seed)
    return CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        discriminator_overrides={"base_channels": 4, "n_layers": 1},
        **overrides,
    )


def random_batches(
    n: int, *, size: int, batch_size: int = 2, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` pairs of ``(batch_size, 3, size, size)`` batches, uniform in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1,
            torch.rand(batch_size, 3, size, size, generator=g) * 2 - 1,
        )
        for _ in range(n)
    ]


class Crash(Callback):
    """Kill the run during step ``at_step + 1`` (after step ``at_step``'s checkpoints)."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        if trainer.state.step == self.at_step:
            raise RuntimeError("simulated crash")
