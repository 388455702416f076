"""The :class:`ModelCheckpoint` callback: numbered checkpoints, the newest kept, and ``last.pt``."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from unpaired_i2i._checks import check_bool, check_int
from unpaired_i2i._io import StrPath, leftover_temps
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.checkpoint import replace_with_copy

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save training checkpoints to a folder: numbered files, the newest kept, and ``last.pt``.

    Each save writes ``step-XXXXXXXX.pt`` (the global step, 8 digits) through
    :meth:`CycleTrainer.save_checkpoint`, deletes the oldest numbered files this callback wrote
    beyond ``keep_last``, and atomically replaces ``last.pt`` with the new file (a hard link
    where possible). Saves happen every ``every_n_steps`` steps, at the end of every
    ``every_n_epochs``-th completed epoch, and when ``fit`` ends (after the last step or a stop)
    unless that position was just saved. A failed save (including a non-finite model, see
    :class:`NonFiniteLossError`) leaves every earlier file untouched. Resume with
    ``trainer.load_checkpoint(folder / "last.pt")``. The trainer calls it after its other
    callbacks (:attr:`Callback.writes_checkpoints`), so a checkpoint holds their state after the
    step it is written at, wherever the callback stands in the list.

    Under ``torchrun`` every rank takes the same decisions (they depend only on the step and
    epoch) and calls :meth:`CycleTrainer.save_checkpoint`, a collective that only rank 0 writes;
    the folder, ``last.pt`` and the deletion of old files are handled on rank 0 alone, while the
    list of kept files (this callback's state) is kept identical on every rank.

    A process killed while writing leaves the unfinished file under a hidden temporary name
    (``.last.pt.<hex>.tmp``; the checkpoints themselves are intact). When ``fit`` starts, rank 0
    deletes such files in :attr:`dirpath` and warns how many and how large they were, so
    repeated kills do not fill the disk. So give each run its own folder: a run would delete
    the unfinished write of another run saving into the same folder at that moment.

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

    writes_checkpoints = True

    def __init__(
        self,
        dirpath: StrPath,
        *,
        every_n_steps: int = 0,
        every_n_epochs: int = 1,
        keep_last: int = 3,
        save_last: bool = True,
    ) -> None:
        self.dirpath = Path(os.fspath(dirpath))
        self.every_n_steps = check_int("ModelCheckpoint every_n_steps", every_n_steps, 0)
        self.every_n_epochs = check_int("ModelCheckpoint every_n_epochs", every_n_epochs, 0)
        self.keep_last = check_int("ModelCheckpoint keep_last", keep_last, 0)
        check_bool("ModelCheckpoint save_last", save_last)
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

        Under ``torchrun`` call it on every rank at the same step: every rank takes part in
        :meth:`CycleTrainer.save_checkpoint`; only rank 0 updates ``last.pt`` and deletes
        files.

        Args:
            trainer: The trainer.

        Returns:
            The path written (the numbered file, or ``last.pt`` when ``keep_last=0``), on
            every rank.

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
        writes = trainer.is_global_zero
        try:
            trainer.save_checkpoint(path)
            if self.save_last and writes:
                replace_with_copy(path, self.last_path)
        except BaseException:
            self._saved, self._last_saved = previous
            raise
        if not writes:
            return path
        for old in dropped:
            with contextlib.suppress(FileNotFoundError):
                (self.dirpath / old).unlink()
        return path

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Delete the unfinished files a killed run left in :attr:`dirpath` (rank 0)."""
        if not trainer.is_global_zero:
            return
        removed, size = [], 0
        for tmp in leftover_temps(self.dirpath):
            with contextlib.suppress(FileNotFoundError):
                size += tmp.stat().st_size
                tmp.unlink()
                removed.append(tmp.name)
        if removed:
            warnings.warn(
                f"ModelCheckpoint: deleted {len(removed)} unfinished checkpoint file(s) "
                f"({size / 2**20:.1f} MiB) that a killed run left in {self.dirpath}: {removed}",
                stacklevel=2,
            )

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
