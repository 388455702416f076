"""Callbacks: the :class:`Callback` hook base class and the built-in :class:`ModelCheckpoint`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from unpaired_i2i.training.checkpoint import replace_with_copy

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["Callback", "ModelCheckpoint"]


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
