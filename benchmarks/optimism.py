"""Optimistic Adam (Daskalakis et al. 2018, "Training GANs with Optimism") for the four networks.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Simultaneous gradient play between two players rotates around an equilibrium instead of settling
on it; optimistic mirror descent damps that by extrapolating from the previous step: with
``u_t`` the step the optimiser takes at step ``t`` (here Adam's ``-lr * m_hat / (sqrt(v_hat) +
eps)``), the weights move by ``2 u_t - u_{t-1}`` instead of ``u_t`` (the paper's Optimistic
Adam). Where consecutive steps agree, the move is Adam's own; where they turn, the turn is taken
back in part. Implemented as a callback after each training step: the optimisers step as usual,
from ``w_t`` to ``w_t + u_t``, and :class:`OptimisticStep` then adds ``u_t - u_{t-1}`` (at the
first step nothing: there is no earlier step, so the first move is Adam's own). All four
networks, parameters only (the recipe's networks have no buffers that training changes). It
draws no random numbers; its state (the weights after the previous correction and the previous
step) is in checkpoints, so a killed run resumes exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from unpaired_i2i import Callback, CycleTrainer

__all__ = ["OptimisticStep"]


class OptimisticStep(Callback):
    """After each step: ``w += u_t - u_{t-1}``, where ``u_t`` is the step the optimisers took.

    Put it before an :class:`~unpaired_i2i.EMA` in the callbacks, so the average sees the
    corrected weights.
    """

    def __init__(self) -> None:
        self._last: list[torch.Tensor] | None = None  # weights after the previous correction
        self._step: list[torch.Tensor] | None = None  # u_{t-1} (None before the first step)
        self._pending: tuple[list[torch.Tensor], list[torch.Tensor] | None] | None = None

    @staticmethod
    def _weights(trainer: CycleTrainer) -> list[torch.Tensor]:
        model = trainer.model
        return [p for net in (*model.generators, *model.discriminators) for p in net.parameters()]

    def _build(self, trainer: CycleTrainer) -> None:
        weights = self._weights(trainer)
        if self._pending is not None:
            last, step = self._pending
            if len(last) != len(weights) or (step is not None and len(step) != len(weights)):
                raise ValueError(
                    f"OptimisticStep state: expected {len(weights)} tensors, got {len(last)}"
                )
            self._last = [t.to(p.device, p.dtype) for t, p in zip(last, weights, strict=True)]
            self._step = (
                None
                if step is None
                else [t.to(p.device, p.dtype) for t, p in zip(step, weights, strict=True)]
            )
            self._pending = None
        elif self._last is None:
            self._last = [p.detach().clone() for p in weights]

    def state_dict(self) -> dict[str, Any]:
        """The weights after the last correction and the last step (``None`` before fitting)."""
        return {"last": self._last, "step": self._step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Keep the restored tensors until the trainer's networks exist."""
        last, step = state["last"], state["step"]
        self._pending = None if last is None else (list(last), None if step is None else list(step))
        self._last = self._step = None

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Take the starting weights (or the restored state)."""
        self._build(trainer)

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Mapping[str, Any]) -> None:
        """Apply the restored state."""
        if self._pending is not None:
            self._build(trainer)

    @torch.no_grad()
    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Add ``u_t - u_{t-1}`` to the weights the optimisers left."""
        self._build(trainer)
        assert self._last is not None
        weights = [p.detach() for p in self._weights(trainer)]
        step = torch._foreach_sub(weights, self._last)  # u_t
        if self._step is not None:
            torch._foreach_add_(weights, torch._foreach_sub(step, self._step))
        self._step = list(step)
        self._last = [w.clone() for w in weights]
