"""The :class:`Callback` base class: the trainer's hooks, each a typed no-op.

This module depends on nothing above it (``CycleTrainer`` is imported for type checking only),
so the trainer can import it without importing any built-in callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["Callback"]


class Callback:
    """Base class of trainer callbacks: every hook is a typed no-op; override the ones you need.

    Hooks receive the trainer first and run in the order the trainer's ``callbacks`` are listed
    (checkpoint writers last, see below):

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

    Callbacks that write checkpoints from their hooks (:attr:`writes_checkpoints`, e.g.
    :class:`~unpaired_i2i.ModelCheckpoint`) are called after all the others, whatever their
    place in the list, so that a checkpoint written at the end of a step holds the state every
    other callback reached at that step (an :class:`~unpaired_i2i.EMA` listed after a
    :class:`~unpaired_i2i.ModelCheckpoint` has already folded that step in); among themselves,
    and among the others, the list's order holds.

    Under ``torchrun`` (several processes, see :attr:`CycleTrainer.world_size`) every rank runs
    every hook, with the same ``trainer.state``. Check :attr:`CycleTrainer.is_global_zero`
    (``True`` on rank 0 and in a single process) before writing files or printing, so that one
    process does it; keep state you checkpoint in step on every rank, as rank 0's copy is the
    one saved and every rank loads it on resume. :meth:`CycleTrainer.save_checkpoint` is a
    collective there: a hook that calls it must do so on every rank at the same step (only
    rank 0 writes the file).

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

    #: Whether this callback writes checkpoints from its hooks. The trainer calls such
    #: callbacks after all others, so their checkpoints see the other callbacks' state after
    #: the same hook (see above). :class:`~unpaired_i2i.ModelCheckpoint` sets it; so should a
    #: callback of yours that calls :meth:`CycleTrainer.save_checkpoint`.
    writes_checkpoints: ClassVar[bool] = False

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

    def inference_generator(self, trainer: CycleTrainer, direction: str) -> nn.Module | None:
        """Offer a generator to evaluate and export instead of the trained one (default: none).

        :meth:`CycleTrainer.inference_generator` asks every callback, last first, and takes
        the first module offered; :class:`~unpaired_i2i.EMA` offers its averaged weights.

        Args:
            trainer: The trainer.
            direction: ``"xy"`` (X to Y) or ``"yx"`` (Y to X).

        Returns:
            A generator mapping ``(N, C, H, W)`` in ``[-1, 1]`` to the other domain, or ``None``.
        """
        return None

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
