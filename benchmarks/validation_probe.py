"""Score the trained X->Y generator on paired scenes every few steps of a run (issue 13).

A diagnostic for the recipes benchmark (``recipes.py run --probe-every N``): where a run ends
far off, the trajectory says whether it never left the input or blew up on the way. The probe
scores the *trained* generator (not an average), in eval mode and without gradients, and puts
its mode back; it draws no random numbers, so the run's trajectory is the one it has without
the probe (a test checks this weight for weight).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from unpaired_i2i import Callback, CycleTrainer, evaluate_paired

__all__ = ["ValidationProbe"]


class ValidationProbe(Callback):
    """Every ``every`` steps, the paired L1 of ``trainer.model.g_xy`` on ``data``.

    Each score is printed as a JSON line ``{"step": s, "validation_l1": l1}`` and kept in
    :attr:`history` as ``(step, l1)``.

    Args:
        data: ``(input, target)`` pairs (a paired dataset), as :func:`evaluate_paired` reads.
        every: Steps between scores, ``>= 1``.
        echo: Print each score.
    """

    def __init__(self, data: Iterable[Any], *, every: int, echo: bool = True) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"ValidationProbe every: expected an int >= 1, got {every!r}")
        self.data = data
        self.every = every
        self.echo = echo
        self.history: list[tuple[int, float]] = []

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Score the trained generator when the step count is a multiple of ``every``."""
        step = trainer.state.step
        if step % self.every:
            return
        l1 = evaluate_paired(trainer.model.g_xy, self.data)["l1"]
        self.history.append((step, l1))
        if self.echo:
            print(json.dumps({"step": step, "validation_l1": round(l1, 4)}), flush=True)
