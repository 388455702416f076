"""NaN/inf detection without per-step synchronisation: :class:`NonFiniteLossError`.

:class:`FiniteTracker` folds each step's loss finiteness into flags that stay on the device;
the host reads them (one synchronisation) only when asked, at log steps, before a checkpoint
is written and at the end of ``fit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["FINITE_ORDER", "FiniteTracker", "NonFiniteLossError", "check_finite_tensors"]

# Order in which non-finite losses are reported: the terms before the totals they feed.
FINITE_ORDER: tuple[str, ...] = (
    "g_adv_xy",
    "g_adv_yx",
    "cycle_x",
    "cycle_y",
    "identity_x",
    "identity_y",
    "g_total",
    "d_x",
    "d_y",
)


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """A loss (or a saved tensor) became NaN or infinite; training stopped.

    Detected at every log step, before every checkpoint save and at the end of
    :meth:`CycleTrainer.fit`, from flags accumulated on the device (no per-step
    synchronisation). The message names the first bad step and the loss keys that were
    non-finite there. No checkpoint with non-finite values is written.

    Attributes:
        step: The first step (1-based, as ``TrainerState.step``) with a non-finite value.
        key: The first non-finite loss key (or tensor name) at that step.
        keys: All non-finite loss keys at that step.
    """

    def __init__(self, message: str, *, step: int, key: str, keys: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.step = step
        self.key = key
        self.keys = tuple(keys) or (key,)


class FiniteTracker:
    """Device-side record of the first step whose losses were not all finite."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything tracked so far."""
        self._all_finite: torch.Tensor | None = None
        self._bad_step = torch.empty(0)
        self._bad_mask = torch.empty(0)
        self._keys: tuple[str, ...] = ()
        self._step_counter = torch.empty(0)

    def track(self, losses: Mapping[str, torch.Tensor], step: int) -> None:
        """Fold one step's losses into the flags (no synchronisation).

        Args:
            losses: The step's 0-d loss tensors, all on one device.
            step: The step they belong to (1-based); read only on the first call after
                :meth:`reset`, later steps are counted on the device.
        """
        if self._all_finite is None:
            keys = [k for k in FINITE_ORDER if k in losses]
            keys += [k for k in losses if k not in keys]
            self._keys = tuple(keys)
            device = losses[keys[0]].device
            self._all_finite = torch.ones((), dtype=torch.bool, device=device)
            self._bad_step = torch.full((), -1, dtype=torch.int64, device=device)
            self._bad_mask = torch.zeros(len(keys), dtype=torch.bool, device=device)
            self._step_counter = torch.full((), step - 1, dtype=torch.int64, device=device)
        self._step_counter.add_(1)
        finite = torch.stack([losses[k].float() for k in self._keys]).isfinite()
        bad = ~finite.all()
        newly = self._all_finite & bad
        self._bad_step = torch.where(newly, self._step_counter, self._bad_step)
        self._bad_mask = torch.where(newly, ~finite, self._bad_mask)
        self._all_finite = self._all_finite & ~bad

    def is_finite(self) -> bool:
        """Whether every tracked loss was finite (one device synchronisation)."""
        return self._all_finite is None or bool(self._all_finite)

    def first_bad_step(self) -> int:
        """The first step with a non-finite loss, or -1 (one device synchronisation)."""
        return -1 if self._all_finite is None else int(self._bad_step)

    def check(self) -> None:
        """Raise if any tracked loss was NaN or infinite (one device synchronisation).

        Raises:
            NonFiniteLossError: Names the first bad step and its non-finite loss keys.
        """
        if self._all_finite is None or bool(self._all_finite):
            return
        step = int(self._bad_step)
        keys = [k for k, bad in zip(self._keys, self._bad_mask.tolist(), strict=True) if bad]
        first = keys[0] if keys else "?"
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {', '.join(keys)} (first: {first!r}); training "
            "stopped, no checkpoint is written from this state",
            step=step,
            key=first,
            keys=keys,
        )


def check_finite_tensors(
    checkpoint: Mapping[str, Any], *, step: int, device: torch.device, skip: Sequence[str] = ()
) -> None:
    """Raise if a floating-point tensor anywhere in ``checkpoint`` is NaN or infinite.

    All tensors are checked in one device synchronisation.

    Args:
        checkpoint: Nested mappings, lists and tuples holding tensors.
        step: The step named in the error.
        device: Where the per-tensor flags are gathered.
        skip: Top-level keys not to check (e.g. RNG states).

    Raises:
        NonFiniteLossError: Names the first bad tensor by its path, e.g. ``model.g_xy.w``.
    """
    named: list[tuple[str, torch.Tensor]] = []

    def walk(obj: Any, where: str) -> None:
        if isinstance(obj, torch.Tensor):
            if obj.is_floating_point() or obj.is_complex():
                named.append((where, obj))
        elif isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(v, f"{where}.{k}")
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                walk(v, f"{where}.{i}")

    for key, value in checkpoint.items():
        if key not in skip:
            walk(value, key)
    if not named:
        return
    flags = torch.stack([t.detach().isfinite().all().to(device) for _, t in named])
    if bool(flags.all()):
        return
    where = named[int(flags.to(torch.int8).argmin())][0]
    raise NonFiniteLossError(
        f"non-finite values in {where} at step {step}; checkpoint not written",
        step=step,
        key=where,
    )
