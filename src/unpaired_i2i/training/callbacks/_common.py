"""Private helpers shared by several built-in callbacks.

The main loss keys, the option and image checks of the callbacks, atomic writes with the
callback's name in the error, batch image counts, the learning rate and a throughput clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch

from unpaired_i2i._checks import ShapeError, format_shape
from unpaired_i2i._io import write_atomic

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

MAIN_LOSS_KEYS: tuple[str, ...] = ("g_total", "cycle_x", "cycle_y", "d_x", "d_y")
"""The losses the progress readouts show by default."""


def check_keys(owner: str, name: str, keys: object) -> tuple[str, ...]:
    """Return ``keys`` as a tuple if it is a non-empty sequence of non-empty strings."""
    if (
        isinstance(keys, str)
        or not isinstance(keys, Sequence)
        or not keys
        or not all(isinstance(k, str) and k for k in keys)
    ):
        raise ValueError(f"{owner} {name} must be a non-empty sequence of loss names; got {keys!r}")
    return tuple(keys)


def check_images(owner: str, name: str, images: object) -> torch.Tensor:
    """Validate a fixed ``(N, C, H, W)`` image batch in ``[-1, 1]``; return a float32 CPU copy."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{owner} {name} must be a torch.Tensor of shape (N, C, H, W); "
            f"got {type(images).__name__}"
        )
    if images.dim() != 4 or images.shape[0] < 1:
        raise ShapeError(
            f"{owner} expects {name} of shape (N, C, H, W) with N >= 1; "
            f"got {format_shape(images.shape)}"
        )
    if not images.is_floating_point():
        raise TypeError(
            f"{owner} {name} must be a floating-point tensor with values in [-1, 1]; "
            f"got dtype {images.dtype}"
        )
    out = images.detach().to("cpu", torch.float32, copy=True)
    low, high = float(out.min()), float(out.max())
    if not (math.isfinite(low) and math.isfinite(high)) or low < -1.001 or high > 1.001:
        raise ValueError(
            f"{owner} {name} must hold finite values in [-1, 1]; got values in "
            f"[{low:.4g}, {high:.4g}]"
        )
    return out


def check_image_pair(owner: str, images_x: torch.Tensor, images_y: torch.Tensor) -> None:
    """Raise :class:`ShapeError` unless X and Y images can share one grid."""
    if images_x.shape[2:] != images_y.shape[2:]:
        raise ShapeError(
            f"{owner} expects images_x and images_y with the same H and W (one grid); got "
            f"{format_shape(images_x.shape)} and {format_shape(images_y.shape)}"
        )
    cx, cy = int(images_x.shape[1]), int(images_y.shape[1])
    if cx != cy and not {cx, cy} <= {1, 3}:
        raise ShapeError(
            f"{owner} expects images_x and images_y with the same channel count (or 1 and 3); "
            f"got {cx} and {cy} channels"
        )


def write_file(path: Path, write: Callable[[IO[bytes]], object], owner: str) -> Path:
    """Write a file all at once (:func:`~unpaired_i2i._io.write_atomic`), naming owner and path.

    Raises:
        OSError: ``"{owner} cannot write {path}: ..."`` with the original error chained.
    """
    try:
        return write_atomic(path, write)
    except Exception as err:
        raise OSError(f"{owner} cannot write {path}: {type(err).__name__}: {err}") from err


def batch_images(trainer: CycleTrainer, batch: Any) -> int:
    """Images in a batch (``x`` and ``y`` together), read from shapes only (no device sync)."""
    try:
        real_x, real_y = trainer.unpack_batch(batch)
    except (TypeError, ValueError):
        return 0
    return sum(
        int(t.shape[0]) for t in (real_x, real_y) if isinstance(t, torch.Tensor) and t.dim() > 0
    )


def generator_lr(trainer: CycleTrainer) -> float:
    """The generator optimiser's current learning rate (its first parameter group)."""
    return float(trainer.optimizer_g.param_groups[0]["lr"])


class Throughput:
    """Images per second between two readings, timed on the host.

    Read at log steps, where the trainer has just synchronised to copy the losses, so the host
    clock matches the device's progress.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the clock and the count."""
        self._start: float | None = None
        self._images = 0

    def step_start(self) -> None:
        """Start the clock unless it runs."""
        if self._start is None:
            self._start = time.perf_counter()

    def add(self, images: int) -> None:
        """Count ``images`` more images."""
        self._images += images

    def rate(self) -> float:
        """Images per second since the previous reading (or the clock's start); restart."""
        now = time.perf_counter()
        start = now if self._start is None else self._start
        rate = self._images / max(now - start, 1e-9)
        self._start, self._images = now, 0
        return rate
