"""Metric loggers: :class:`MetricsLogger` (CSV or JSON lines) and :class:`TensorBoardLogger`."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

import torch

from unpaired_i2i._checks import check_int
from unpaired_i2i._io import StrPath
from unpaired_i2i.training.callbacks._common import (
    Throughput,
    batch_images,
    check_image_pair,
    check_images,
    generator_lr,
    write_file,
)
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.images import sample_generators, translation_grid

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["MetricsFormat", "MetricsLogger", "TensorBoardLogger"]

MetricsFormat: TypeAlias = Literal["csv", "jsonl"]
"""File format of :class:`MetricsLogger`: CSV with a header, or one JSON object per line."""

_SUFFIX_FORMATS: dict[str, MetricsFormat] = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
_TB_MAX_BATCH_IMAGES = 4


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

    Under ``torchrun`` only rank 0 (:attr:`CycleTrainer.is_global_zero`) touches the file; the
    losses it writes are already averaged across ranks. Every rank keeps the clock, so the
    state is the same everywhere.

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
        self._speed = Throughput()

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
            write_file(path, lambda f: f.write(data), "MetricsLogger")
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
        """Drop rows after the current step (rank 0) and start the clocks."""
        self._close()
        self._speed.reset()
        self._fields = self._prepare(trainer.state.step) if trainer.is_global_zero else None
        self._fit_start = time.perf_counter()

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        """Start the throughput clock at the first step."""
        self._speed.step_start()

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Write a row at log steps (rank 0)."""
        if not trainer.is_global_zero:
            return
        self._speed.add(batch_images(trainer, batch))
        if not trainer.is_log_step:
            return
        state = trainer.state
        row: dict[str, Any] = {
            "step": state.step,
            "epoch": state.epoch,
            "lr": generator_lr(trainer),
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
    after its checkpoint are hidden) and closed when ``fit`` ends or raises. Under ``torchrun``
    only rank 0 (:attr:`CycleTrainer.is_global_zero`) opens a writer and renders grids; the
    other ranks do nothing.

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
        self.log_images_every = check_int("TensorBoardLogger log_images_every", log_images_every, 0)
        if (images_x is None) != (images_y is None):
            raise ValueError(
                "TensorBoardLogger needs both images_x and images_y or neither; got "
                f"images_x={'a tensor' if images_x is not None else None}, "
                f"images_y={'a tensor' if images_y is not None else None}"
            )
        self.images_x: torch.Tensor | None = None
        self.images_y: torch.Tensor | None = None
        if images_x is not None and images_y is not None:
            self.images_x = check_images("TensorBoardLogger", "images_x", images_x)
            self.images_y = check_images("TensorBoardLogger", "images_y", images_y)
            check_image_pair("TensorBoardLogger", self.images_x, self.images_y)
        self._writer: Any = None
        self._speed = Throughput()

    @property
    def state_key(self) -> str:
        """``"TensorBoardLogger[<log_dir>]"``."""
        return f"{type(self).__qualname__}[{self.log_dir}]"

    @property
    def writer(self) -> Any:
        """The open ``SummaryWriter`` during ``fit`` (add your own events to it), else ``None``.

        Always ``None`` on ranks other than 0.
        """
        return self._writer

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Open the writer on rank 0 (purging events after the current step on a resume)."""
        self._close()
        self._speed.reset()
        if not trainer.is_global_zero:
            return
        summary_writer = _require_tensorboard()
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
        g_xy, g_yx = sample_generators(trainer)
        return translation_grid(g_xy, g_yx, images_x, images_y)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Add the scalars at log steps and the sample grid every ``log_images_every`` steps."""
        writer = self._writer
        if writer is None:
            return
        self._speed.add(batch_images(trainer, batch))
        step = trainer.state.step
        if trainer.is_log_step:
            for key, value in trainer.state.last_losses.items():
                writer.add_scalar(f"loss/{key}", value, step)
            writer.add_scalar("train/lr", generator_lr(trainer), step)
            writer.add_scalar("train/images_per_s", self._speed.rate(), step)
        if self.log_images_every and step % self.log_images_every == 0:
            writer.add_image("samples", self._grid(trainer, batch), step)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Close the writer."""
        self._close()

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Close the writer."""
        self._close()
