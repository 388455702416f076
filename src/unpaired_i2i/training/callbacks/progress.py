"""The :class:`ProgressBar` callback: a tqdm bar on a terminal, plain progress lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

import torch

from unpaired_i2i._checks import check_bool, check_float, check_optional_int
from unpaired_i2i.training.callbacks._common import (
    MAIN_LOSS_KEYS,
    Throughput,
    batch_images,
    check_keys,
)
from unpaired_i2i.training.callbacks.base import Callback

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["ProgressBar"]

_BAR_KEYS: tuple[str, ...] = ("g_total", "d_x", "d_y")
# tqdm's default layout without the step rate (the postfix has img/s): keeps room for the bar.
_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


def _short(value: float) -> str:
    """A number in at most 3 significant digits (``1.23``, ``0.0456``, ``1.2e+03``)."""
    return f"{value:.3g}"


def _rate(value: float) -> str:
    """Images per second: whole numbers from 100 on, else 3 significant digits."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _hms(seconds: float) -> str:
    """Seconds as ``H:MM:SS``."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class ProgressBar(Callback):
    """Show training progress: a :mod:`tqdm` bar on a terminal, plain lines in a log file.

    On a terminal it draws a bar over steps, counted from ``trainer.state.step`` (so a resumed
    run continues where it stopped) to a total known in advance where possible:
    ``state.max_steps`` and/or ``len(data)`` per epoch times the remaining epochs, the smaller
    of the two (``None``, an open-ended bar, when neither is known). Its description is
    ``epoch E/N`` (1-based). At log steps the postfix shows the latest losses of ``bar_keys``
    from ``trainer.state.last_losses`` in 3 significant digits and the throughput in images per
    second (``x`` and ``y`` images, timed between log steps); the short postfix and the layout
    without tqdm's step rate leave the bar room in a 120-column terminal.

    When the output is not a terminal (a log file, a cluster job), it writes a plain line
    instead, every ``every_n_steps`` steps and whenever ``every_n_seconds`` have passed since
    the previous line (whichever comes first), and a last one when ``fit`` ends::

        epoch 3/200 step 1200/240000 (0.5%) 12.3 img/s g_total 1.23 cycle_x 0.456 ... eta 1:02:03

    with the images per second since the previous line, the latest losses of ``keys`` (those of
    the latest log step) and the remaining time at the average speed of this ``fit`` (percent
    and ``eta`` only when the total is known). Neither form reads the loss tensors, so it adds
    no device synchronisation. The bar closes when ``fit`` ends or raises. Under ``torchrun``
    only rank 0 shows progress (:attr:`CycleTrainer.is_global_zero`); the other ranks show
    nothing.

    Args:
        leave: Keep the finished bar on screen.
        file: Stream to write to (default: ``sys.stderr`` as it is when ``fit`` starts).
        disable: ``True`` shows nothing; ``False`` always draws the bar, also off a terminal;
            ``None`` draws the bar on a terminal and writes plain lines otherwise.
        keys: Loss keys of the plain lines (those missing from the losses are skipped).
        bar_keys: Loss keys of the bar's postfix.
        every_n_steps: Plain lines: write one every this many steps (``None``: no step rule).
        every_n_seconds: Plain lines: write one once this many seconds have passed since the
            previous line or the start of ``fit`` (``None``: no time rule).

    Raises:
        ValueError: An option has an invalid value.

    Example:
        >>> bar = ProgressBar(disable=True)
        >>> bar.keys
        ('g_total', 'cycle_x', 'cycle_y', 'd_x', 'd_y')
        >>> bar.bar_keys, bar.every_n_steps, bar.every_n_seconds
        (('g_total', 'd_x', 'd_y'), None, 30.0)
    """

    def __init__(
        self,
        *,
        leave: bool = True,
        file: IO[str] | None = None,
        disable: bool | None = None,
        keys: Sequence[str] = MAIN_LOSS_KEYS,
        bar_keys: Sequence[str] = _BAR_KEYS,
        every_n_steps: int | None = None,
        every_n_seconds: float | None = 30.0,
    ) -> None:
        self.leave = check_bool("ProgressBar leave", leave)
        if disable is not None:
            check_bool("ProgressBar disable", disable)
        self.disable = disable
        self.file = file
        self.keys = check_keys("ProgressBar", "keys", keys)
        self.bar_keys = check_keys("ProgressBar", "bar_keys", bar_keys)
        self.every_n_steps = check_optional_int("ProgressBar every_n_steps", every_n_steps, 1)
        self.every_n_seconds = (
            None
            if every_n_seconds is None
            else check_float(
                "ProgressBar every_n_seconds",
                every_n_seconds,
                expected="None or a finite float > 0",
                ok=lambda v: v > 0,
            )
        )
        self._bar: Any = None
        self._speed = Throughput()
        self._clock: Callable[[], float] = time.monotonic  # the plain lines' clock
        self._stream: IO[str] | None = None  # set while plain lines are written
        self._total: int | None = None
        self._fit_start = (0.0, 0)  # clock and step when fit started
        self._line_start = 0.0  # clock at the previous line (or fit start)
        self._line_images = 0  # images since then
        self._line_step: int | None = None  # step of the previous line

    @property
    def bar(self) -> Any:
        """The live ``tqdm`` instance during ``fit`` (also a disabled one), else ``None``.

        Always ``None`` on ranks other than 0, which show nothing.
        """
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
        self._stream = None
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Open the bar at the current step, or start the clock of the plain lines (rank 0)."""
        self._close()
        self._speed.reset()
        if not trainer.is_global_zero:
            return
        self._total = self.total_steps(trainer)
        stream = self.file if self.file is not None else sys.stderr
        if self.disable is None and not _is_terminal(stream):
            now = self._clock()
            self._stream = stream
            self._fit_start = (now, trainer.state.step)
            self._line_start, self._line_images, self._line_step = now, 0, None
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self._total,
            initial=trainer.state.step,
            desc=self._describe(trainer),
            leave=self.leave,
            file=stream,
            disable=bool(self.disable),
            unit="step",
            bar_format=_BAR_FORMAT if self._total is not None else None,
        )

    def on_epoch_start(self, trainer: CycleTrainer) -> None:
        """Show the new epoch in the description."""
        if self._bar is not None:
            self._bar.set_description(self._describe(trainer), refresh=False)

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Start the throughput clock at the first step."""
        self._speed.step_start()

    def _postfix(self, trainer: CycleTrainer) -> dict[str, str]:
        """The bar's postfix: ``bar_keys`` of the latest losses and ``img/s``, 3 digits each.

        Reads the throughput clock (call it at log steps only).

        Args:
            trainer: The trainer.

        Returns:
            Texts by key, in display order.
        """
        last = trainer.state.last_losses
        postfix = {key: _short(last[key]) for key in self.bar_keys if key in last}
        postfix["img/s"] = _rate(self._speed.rate())
        return postfix

    def _line(self, trainer: CycleTrainer) -> str:
        """The plain progress line of the current step (see the class description).

        Reads the line clock: the next line's images per second count from here.

        Args:
            trainer: The trainer.

        Returns:
            The line, without a newline.
        """
        state = trainer.state
        now = self._clock()
        parts = [self._describe(trainer)]
        total = self._total
        if total:
            parts.append(f"step {state.step}/{total} ({100.0 * state.step / total:.1f}%)")
        else:
            parts.append(f"step {state.step}")
        elapsed = now - self._line_start
        if elapsed > 0:
            parts.append(f"{_rate(self._line_images / elapsed)} img/s")
        last = state.last_losses
        parts.extend(f"{key} {_short(last[key])}" for key in self.keys if key in last)
        start_time, start_step = self._fit_start
        done = state.step - start_step
        if total and done > 0 and now > start_time:
            parts.append(f"eta {_hms((total - state.step) * (now - start_time) / done)}")
        self._line_start, self._line_images, self._line_step = now, 0, state.step
        return " ".join(parts)

    def _write_line(self, trainer: CycleTrainer) -> None:
        if self._stream is not None:
            print(self._line(trainer), file=self._stream, flush=True)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Advance the bar (postfix at log steps), or write a plain line when one is due."""
        if self._stream is not None:
            self._line_images += batch_images(trainer, batch)
            step = trainer.state.step
            by_steps = self.every_n_steps is not None and step % self.every_n_steps == 0
            by_time = (
                self.every_n_seconds is not None
                and self._clock() - self._line_start >= self.every_n_seconds
            )
            if by_steps or by_time:
                self._write_line(trainer)
            return
        if self._bar is None or self._bar.disable:
            return
        self._speed.add(batch_images(trainer, batch))
        if trainer.is_log_step:
            self._bar.set_postfix(self._postfix(trainer), refresh=False)
        self._bar.update(1)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Write the last plain line (unless this step has one) and close the bar."""
        if self._line_step != trainer.state.step:
            self._write_line(trainer)
        self._close()

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Close the bar."""
        self._close()
