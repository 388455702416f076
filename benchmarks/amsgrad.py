"""Adam with AMSGrad's running maximum of the second moment (Reddi et al. 2018).

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

Adam divides each step by the root of an average of recent squared gradients; when the
gradients shrink after a stretch of large ones, that average falls and the steps grow, which
Reddi et al. show can keep Adam from converging. AMSGrad divides by the largest such average
seen so far instead, so a parameter's step never grows because its gradients got smaller.
Both optimisers of the trainer (generators and discriminators) switch it on before the first
step (torch's ``Adam(amsgrad=True)``; the flag and the running maximum are in the optimisers'
state dicts, so a checkpoint resumes exactly). It draws no random numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from unpaired_i2i import CycleTrainer

__all__ = ["AMSGradTrainer", "use_amsgrad"]


def use_amsgrad(optimizer: torch.optim.Optimizer) -> None:
    """Switch an Adam optimiser that has not stepped yet to AMSGrad (in place)."""
    if not isinstance(optimizer, torch.optim.Adam):
        raise TypeError(f"use_amsgrad: expected a torch.optim.Adam; got {type(optimizer).__name__}")
    if optimizer.state:
        raise RuntimeError("use_amsgrad: expected an optimiser that has not stepped yet")
    for group in optimizer.param_groups:
        group["amsgrad"] = True


class AMSGradTrainer(CycleTrainer):
    """:class:`CycleTrainer` whose two Adam optimisers use AMSGrad (``amsgrad=True``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_amsgrad(self.optimizer_g)
        use_amsgrad(self.optimizer_d)
