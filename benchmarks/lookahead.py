"""Lookahead-minmax (Chavdarova et al. 2021) for the four networks, as a trainer callback.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Lookahead (Zhang et al. 2019) keeps a second, "slow" copy of the weights. The optimisers take
their ``k`` ordinary ("fast") steps; then the slow weights move a fraction ``alpha`` of the way
to the fast ones, and the fast weights are set to them. In the minimax form both players, the
generators and the discriminators, are synchronised together, which damps the rotation of
simultaneous gradient play (the paper's defaults: ``k = 5``, ``alpha = 0.5``). The optimisers'
own states (Adam's moments) are kept as they are. Parameters only: the networks have no
buffers that training changes (instance norm without running statistics, discriminators
without normalisation in the improved recipe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from unpaired_i2i import Callback, CycleTrainer

__all__ = ["Lookahead"]


class Lookahead(Callback):
    """Every ``k`` steps: ``slow += alpha * (fast - slow)``, then ``fast = slow``, all networks.

    Args:
        k: Fast steps between synchronisations, ``>= 1``.
        alpha: Step of the slow weights towards the fast ones, in ``(0, 1]``.
    """

    def __init__(self, *, k: int = 5, alpha: float = 0.5) -> None:
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"Lookahead k: expected an int >= 1, got {k!r}")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"Lookahead alpha: expected a float in (0, 1], got {alpha!r}")
        self.k = k
        self.alpha = float(alpha)
        self._slow: list[torch.Tensor] | None = None
        self._pending: list[torch.Tensor] | None = None

    @staticmethod
    def _fast(trainer: CycleTrainer) -> list[torch.Tensor]:
        model = trainer.model
        return [p for net in (*model.generators, *model.discriminators) for p in net.parameters()]

    def _build(self, trainer: CycleTrainer) -> None:
        fast = self._fast(trainer)
        if self._pending is not None:
            if len(self._pending) != len(fast):
                raise ValueError(
                    f"Lookahead state: expected {len(fast)} tensors, got {len(self._pending)}"
                )
            self._slow = [s.to(p.device, p.dtype) for s, p in zip(self._pending, fast, strict=True)]
            self._pending = None
        elif self._slow is None:
            self._slow = [p.detach().clone() for p in fast]

    def state_dict(self) -> dict[str, Any]:
        """The slow weights (``None`` before the first step) and the settings."""
        return {"k": self.k, "alpha": self.alpha, "slow": self._slow}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Keep the slow weights until the trainer's networks exist."""
        if state["k"] != self.k or state["alpha"] != self.alpha:
            raise ValueError(
                f"Lookahead state: saved with k={state['k']}, alpha={state['alpha']}, "
                f"loaded into k={self.k}, alpha={self.alpha}"
            )
        slow = state["slow"]
        self._pending = None if slow is None else list(slow)
        self._slow = None

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Take the slow weights from the networks (or from a restored state)."""
        self._build(trainer)

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Mapping[str, Any]) -> None:
        """Apply the restored slow weights."""
        if self._pending is not None:
            self._build(trainer)

    @torch.no_grad()
    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Synchronise every ``k`` steps."""
        if trainer.state.step % self.k != 0:
            return
        self._build(trainer)
        assert self._slow is not None
        fast = self._fast(trainer)
        torch._foreach_lerp_(self._slow, [p.detach() for p in fast], self.alpha)
        for p, s in zip(fast, self._slow, strict=True):
            p.copy_(s)
