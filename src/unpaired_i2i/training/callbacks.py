"""Callbacks: the :class:`Callback` hook base class and the built-in callbacks.

Built in: :class:`ModelCheckpoint` (checkpoint files), :class:`ProgressBar` (a tqdm bar),
:class:`MetricsLogger` (CSV / JSON lines), :class:`SampleGrid` (translation grids as PNG),
:class:`LossPlot` (loss curves as PNG), :class:`EMA` (averaged generators) and
:class:`TensorBoardLogger`. Each is an ordinary :class:`Callback` subclass.
:func:`translation_grid` renders the sample grids.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.utils import make_grid, save_image

from unpaired_i2i._checks import ShapeError
from unpaired_i2i._io import copy_atomic, write_atomic
from unpaired_i2i.training.checkpoint import replace_with_copy

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = [
    "EMA",
    "Callback",
    "LossPlot",
    "MetricsFormat",
    "MetricsLogger",
    "ModelCheckpoint",
    "ProgressBar",
    "SampleGrid",
    "TensorBoardLogger",
    "translation_grid",
]


class Callback:
    """Base class of trainer callbacks: every hook is a typed no-op; override the ones you need.

    Hooks receive the trainer first and run in the order the trainer's ``callbacks`` are listed:

    ``on_fit_start``, then per epoch ``on_epoch_start``, per batch ``on_step_start`` /
    ``on_step_end``, then ``on_epoch_end``; finally ``on_fit_end``. A resumed epoch gets its
    ``on_epoch_start`` too (``trainer.state.batch_in_epoch`` then tells where it resumes). To stop
    training, set ``trainer.state.should_stop = True`` (never raise): the current step finishes,
    ``on_epoch_end`` and ``on_fit_end`` still run. ``on_exception`` runs when an exception
    (including :class:`KeyboardInterrupt`) escapes :meth:`CycleTrainer.fit`, which then re-raises
    it; ``on_fit_end`` does not run in that case.

    A callback that carries state implements :meth:`state_dict` / :meth:`load_state_dict`; the
    trainer stores it in checkpoints under :attr:`state_key`, which must be unique among the
    trainer's callbacks.

    Example:
        >>> class CountSteps(Callback):
        ...     def __init__(self) -> None:
        ...         self.steps = 0
        ...     def on_step_end(self, trainer, batch, losses) -> None:
        ...         self.steps += 1
        ...     def state_dict(self) -> dict[str, int]:
        ...         return {"steps": self.steps}
        ...     def load_state_dict(self, state) -> None:
        ...         self.steps = int(state["steps"])
        >>> CountSteps().state_key
        'CountSteps'
    """

    @property
    def state_key(self) -> str:
        """Key of this callback's state in checkpoints (default: the class's qualified name)."""
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        """Return this callback's state: tensors and plain Python values only (default empty)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (default: nothing to restore).

        Args:
            state: The state stored in the checkpoint.
        """

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Run once when :meth:`CycleTrainer.fit` starts, before the first epoch.

        Args:
            trainer: The trainer.
        """

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Run once when :meth:`CycleTrainer.fit` finishes without an exception.

        Args:
            trainer: The trainer.
        """

    def on_epoch_start(self, trainer: CycleTrainer) -> None:
        """Run at the start of every epoch (``trainer.state.epoch`` is 0-based).

        Args:
            trainer: The trainer.
        """

    def on_epoch_end(self, trainer: CycleTrainer) -> None:
        """Run at the end of every epoch, also when training stopped inside it.

        ``trainer.state.epoch_complete`` is ``True`` when the data was exhausted (the LR
        schedulers have then already been stepped); ``trainer.state.epoch`` is still the epoch
        that ended.

        Args:
            trainer: The trainer.
        """

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Run before each training step.

        Args:
            trainer: The trainer.
            batch: The batch as the data yielded it.
        """

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Run after each training step; ``trainer.state.step`` already counts it.

        Args:
            trainer: The trainer.
            batch: The batch as the data yielded it.
            losses: The step's detached 0-d loss tensors (see :meth:`CycleTrainer.train_step`).
                Reading them as floats synchronises with the device; prefer
                ``trainer.state.last_losses``, refreshed every ``log_every`` steps.
        """

    def on_checkpoint_save(self, trainer: CycleTrainer, checkpoint: dict[str, Any]) -> None:
        """Run when a checkpoint dict is built, before it is written; may add entries.

        Args:
            trainer: The trainer.
            checkpoint: The checkpoint; added values must be tensors or plain Python values.
        """

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Mapping[str, Any]) -> None:
        """Run after a checkpoint has been restored into the trainer.

        Args:
            trainer: The trainer.
            checkpoint: The loaded checkpoint.
        """

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Run when an exception escapes :meth:`CycleTrainer.fit`, before it is re-raised.

        Args:
            trainer: The trainer.
            exc: The exception.
        """


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"ModelCheckpoint {name} must be an int >= 0; got {value!r}")
    return value


class ModelCheckpoint(Callback):
    """Save training checkpoints to a folder: numbered files, the newest kept, and ``last.pt``.

    Each save writes ``step-XXXXXXXX.pt`` (the global step, 8 digits) through
    :meth:`CycleTrainer.save_checkpoint`, deletes the oldest numbered files this callback wrote
    beyond ``keep_last``, and atomically replaces ``last.pt`` with the new file (a hard link
    where possible). Saves happen every ``every_n_steps`` steps, at the end of every
    ``every_n_epochs``-th completed epoch, and when ``fit`` ends (after the last step or a stop)
    unless that position was just saved. A failed save (including a non-finite model, see
    :class:`NonFiniteLossError`) leaves every earlier file untouched. Resume with
    ``trainer.load_checkpoint(folder / "last.pt")``.

    Args:
        dirpath: Folder of the checkpoints (created when first needed).
        every_n_steps: Save every this many steps; 0 disables step saves.
        every_n_epochs: Save at the end of every this many epochs; 0 disables epoch saves.
        keep_last: Numbered files to keep; 0 writes no numbered files, only ``last.pt``.
        save_last: Maintain ``last.pt``.

    Raises:
        ValueError: A count is negative or not an int, or nothing would be saved
            (``keep_last=0`` with ``save_last=False``).

    Example:
        >>> cb = ModelCheckpoint("runs/demo", every_n_steps=500, keep_last=2)
        >>> cb.state_key
        'ModelCheckpoint[runs/demo]'
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str],
        *,
        every_n_steps: int = 0,
        every_n_epochs: int = 1,
        keep_last: int = 3,
        save_last: bool = True,
    ) -> None:
        self.dirpath = Path(os.fspath(dirpath))
        self.every_n_steps = _check_count("every_n_steps", every_n_steps)
        self.every_n_epochs = _check_count("every_n_epochs", every_n_epochs)
        self.keep_last = _check_count("keep_last", keep_last)
        if not isinstance(save_last, bool):
            raise ValueError(f"ModelCheckpoint save_last must be a bool; got {save_last!r}")
        if keep_last == 0 and not save_last:
            raise ValueError(
                "ModelCheckpoint with keep_last=0 and save_last=False would save nothing; "
                "set keep_last >= 1 or save_last=True"
            )
        self.save_last = save_last
        self._saved: list[str] = []
        self._last_saved: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint({str(self.dirpath)!r}, every_n_steps={self.every_n_steps}, "
            f"every_n_epochs={self.every_n_epochs}, keep_last={self.keep_last}, "
            f"save_last={self.save_last})"
        )

    @property
    def state_key(self) -> str:
        """``"ModelCheckpoint[<dirpath>]"``, so several folders can be used at once."""
        return f"{type(self).__qualname__}[{self.dirpath}]"

    @property
    def last_path(self) -> Path:
        """Path of ``last.pt`` in :attr:`dirpath`."""
        return self.dirpath / "last.pt"

    @property
    def saved_paths(self) -> list[Path]:
        """Numbered checkpoints this callback wrote and still keeps, oldest first."""
        return [self.dirpath / name for name in self._saved]

    def state_dict(self) -> dict[str, Any]:
        """Return the kept file names and the last saved position."""
        return {
            "dirpath": str(self.dirpath),
            "saved": list(self._saved),
            "last_saved": list(self._last_saved) if self._last_saved is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`.

        Args:
            state: The stored state.
        """
        self._saved = [str(name) for name in state.get("saved", [])]
        last = state.get("last_saved")
        self._last_saved = (int(last[0]), int(last[1])) if last is not None else None

    @staticmethod
    def _position(trainer: CycleTrainer) -> tuple[int, int]:
        s = trainer.state
        return s.step, s.epoch + 1 if s.epoch_complete else s.epoch

    def save(self, trainer: CycleTrainer) -> Path:
        """Save a checkpoint now and rotate the files.

        Args:
            trainer: The trainer.

        Returns:
            The path written (the numbered file, or ``last.pt`` when ``keep_last=0``).

        Raises:
            CheckpointError: Writing failed; earlier files are untouched.
            NonFiniteLossError: The model or a loss went non-finite; nothing is written.
        """
        previous = (list(self._saved), self._last_saved)
        self._last_saved = self._position(trainer)
        if self.keep_last == 0:
            try:
                return trainer.save_checkpoint(self.last_path)
            except BaseException:
                self._saved, self._last_saved = previous
                raise
        name = f"step-{trainer.state.step:08d}.pt"
        kept = [n for n in self._saved if n != name] + [name]
        dropped = kept[: -self.keep_last]
        self._saved = kept[-self.keep_last :]
        path = self.dirpath / name
        try:
            trainer.save_checkpoint(path)
            if self.save_last:
                replace_with_copy(path, self.last_path)
        except BaseException:
            self._saved, self._last_saved = previous
            raise
        for old in dropped:
            with contextlib.suppress(FileNotFoundError):
                (self.dirpath / old).unlink()
        return path

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Save every ``every_n_steps`` steps."""
        if self.every_n_steps and trainer.state.step % self.every_n_steps == 0:
            self.save(trainer)

    def on_epoch_end(self, trainer: CycleTrainer) -> None:
        """Save at the end of every ``every_n_epochs``-th completed epoch."""
        state = trainer.state
        if (
            self.every_n_epochs
            and state.epoch_complete
            and (state.epoch + 1) % self.every_n_epochs == 0
        ):
            self.save(trainer)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Save the final position unless it was just saved."""
        if self._position(trainer) != self._last_saved:
            self.save(trainer)


# ------------------------------------------------------------------------------------ helpers
StrPath: TypeAlias = str | os.PathLike[str]

MetricsFormat: TypeAlias = Literal["csv", "jsonl"]
"""File format of :class:`MetricsLogger`: CSV with a header, or one JSON object per line."""

_MAIN_LOSS_KEYS: tuple[str, ...] = ("g_total", "cycle_x", "cycle_y", "d_x", "d_y")
_SUFFIX_FORMATS: dict[str, MetricsFormat] = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
_TB_MAX_BATCH_IMAGES = 4


def _check_int(owner: str, name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner} {name} must be an int >= {low}; got {value!r}")
    return value


def _check_optional_int(owner: str, name: str, value: object, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner} {name} must be None or an int >= {low}; got {value!r}")
    return value


def _check_bool(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{owner} {name} must be a bool; got {value!r}")
    return value


def _check_keys(owner: str, name: str, keys: object) -> tuple[str, ...]:
    if (
        isinstance(keys, str)
        or not isinstance(keys, Sequence)
        or not keys
        or not all(isinstance(k, str) and k for k in keys)
    ):
        raise ValueError(f"{owner} {name} must be a non-empty sequence of loss names; got {keys!r}")
    return tuple(keys)


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _check_images(owner: str, name: str, images: object) -> torch.Tensor:
    """Validate a fixed ``(N, C, H, W)`` image batch in ``[-1, 1]``; return a float32 CPU copy."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{owner} {name} must be a torch.Tensor of shape (N, C, H, W); "
            f"got {type(images).__name__}"
        )
    if images.dim() != 4 or images.shape[0] < 1:
        raise ShapeError(
            f"{owner} expects {name} of shape (N, C, H, W) with N >= 1; got {_shape(images.shape)}"
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


def _check_image_pair(owner: str, images_x: torch.Tensor, images_y: torch.Tensor) -> None:
    if images_x.shape[2:] != images_y.shape[2:]:
        raise ShapeError(
            f"{owner} expects images_x and images_y with the same H and W (one grid); got "
            f"{_shape(images_x.shape)} and {_shape(images_y.shape)}"
        )
    cx, cy = int(images_x.shape[1]), int(images_y.shape[1])
    if cx != cy and not {cx, cy} <= {1, 3}:
        raise ShapeError(
            f"{owner} expects images_x and images_y with the same channel count (or 1 and 3); "
            f"got {cx} and {cy} channels"
        )


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object], owner: str) -> Path:
    """Write a file all at once (:func:`write_atomic`); errors name the owner and the path."""
    try:
        return write_atomic(path, write)
    except Exception as err:
        raise OSError(f"{owner} cannot write {path}: {type(err).__name__}: {err}") from err


def _batch_images(trainer: CycleTrainer, batch: Any) -> int:
    """Images in a batch (``x`` and ``y`` together), read from shapes only (no device sync)."""
    try:
        real_x, real_y = trainer.unpack_batch(batch)
    except (TypeError, ValueError):
        return 0
    return sum(
        int(t.shape[0]) for t in (real_x, real_y) if isinstance(t, torch.Tensor) and t.dim() > 0
    )


def _lr(trainer: CycleTrainer) -> float:
    return float(trainer.optimizer_g.param_groups[0]["lr"])


class _Throughput:
    """Images per second between two readings, timed on the host.

    Read at log steps, where the trainer has just synchronised to copy the losses, so the host
    clock matches the device's progress.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._start: float | None = None
        self._images = 0

    def step_start(self) -> None:
        if self._start is None:
            self._start = time.perf_counter()

    def add(self, images: int) -> None:
        self._images += images

    def rate(self) -> float:
        now = time.perf_counter()
        start = now if self._start is None else self._start
        rate = self._images / max(now - start, 1e-9)
        self._start, self._images = now, 0
        return rate


def _param_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` in ``[-1, 1]`` to float32 CPU in ``[0, 1]`` with 3 channels if C is 1."""
    out = images.detach().to("cpu", torch.float32)
    if out.shape[1] == 1:
        out = out.expand(-1, 3, -1, -1)
    return ((out + 1.0) / 2.0).clamp(0.0, 1.0)


def translation_grid(
    g_xy: nn.Module,
    g_yx: nn.Module,
    images_x: torch.Tensor,
    images_y: torch.Tensor,
    *,
    nrow: int | None = None,
) -> torch.Tensor:
    """Render the translations of fixed images as one image grid (for samples and loggers).

    Rows: ``real_x | g_xy(x) | g_yx(g_xy(x))`` for each ``x``, then
    ``real_y | g_yx(y) | g_xy(g_yx(y))`` for each ``y`` (three tiles per row unless ``nrow``
    says otherwise), made with :func:`torchvision.utils.make_grid` (padding 2). The generators
    run under :func:`torch.inference_mode` in eval mode and every submodule gets its previous
    mode back. Images are moved to the device and dtype of each generator.

    Args:
        g_xy: Generator X to Y.
        g_yx: Generator Y to X.
        images_x: Images of domain X.
        images_y: Images of domain Y (same H and W).
        nrow: Tiles per grid row (default 3: one translation triple per row).

    Returns:
        The grid, float32 on the CPU, values in ``[0, 1]``.

    Shape:
        - images_x: ``(N, C_x, H, W)`` in ``[-1, 1]``; images_y: ``(M, C_y, H, W)``.
        - Output: ``(3, rows * (H + 2) + 2, nrow * (W + 2) + 2)`` with
          ``rows = ceil(3 * (N + M) / nrow)``; one-channel tiles are repeated to three.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> grid = translation_grid(nn.Identity(), nn.Identity(), torch.zeros(2, 3, 8, 8),
        ...     torch.zeros(1, 3, 8, 8))
        >>> tuple(grid.shape)
        (3, 32, 32)
    """
    generators = (g_xy, g_yx)
    modes = [(m, m.training) for g in generators for m in g.modules()]
    try:
        for g in generators:
            g.eval()
        with torch.inference_mode():
            x = images_x.to(_first_device(g_xy, images_x), _param_dtype(g_xy))
            y = images_y.to(_first_device(g_yx, images_y), _param_dtype(g_yx))
            fake_y: torch.Tensor = g_xy(x)
            rec_x: torch.Tensor = g_yx(fake_y)
            fake_x: torch.Tensor = g_yx(y)
            rec_y: torch.Tensor = g_xy(fake_x)
            rows = [
                torch.stack([_to_unit(a), _to_unit(b), _to_unit(c)], dim=1).flatten(0, 1)
                for a, b, c in ((x, fake_y, rec_x), (y, fake_x, rec_y))
            ]
            grid: torch.Tensor = make_grid(torch.cat(rows), nrow=nrow or 3, padding=2)
    finally:
        for module, mode in modes:
            module.training = mode
    return grid.clone()


def _first_device(module: nn.Module, fallback: torch.Tensor) -> torch.device:
    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return fallback.device


def _sample_generators(trainer: CycleTrainer) -> tuple[nn.Module, nn.Module]:
    """The generators to show: an :class:`EMA`'s averaged ones once it has averaged."""
    for cb in trainer.callbacks:
        if isinstance(cb, EMA) and cb.n_averaged > 0:
            return cb.generators
    return trainer.model.g_xy, trainer.model.g_yx


# -------------------------------------------------------------------------------- ProgressBar
class ProgressBar(Callback):
    """Show training progress as a :mod:`tqdm` bar over steps.

    The bar counts steps from ``trainer.state.step`` (so a resumed run continues where it
    stopped) to a total known in advance where possible: ``state.max_steps`` and/or
    ``len(data)`` per epoch times the remaining epochs, the smaller of the two (``None``, an
    open-ended bar, when neither is known). Its description is ``epoch E/N`` (1-based). At log
    steps the postfix shows the latest losses of ``keys`` from ``trainer.state.last_losses`` and
    the throughput in images per second (``x`` and ``y`` images, timed between log steps); it
    never reads the loss tensors, so it adds no device synchronisation. The bar closes when
    ``fit`` ends or raises.

    Args:
        leave: Keep the finished bar on screen.
        file: Stream to draw on (default: ``sys.stderr``).
        disable: ``True`` hides the bar; ``None`` (tqdm's rule) hides it unless ``file`` is a
            terminal.
        keys: Loss keys shown in the postfix (those missing from the losses are skipped).

    Raises:
        ValueError: An option has an invalid value.

    Example:
        >>> bar = ProgressBar(disable=True)
        >>> bar.keys
        ('g_total', 'cycle_x', 'cycle_y', 'd_x', 'd_y')
    """

    def __init__(
        self,
        *,
        leave: bool = True,
        file: IO[str] | None = None,
        disable: bool | None = None,
        keys: Sequence[str] = _MAIN_LOSS_KEYS,
    ) -> None:
        self.leave = _check_bool("ProgressBar", "leave", leave)
        if disable is not None:
            _check_bool("ProgressBar", "disable", disable)
        self.disable = disable
        self.file = file
        self.keys = _check_keys("ProgressBar", "keys", keys)
        self._bar: Any = None
        self._speed = _Throughput()

    @property
    def bar(self) -> Any:
        """The live ``tqdm`` instance during ``fit``, else ``None``."""
        return self._bar

    @staticmethod
    def total_steps(trainer: CycleTrainer) -> int | None:
        """Total steps of the running ``fit`` as far as they can be known in advance.

        Args:
            trainer: The trainer (its ``state`` and the data it fits, when that has a length).

        Returns:
            The smaller of ``state.max_steps`` and the steps the remaining epochs take, or
            ``None`` when neither is known.
        """
        state = trainer.state
        by_epochs: int | None = None
        data = getattr(trainer, "_data", None)
        if data is not None and state.max_epochs is not None:
            try:
                per_epoch = len(data)
            except (TypeError, NotImplementedError):
                per_epoch = None
            if per_epoch is not None:
                done = state.step - state.batch_in_epoch
                by_epochs = done + per_epoch * max(0, state.max_epochs - state.epoch)
        known = [n for n in (state.max_steps, by_epochs) if n is not None]
        return min(known) if known else None

    @staticmethod
    def _describe(trainer: CycleTrainer) -> str:
        state = trainer.state
        if state.max_epochs is None:
            return f"epoch {state.epoch + 1}"
        return f"epoch {min(state.epoch + 1, state.max_epochs)}/{state.max_epochs}"

    def _close(self) -> None:
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Open the bar at the current step."""
        from tqdm import tqdm

        self._close()
        self._speed.reset()
        self._bar = tqdm(
            total=self.total_steps(trainer),
            initial=trainer.state.step,
            desc=self._describe(trainer),
            leave=self.leave,
            file=self.file,
            disable=self.disable,
            unit="step",
        )

    def on_epoch_start(self, trainer: CycleTrainer) -> None:
        """Show the new epoch in the description."""
        if self._bar is not None:
            self._bar.set_description(self._describe(trainer), refresh=False)

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Start the throughput clock at the first step."""
        self._speed.step_start()

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Advance the bar; at log steps, refresh the losses and images/s in the postfix."""
        if self._bar is None or self._bar.disable:
            return
        self._speed.add(_batch_images(trainer, batch))
        if trainer.is_log_step:
            last = trainer.state.last_losses
            postfix = {key: f"{last[key]:.3f}" for key in self.keys if key in last}
            postfix["img/s"] = f"{self._speed.rate():.1f}"
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Close the bar."""
        self._close()

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Close the bar."""
        self._close()


# ------------------------------------------------------------------------------ MetricsLogger
def _csv_step(line: str, header: Sequence[str]) -> int | None:
    try:
        row = next(csv.reader([line]), None)
    except csv.Error:
        return None
    if row is None or len(row) != len(header):
        return None
    try:
        return int(row[list(header).index("step")])
    except ValueError:
        return None


def _json_step(line: str) -> int | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    step = row.get("step") if isinstance(row, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


class MetricsLogger(Callback):
    """Append one row of metrics per log step to a CSV or JSON-lines file.

    Each row (every ``config.log_every`` steps) holds ``step``, ``epoch`` (0-based), ``lr``
    (the generator optimiser's current learning rate), ``time`` (seconds spent in ``fit``,
    summed across resumes through the checkpointed state), ``images_per_s`` (``x`` and ``y``
    images per second since the previous row) and every loss of
    ``trainer.state.last_losses``. CSV files get a header; the columns are fixed by the first
    row of the file (later keys are left out). Rows are flushed as they are written.

    When ``fit`` starts, rows with a step beyond ``trainer.state.step`` are dropped: after a
    resume, those the interrupted run wrote after its last checkpoint (they are written again);
    in a fresh run (step 0), all of them. The file is then rewritten atomically, so it never
    holds a step twice. Malformed lines (e.g. a row cut off by a crash) are dropped too.

    Args:
        path: The file (parent folders are created).
        format: ``"csv"`` or ``"jsonl"``; ``None`` picks it from the suffix (``.csv``;
            ``.jsonl`` or ``.json`` for JSON lines).

    Raises:
        ValueError: ``format`` is invalid, or it is ``None`` and the suffix is none of these.

    Example:
        >>> logger = MetricsLogger("runs/demo/metrics.jsonl")
        >>> logger.format, logger.state_key
        ('jsonl', 'MetricsLogger[runs/demo/metrics.jsonl]')
    """

    def __init__(self, path: StrPath, *, format: MetricsFormat | None = None) -> None:
        self.path = Path(os.fspath(path))
        if format is None:
            guessed = _SUFFIX_FORMATS.get(self.path.suffix.lower())
            if guessed is None:
                raise ValueError(
                    f"MetricsLogger cannot tell the format of {self.path} from its suffix "
                    f"{self.path.suffix!r}: use a .csv, .jsonl or .json path, or pass "
                    "format='csv' or format='jsonl'"
                )
            format = guessed
        elif format not in ("csv", "jsonl"):
            raise ValueError(
                f"MetricsLogger format must be one of 'csv', 'jsonl' or None; got {format!r}"
            )
        self.format: MetricsFormat = format
        self._time_before = 0.0
        self._fit_start: float | None = None
        self._file: IO[str] | None = None
        self._fields: list[str] | None = None
        self._speed = _Throughput()

    def __repr__(self) -> str:
        return f"MetricsLogger({str(self.path)!r}, format={self.format!r})"

    @property
    def state_key(self) -> str:
        """``"MetricsLogger[<path>]"``, so several files can be written at once."""
        return f"{type(self).__qualname__}[{self.path}]"

    @property
    def elapsed(self) -> float:
        """Seconds spent in ``fit`` so far, including those before a resume."""
        running = 0.0 if self._fit_start is None else time.perf_counter() - self._fit_start
        return self._time_before + running

    def state_dict(self) -> dict[str, Any]:
        """Return the training time so far (``{"time": seconds}``)."""
        return {"time": self.elapsed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the training time of a checkpoint.

        Args:
            state: The stored state.
        """
        self._time_before = float(state.get("time", 0.0))
        if self._fit_start is not None:
            self._fit_start = time.perf_counter()

    def _prepare(self, step: int) -> list[str] | None:
        """Drop rows after ``step``; return the CSV header of the kept file, if any."""
        path = self.path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise OSError(f"MetricsLogger cannot read {path}: {err}") from err
        lines = text.splitlines(keepends=True)
        header: list[str] | None = None
        if step == 0:  # a fresh run starts the file afresh
            kept: list[str] = []
        elif self.format == "csv":
            if not lines:
                return None
            header = next(csv.reader([lines[0]]), [])
            if "step" not in header:
                raise ValueError(
                    f"MetricsLogger cannot continue {path}: its first line is not a CSV header "
                    f"with a 'step' column (got {lines[0].strip()!r})"
                )
            kept = [lines[0]]
            for line in lines[1:]:
                row_step = _csv_step(line, header)
                if row_step is not None and row_step <= step:
                    kept.append(line)
        else:
            kept = []
            for line in lines:
                row_step = _json_step(line)
                if row_step is not None and row_step <= step:
                    kept.append(line)
        kept = [line if line.endswith("\n") else line + "\n" for line in kept]
        if kept != lines:
            data = "".join(kept).encode("utf-8")
            _write_atomic(path, lambda f: f.write(data), "MetricsLogger")
        return header

    def _close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def _write_row(self, row: dict[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", newline="")
        if self.format == "csv":
            writer = csv.writer(self._file, lineterminator="\n")
            if self._fields is None:
                self._fields = list(row)
                if self._file.tell() == 0:
                    writer.writerow(self._fields)
            writer.writerow([row.get(key, "") for key in self._fields])
        else:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Drop rows after the current step and start the clocks."""
        self._close()
        self._speed.reset()
        self._fields = self._prepare(trainer.state.step)
        self._fit_start = time.perf_counter()

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Start the throughput clock at the first step."""
        self._speed.step_start()

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Write a row at log steps."""
        self._speed.add(_batch_images(trainer, batch))
        if not trainer.is_log_step:
            return
        state = trainer.state
        row: dict[str, Any] = {
            "step": state.step,
            "epoch": state.epoch,
            "lr": _lr(trainer),
            "time": round(self.elapsed, 3),
            "images_per_s": round(self._speed.rate(), 2),
        }
        row.update(state.last_losses)
        self._write_row(row)

    def _stop_clock(self) -> None:
        self._time_before = self.elapsed
        self._fit_start = None
        self._close()

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Stop the clock and close the file."""
        self._stop_clock()

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Stop the clock and close the file."""
        self._stop_clock()


# --------------------------------------------------------------------------------- SampleGrid
class SampleGrid(Callback):
    """Save grids of fixed images and their translations as PNG files while training.

    Every ``every_n_steps`` steps and when ``fit`` ends (unless that step was just written) it
    writes ``dirpath/step-XXXXXXXX.png`` (the step, 8 digits) and atomically updates
    ``dirpath/latest.png`` to the same image. Each grid row shows ``real_x | g_xy(x) |
    g_yx(g_xy(x))`` for an ``x``, then ``real_y | g_yx(y) | g_xy(g_yx(y))`` for a ``y`` (see
    :func:`translation_grid`); values are mapped from ``[-1, 1]`` to ``[0, 1]``. The
    generators run in eval mode under :func:`torch.inference_mode` and get their previous mode
    back; they draw no random numbers, so samples do not change the training run. The grid is
    also rendered (not written) when ``fit`` starts, so images the generators cannot take (e.g.
    a size they do not support) fail at once rather than at the first sample. If an
    :class:`EMA` callback is among ``trainer.callbacks`` (list it first) and has averaged at
    least once, its averaged generators are shown.

    Args:
        dirpath: Folder of the images (created when first needed).
        images_x: Fixed images of domain X, kept on the CPU and moved to the generators'
            device when used.
        images_y: Fixed images of domain Y.
        every_n_steps: Write every this many steps.
        nrow: Tiles per grid row (default 3, one translation triple per row).

    Raises:
        TypeError: The images are not floating-point tensors.
        ShapeError: The images are not ``(N, C, H, W)``, or X and Y differ in ``H``/``W`` (or
            in channels, other than 1 and 3).
        ValueError: Values outside ``[-1, 1]``, or ``every_n_steps`` / ``nrow`` below 1.

    Shape:
        - images_x: ``(N, C_x, H, W)`` in ``[-1, 1]``; images_y: ``(M, C_y, H, W)``.
        - The PNG: ``rows * (H + 2) + 2`` by ``nrow * (W + 2) + 2`` pixels,
          ``rows = ceil(3 * (N + M) / nrow)``.

    Example:
        >>> import torch
        >>> grid = SampleGrid("runs/demo/samples", torch.zeros(2, 3, 16, 16),
        ...     torch.zeros(2, 3, 16, 16), every_n_steps=100)
        >>> grid.state_key, grid.last_path
        ('SampleGrid[runs/demo/samples]', None)
    """

    def __init__(
        self,
        dirpath: StrPath,
        images_x: torch.Tensor,
        images_y: torch.Tensor,
        *,
        every_n_steps: int = 500,
        nrow: int | None = None,
    ) -> None:
        self.dirpath = Path(os.fspath(dirpath))
        self.images_x = _check_images("SampleGrid", "images_x", images_x)
        self.images_y = _check_images("SampleGrid", "images_y", images_y)
        _check_image_pair("SampleGrid", self.images_x, self.images_y)
        self.every_n_steps = _check_int("SampleGrid", "every_n_steps", every_n_steps, 1)
        self.nrow = _check_optional_int("SampleGrid", "nrow", nrow, 1)
        self.last_path: Path | None = None
        """The latest numbered PNG written, or ``None``."""
        self._last_step: int | None = None

    @property
    def state_key(self) -> str:
        """``"SampleGrid[<dirpath>]"``, so several folders can be used at once."""
        return f"{type(self).__qualname__}[{self.dirpath}]"

    @property
    def latest_path(self) -> Path:
        """Path of ``latest.png`` in :attr:`dirpath`."""
        return self.dirpath / "latest.png"

    def render(self, trainer: CycleTrainer) -> torch.Tensor:
        """Render the grid with the trainer's generators (or an :class:`EMA`'s).

        Args:
            trainer: The trainer.

        Returns:
            The grid ``(3, H', W')``, float32 on the CPU, in ``[0, 1]``.
        """
        g_xy, g_yx = _sample_generators(trainer)
        return translation_grid(g_xy, g_yx, self.images_x, self.images_y, nrow=self.nrow)

    def save(self, trainer: CycleTrainer) -> Path:
        """Write the grid of the current step now and update ``latest.png``.

        Args:
            trainer: The trainer.

        Returns:
            The numbered PNG written.

        Raises:
            OSError: Writing failed (names the file); an existing file is left as it was.
        """
        grid = self.render(trainer)
        step = trainer.state.step
        path = self.dirpath / f"step-{step:08d}.png"
        _write_atomic(path, lambda f: save_image(grid, f, format="png"), "SampleGrid")
        try:
            copy_atomic(path, self.latest_path)
        except OSError as err:
            raise OSError(f"SampleGrid cannot update {self.latest_path}: {err}") from err
        self.last_path = path
        self._last_step = step
        return path

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Render once (nothing is written) so that images the generators reject fail now."""
        self.render(trainer)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Write a grid every ``every_n_steps`` steps."""
        if trainer.state.step % self.every_n_steps == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Write the final grid unless this step was just written."""
        if self._last_step != trainer.state.step:
            self.save(trainer)


# ----------------------------------------------------------------------------------- LossPlot
def _require_matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("LossPlot needs matplotlib: pip install 'unpaired-i2i[plot]'") from err
    return Figure, FigureCanvasAgg


class LossPlot(Callback):
    """Record the losses at every log step and draw their curves to a PNG file.

    The history (``trainer.state.last_losses`` at each log step) is kept in this callback's
    checkpointed state, so the curves of a resumed run continue those of the interrupted one
    (points after the checkpoint are dropped when ``fit`` starts). The plot is drawn when
    ``fit`` ends (unless that step was just drawn) and every ``every_n_steps`` steps if given:
    generator losses (all keys not starting with ``d_``) in the upper panel, discriminator
    losses (``d_x``, ``d_y``) in the lower, step on the x axis. It is drawn with a
    :class:`matplotlib.figure.Figure` on the Agg canvas, without :mod:`matplotlib.pyplot`, so an
    interactive session's backend and figures are untouched, and written atomically.

    Needs the ``plot`` extra (matplotlib).

    Args:
        path: The PNG file (parent folders are created).
        keys: Losses to draw (default: every recorded key). All losses are recorded anyway.
        every_n_steps: Also draw every this many steps (default: only at the end of ``fit``).

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: ``keys`` is not a non-empty sequence of names, or ``every_n_steps`` is
            below 1.

    Example:
        >>> plot = LossPlot("runs/demo/losses.png", keys=["g_total", "d_x", "d_y"])
        >>> plot.keys, plot.steps
        (('g_total', 'd_x', 'd_y'), [])
    """

    def __init__(
        self,
        path: StrPath,
        *,
        keys: Sequence[str] | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        _require_matplotlib()
        self.path = Path(os.fspath(path))
        self.keys = None if keys is None else _check_keys("LossPlot", "keys", keys)
        self.every_n_steps = _check_optional_int("LossPlot", "every_n_steps", every_n_steps, 1)
        self._steps: list[int] = []
        self._losses: dict[str, list[float]] = {}
        self._warned = False
        self._drawn_at: int | None = None

    @property
    def state_key(self) -> str:
        """``"LossPlot[<path>]"``, so several plots can be drawn at once."""
        return f"{type(self).__qualname__}[{self.path}]"

    @property
    def steps(self) -> list[int]:
        """The recorded steps (a copy)."""
        return list(self._steps)

    @property
    def losses(self) -> dict[str, list[float]]:
        """The recorded losses by key, aligned with :attr:`steps` (``nan`` where missing)."""
        return {key: list(values) for key, values in self._losses.items()}

    def state_dict(self) -> dict[str, Any]:
        """Return the history: ``{"steps": [...], "losses": {key: [...]}}``."""
        return {"steps": self.steps, "losses": self.losses}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a history produced by :meth:`state_dict`.

        Args:
            state: The stored state.

        Raises:
            ValueError: A loss series does not have one value per step.
        """
        steps = [int(s) for s in state.get("steps", [])]
        losses = {str(k): [float(v) for v in vals] for k, vals in state.get("losses", {}).items()}
        bad = sorted(key for key, values in losses.items() if len(values) != len(steps))
        if bad:
            raise ValueError(
                f"LossPlot state has {len(steps)} steps but other lengths for the losses {bad}"
            )
        self._steps, self._losses = steps, losses

    def _truncate(self, last_step: int) -> None:
        keep = sum(1 for s in self._steps if s <= last_step)
        if keep < len(self._steps):
            self._steps = self._steps[:keep]
            self._losses = {key: values[:keep] for key, values in self._losses.items()}

    def record(self, step: int, losses: Mapping[str, float]) -> None:
        """Append one point (points at or after ``step`` are replaced).

        Args:
            step: The training step.
            losses: Loss values by key.
        """
        self._truncate(step - 1)
        n = len(self._steps)
        self._steps.append(int(step))
        for key, value in losses.items():
            self._losses.setdefault(key, [math.nan] * n).append(float(value))
        for values in self._losses.values():
            if len(values) == n:
                values.append(math.nan)

    def draw(self) -> Path:
        """Draw the curves recorded so far and write the PNG atomically.

        Returns:
            :attr:`path`.

        Raises:
            OSError: Writing failed (names the file); an existing file is left as it was.
        """
        figure_cls, canvas_cls = _require_matplotlib()
        fig = figure_cls(figsize=(8.0, 6.0), layout="constrained")
        canvas_cls(fig)
        ax_g, ax_d = fig.subplots(2, 1, sharex=True)
        marker = "." if len(self._steps) < 50 else None
        for key in self.keys if self.keys is not None else tuple(self._losses):
            if key in self._losses:
                ax = ax_d if key.startswith("d_") else ax_g
                ax.plot(self._steps, self._losses[key], label=key, linewidth=1.2, marker=marker)
        for ax, title in ((ax_g, "generator losses"), (ax_d, "discriminator losses")):
            ax.set_title(title)
            ax.set_ylabel("loss")
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(loc="upper right", fontsize="small")
        ax_d.set_xlabel("step")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        data = buffer.getvalue()
        return _write_atomic(self.path, lambda f: f.write(data), "LossPlot")

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Drop points after the current step (a resumed run records them again)."""
        self._truncate(trainer.state.step)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Record the losses at log steps; draw every ``every_n_steps`` steps."""
        step = trainer.state.step
        if trainer.is_log_step:
            last = trainer.state.last_losses
            self.record(step, last)
            missing = [k for k in self.keys or () if k not in last]
            if missing and not self._warned:
                self._warned = True
                warnings.warn(
                    f"LossPlot keys {missing} are not among the losses {sorted(last)}",
                    UserWarning,
                    stacklevel=2,
                )
        if self.every_n_steps is not None and step % self.every_n_steps == 0:
            self.draw()
            self._drawn_at = step

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Draw the plot unless this step was just drawn."""
        if self._drawn_at != trainer.state.step:
            self.draw()
        self._drawn_at = None


# ---------------------------------------------------------------------------------------- EMA
class EMA(Callback):
    """Keep an exponential moving average of both generators' weights.

    At every ``every_n_steps``-th step after ``start_step`` the averages are updated,
    ``w_ema = decay * w_ema + (1 - decay) * w`` for every parameter and buffer; the first
    update copies the weights. The averages are :class:`torch.optim.swa_utils.AveragedModel`
    instances (``get_ema_multi_avg_fn(decay)``, ``use_buffers=True``) created from the
    trainer's generators when ``fit`` starts or a checkpoint is loaded, in eval mode and
    without gradients. The update applies the same EMA function to the same tensors as
    ``AveragedModel.update_parameters`` but keeps the averaging count on the host, so it never
    waits for the device.

    Its state (``state_key`` ``"EMA"``) travels in checkpoints, so a resumed run continues the
    same average (bitwise, on the CPU). A checkpoint then holds, under
    ``checkpoint["callbacks"]["EMA"]``: ``"g_xy"`` and ``"g_yx"``, the state dicts of the
    averaged generators with the plain generator keys (load them into a
    :class:`~unpaired_i2i.ResnetGenerator` directly; present once something was averaged),
    ``"n_averaged"`` (int) and the settings ``"decay"``, ``"every_n_steps"`` and
    ``"start_step"``. :func:`~unpaired_i2i.load_cyclegan` uses them by default.
    :class:`SampleGrid` shows the averaged generators once there are any.

    Args:
        decay: Weight of the old average, in ``(0, 1)``.
        every_n_steps: Update every this many steps.
        start_step: Update only after this step (the first update copies the weights).

    Raises:
        ValueError: ``decay`` outside ``(0, 1)``, ``every_n_steps`` below 1 or
            ``start_step`` below 0.

    Example:
        >>> ema = EMA(0.99, every_n_steps=2)
        >>> ema.state_key, ema.n_averaged
        ('EMA', 0)
    """

    def __init__(
        self, decay: float = 0.999, *, every_n_steps: int = 1, start_step: int = 0
    ) -> None:
        if (
            isinstance(decay, bool)
            or not isinstance(decay, int | float)
            or not 0.0 < float(decay) < 1.0
        ):
            raise ValueError(f"EMA decay must be a float in (0, 1); got {decay!r}")
        self.decay = float(decay)
        self.every_n_steps = _check_int("EMA", "every_n_steps", every_n_steps, 1)
        self.start_step = _check_int("EMA", "start_step", start_step, 0)
        self._avg_fn: Callable[..., None] = get_ema_multi_avg_fn(self.decay)  # type: ignore[no-untyped-call]
        self._averaged: tuple[AveragedModel, AveragedModel] | None = None
        self._sources: tuple[nn.Module, nn.Module] | None = None
        self._pending: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"EMA(decay={self.decay}, every_n_steps={self.every_n_steps}, "
            f"start_step={self.start_step})"
        )

    @property
    def state_key(self) -> str:
        """Always ``"EMA"`` (where :func:`~unpaired_i2i.load_cyclegan` looks)."""
        return "EMA"

    @property
    def averaged_models(self) -> tuple[AveragedModel, AveragedModel]:
        """The two :class:`~torch.optim.swa_utils.AveragedModel` (X to Y, Y to X).

        Raises:
            RuntimeError: Neither ``fit`` has started nor a checkpoint has been loaded yet.
        """
        if self._averaged is None:
            raise RuntimeError(
                "EMA has no averaged generators yet: they are created when fit starts or a "
                "checkpoint is loaded"
            )
        return self._averaged

    @property
    def generator_xy(self) -> nn.Module:
        """The averaged X-to-Y generator (``AveragedModel.module``)."""
        module: nn.Module = self.averaged_models[0].module
        return module

    @property
    def generator_yx(self) -> nn.Module:
        """The averaged Y-to-X generator (``AveragedModel.module``)."""
        module: nn.Module = self.averaged_models[1].module
        return module

    @property
    def generators(self) -> tuple[nn.Module, nn.Module]:
        """``(generator_xy, generator_yx)``."""
        return self.generator_xy, self.generator_yx

    @property
    def n_averaged(self) -> int:
        """How many updates the average has had (0: the next update copies the weights)."""
        if self._averaged is None:
            return int(self._pending.get("n_averaged", 0)) if self._pending else 0
        return int(self._averaged[0].n_averaged)  # a CPU tensor: no device sync

    def _settings(self) -> dict[str, Any]:
        return {
            "decay": self.decay,
            "every_n_steps": self.every_n_steps,
            "start_step": self.start_step,
        }

    def state_dict(self) -> dict[str, Any]:
        """Return ``g_xy`` / ``g_yx`` (once averaged), ``n_averaged`` and the settings."""
        if self._averaged is None and self._pending is not None:
            return dict(self._pending)
        n = self.n_averaged
        state: dict[str, Any] = {"n_averaged": n, **self._settings()}
        if n > 0:
            state["g_xy"] = self.generator_xy.state_dict()
            state["g_yx"] = self.generator_yx.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (applied when the models exist).

        Args:
            state: The stored state.

        Raises:
            ValueError: The state counts averages but lacks the weights.
        """
        n = int(state.get("n_averaged", 0))
        if n > 0 and not ("g_xy" in state and "g_yx" in state):
            raise ValueError(
                f"EMA state has n_averaged={n} but lacks the 'g_xy' / 'g_yx' weights; "
                f"got keys {sorted(state)}"
            )
        changed = {
            name: state[name]
            for name, value in self._settings().items()
            if name in state and state[name] != value
        }
        if changed:
            warnings.warn(
                f"EMA state was written with other settings {changed}; continuing with {self!r}",
                UserWarning,
                stacklevel=2,
            )
        self._pending = {**state, "n_averaged": n}
        if self._averaged is not None:
            self._apply_pending()

    def _apply_pending(self) -> None:
        state, self._pending = self._pending, None
        if state is None or self._averaged is None:
            return
        n = int(state["n_averaged"])
        for averaged, key in zip(self._averaged, ("g_xy", "g_yx"), strict=True):
            if n > 0:
                try:
                    averaged.module.load_state_dict(state[key])
                except RuntimeError as err:
                    raise ValueError(
                        f"EMA state {key!r} does not fit the trainer's generator: {err}"
                    ) from err
            averaged.n_averaged.fill_(n)

    def _build(self, trainer: CycleTrainer) -> None:
        sources = (trainer.model.g_xy, trainer.model.g_yx)
        if self._sources is not None and all(
            a is b for a, b in zip(self._sources, sources, strict=True)
        ):
            return
        averaged = tuple(
            AveragedModel(g, multi_avg_fn=self._avg_fn, use_buffers=True) for g in sources
        )
        for model in averaged:
            model.module.eval()
            model.requires_grad_(False)
        self._averaged = (averaged[0], averaged[1])
        self._sources = sources

    @torch.no_grad()
    def update(self) -> None:
        """Fold the generators' current weights into the averages now.

        Raises:
            RuntimeError: The averages do not exist yet.
        """
        averaged_models = self.averaged_models
        assert self._sources is not None
        for averaged, source in zip(averaged_models, self._sources, strict=True):
            ema = [*averaged.module.parameters(), *averaged.module.buffers()]
            live = [*source.parameters(), *source.buffers()]
            if len(ema) != len(live):
                raise RuntimeError(
                    f"EMA: the generator has {len(live)} tensors, its average {len(ema)}"
                )
            if int(averaged.n_averaged) == 0:
                for e, w in zip(ema, live, strict=True):
                    e.copy_(w.detach())
            else:
                groups: dict[tuple[torch.device, torch.dtype], tuple[list[Any], list[Any]]] = {}
                for e, w in zip(ema, live, strict=True):
                    ema_list, live_list = groups.setdefault((e.device, e.dtype), ([], []))
                    ema_list.append(e.detach())
                    live_list.append(w.detach().to(e.device))
                for ema_list, live_list in groups.values():
                    self._avg_fn(ema_list, live_list, averaged.n_averaged)
            averaged.n_averaged += 1

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Create the averages (and apply a restored state)."""
        self._build(trainer)
        self._apply_pending()

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Mapping[str, Any]) -> None:
        """Create the averages and apply the checkpoint's state."""
        self._build(trainer)
        self._apply_pending()

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Update every ``every_n_steps`` steps after ``start_step``."""
        step = trainer.state.step
        if step > self.start_step and step % self.every_n_steps == 0:
            self._build(trainer)
            self.update()


# -------------------------------------------------------------------------- TensorBoardLogger
def _require_tensorboard() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(
            "TensorBoardLogger needs tensorboard: pip install 'unpaired-i2i[tensorboard]'"
        ) from err
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Write losses, learning rate and optionally sample grids to TensorBoard.

    At every log step it adds the scalars ``loss/<key>`` for each loss of
    ``trainer.state.last_losses``, ``train/lr`` (generator optimiser) and
    ``train/images_per_s``, at the global step. With ``log_images_every`` it also adds the image
    ``samples`` (the :func:`translation_grid` of ``images_x`` / ``images_y``, or of the first
    images of the current batch when none are given; an :class:`EMA`'s generators are used like
    in :class:`SampleGrid`). A :class:`torch.utils.tensorboard.SummaryWriter` is opened when
    ``fit`` starts (after a resume with ``purge_step`` set, so events the interrupted run wrote
    after its checkpoint are hidden) and closed when ``fit`` ends or raises.

    Needs the ``tensorboard`` extra.

    Args:
        log_dir: The run's folder.
        log_images_every: Add the sample grid every this many steps (0: never).
        images_x: Fixed images of domain X for the grid ``(N, C, H, W)`` in ``[-1, 1]``.
        images_y: Fixed images of domain Y (give both or neither).

    Raises:
        ImportError: tensorboard is not installed.
        ValueError: ``log_images_every`` is negative, or only one of the image sets is given.
        ShapeError: The images have invalid shapes (see :class:`SampleGrid`).

    Example:
        >>> logger = TensorBoardLogger("runs/demo/tb")  # doctest: +SKIP
    """

    def __init__(
        self,
        log_dir: StrPath,
        *,
        log_images_every: int = 0,
        images_x: torch.Tensor | None = None,
        images_y: torch.Tensor | None = None,
    ) -> None:
        _require_tensorboard()
        self.log_dir = Path(os.fspath(log_dir))
        self.log_images_every = _check_int(
            "TensorBoardLogger", "log_images_every", log_images_every, 0
        )
        if (images_x is None) != (images_y is None):
            raise ValueError(
                "TensorBoardLogger needs both images_x and images_y or neither; got "
                f"images_x={'a tensor' if images_x is not None else None}, "
                f"images_y={'a tensor' if images_y is not None else None}"
            )
        self.images_x: torch.Tensor | None = None
        self.images_y: torch.Tensor | None = None
        if images_x is not None and images_y is not None:
            self.images_x = _check_images("TensorBoardLogger", "images_x", images_x)
            self.images_y = _check_images("TensorBoardLogger", "images_y", images_y)
            _check_image_pair("TensorBoardLogger", self.images_x, self.images_y)
        self._writer: Any = None
        self._speed = _Throughput()

    @property
    def state_key(self) -> str:
        """``"TensorBoardLogger[<log_dir>]"``."""
        return f"{type(self).__qualname__}[{self.log_dir}]"

    @property
    def writer(self) -> Any:
        """The open ``SummaryWriter`` during ``fit`` (add your own events to it), else ``None``."""
        return self._writer

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Open the writer (purging events after the current step on a resume)."""
        summary_writer = _require_tensorboard()
        self._close()
        self._speed.reset()
        step = trainer.state.step
        self._writer = summary_writer(
            log_dir=str(self.log_dir), purge_step=step + 1 if step > 0 else None
        )

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Start the throughput clock at the first step."""
        self._speed.step_start()

    def _grid(self, trainer: CycleTrainer, batch: Any) -> torch.Tensor:
        images_x, images_y = self.images_x, self.images_y
        if images_x is None or images_y is None:
            real_x, real_y = trainer.unpack_batch(batch)
            images_x = real_x[:_TB_MAX_BATCH_IMAGES].detach()
            images_y = real_y[:_TB_MAX_BATCH_IMAGES].detach()
        g_xy, g_yx = _sample_generators(trainer)
        return translation_grid(g_xy, g_yx, images_x, images_y)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Add the scalars at log steps and the sample grid every ``log_images_every`` steps."""
        writer = self._writer
        if writer is None:
            return
        self._speed.add(_batch_images(trainer, batch))
        step = trainer.state.step
        if trainer.is_log_step:
            for key, value in trainer.state.last_losses.items():
                writer.add_scalar(f"loss/{key}", value, step)
            writer.add_scalar("train/lr", _lr(trainer), step)
            writer.add_scalar("train/images_per_s", self._speed.rate(), step)
        if self.log_images_every and step % self.log_images_every == 0:
            writer.add_image("samples", self._grid(trainer, batch), step)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Close the writer."""
        self._close()

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Close the writer."""
        self._close()
