"""A linear learning-rate warm-up over the first steps (Goyal et al. 2017) for both optimisers.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Adam's first steps divide each gradient by an estimate of its size made from one or a few
gradients, so every weight moves by about a full learning rate at once, in a direction drawn
from very few samples; a warm-up scales the rates up linearly from ``1 / steps`` of their value
at the first step to all of it after ``steps`` steps, while the second-moment estimates settle
(the motivation of RAdam, Liu et al. 2020). :class:`LinearWarmup` sets both optimisers' rates
before each step to the trainer's schedule (``LambdaLR``, the reference's linear decay)
times the warm-up factor, so after the warm-up the schedule is the reference's untouched. It
keeps no state (the factor follows from the step count) and draws no random numbers.
"""

from __future__ import annotations

from typing import Any

from unpaired_i2i import Callback, CycleTrainer

__all__ = ["LinearWarmup"]


class LinearWarmup(Callback):
    """Scale both optimisers' learning rates by ``min(1, (step + 1) / steps)`` before each step.

    Args:
        steps: Length of the warm-up in training steps, ``>= 1``.
    """

    def __init__(self, steps: int = 100) -> None:
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"LinearWarmup steps: expected an int >= 1, got {steps!r}")
        self.steps = steps

    def factor(self, step: int) -> float:
        """The warm-up factor at the 0-based training step ``step``."""
        return min(1.0, (step + 1) / self.steps)

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Set each group's rate to the schedule's rate times the warm-up factor."""
        factor = self.factor(trainer.state.step)
        for scheduler in (trainer.scheduler_g, trainer.scheduler_d):
            rates = scheduler.get_last_lr()
            for group, rate in zip(scheduler.optimizer.param_groups, rates, strict=True):
                group["lr"] = rate * factor
