"""Gradient-spike clipping by z-score (after ZClip, Kumar et al. 2025) for both optimisers.

A prototype for the recipes benchmark (``benchmarks/recipes.py``): it is screened as a
candidate on top of the improved recipe before any of it goes into the library.

With the reference's ``betas=(0.5, 0.999)``, Adam is exposed to a sudden large gradient: its
first moment follows the gradient within two steps while the second moment moves a thousandth
of the way, so a gradient ``k`` times the usual size moves each weight by about ``0.5 k /
sqrt(1 + 0.001 k^2)`` learning rates instead of about one (4.8 for ``k = 10``). A spike from a
discriminator that has just grown sharp can so throw a generator far in one step. ZClip keeps
an exponential average of each optimiser's gradient norm and of its variance and scales a
gradient whose norm's z-score exceeds a threshold down to ``mean + threshold * std``; the
statistics take the clipped norm, so a spike does not widen what counts as usual. Settings are
ZClip's defaults: smoothing ``alpha = 0.97``, threshold 2.5, the first 25 steps only measured.
One norm per optimiser, over all its parameters (both generators, or both discriminators). It
draws no random numbers; the statistics and the number of clipped steps are in checkpoints
(a :class:`ZClipState` callback holds them), so a run resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from unpaired_i2i import Callback, CycleTrainer

__all__ = ["ZClip", "ZClipState", "ZClipTrainer"]


class ZClip:
    """Running mean and variance of a gradient norm, and the clipping they imply.

    Args:
        alpha: Weight of the past in the exponential averages, in ``(0, 1)``.
        threshold: The z-score above which a norm is clipped, ``> 0``.
        warmup: Steps measured (their mean and variance start the averages) before clipping.
    """

    def __init__(self, *, alpha: float = 0.97, threshold: float = 2.5, warmup: int = 25) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"ZClip alpha: expected a float in (0, 1), got {alpha!r}")
        if not threshold > 0.0:
            raise ValueError(f"ZClip threshold: expected a float > 0, got {threshold!r}")
        if not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"ZClip warmup: expected an int >= 1, got {warmup!r}")
        self.alpha, self.threshold, self.warmup = float(alpha), float(threshold), warmup
        self.seen: list[float] = []  # the warm-up norms
        self.mean = 0.0
        self.var = 0.0
        self.clipped = 0

    def limit(self, norm: float) -> float | None:
        """The norm to clip ``norm`` to (``None``: leave it), updating the statistics."""
        if len(self.seen) < self.warmup:
            self.seen.append(norm)
            if len(self.seen) == self.warmup:
                self.mean = sum(self.seen) / self.warmup
                self.var = sum((n - self.mean) ** 2 for n in self.seen) / self.warmup
            return None
        bound = self.mean + self.threshold * math.sqrt(self.var)
        target = None
        if norm > bound:
            target, norm = bound, bound
            self.clipped += 1
        self.mean = self.alpha * self.mean + (1 - self.alpha) * norm
        self.var = self.alpha * self.var + (1 - self.alpha) * (norm - self.mean) ** 2
        return target

    def state_dict(self) -> dict[str, Any]:
        """The statistics, as plain numbers."""
        return {
            "seen": list(self.seen),
            "mean": self.mean,
            "var": self.var,
            "clipped": self.clipped,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s statistics."""
        self.seen = [float(n) for n in state["seen"]]
        self.mean, self.var = float(state["mean"]), float(state["var"])
        self.clipped = int(state["clipped"])


class ZClipState(Callback):
    """Holds the two :class:`ZClip` of a :class:`ZClipTrainer`, so checkpoints keep them."""

    def __init__(self) -> None:
        self.zclips = {"g": ZClip(), "d": ZClip()}

    def state_dict(self) -> dict[str, Any]:
        """Each optimiser's statistics."""
        return {key: z.state_dict() for key, z in self.zclips.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore each optimiser's statistics."""
        for key, z in self.zclips.items():
            z.load_state_dict(state[key])


class ZClipTrainer(CycleTrainer):
    """:class:`CycleTrainer` that clips each optimiser's gradient spikes (:class:`ZClip`).

    It adds a :class:`ZClipState` to its callbacks. Float32 only (the benchmark's setting):
    with ``amp="fp16"`` the gradients would first have to be unscaled.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.scaler is not None:
            raise ValueError("ZClipTrainer: expected amp other than 'fp16' (no GradScaler)")
        self.zclip_state = ZClipState()
        self.callbacks.append(self.zclip_state)

    def _backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        torch.autograd.backward(loss)
        zclip = self.zclip_state.zclips["g" if optimizer is self.optimizer_g else "d"]
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        norm = float(torch.nn.utils.get_total_norm(grads))
        target = zclip.limit(norm)
        if target is not None:
            torch._foreach_mul_(grads, target / norm)
        optimizer.step()
