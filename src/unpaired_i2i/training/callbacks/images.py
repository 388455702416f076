"""Images of a run: :func:`translation_grid`, :class:`SampleGrid` (PNG grids) and :class:`LossPlot`.

Also the grid's optional labels (column headers and row directions, drawn with PIL's default
font) and the choice of the generators to show (an :class:`EMA`'s once it has averaged).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn
from torchvision.utils import make_grid, save_image

from unpaired_i2i._checks import check_bool, check_int, check_optional_int
from unpaired_i2i._io import StrPath, copy_atomic
from unpaired_i2i._modules import device_and_dtype, eval_mode
from unpaired_i2i.training.callbacks._common import (
    check_image_pair,
    check_images,
    check_keys,
    write_file,
)
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.ema import EMA

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["LossPlot", "SampleGrid", "translation_grid"]

_PAD = 2  # make_grid padding around every tile
_MARGIN = 3  # space around label text, in pixels
# Column headers, longest first: the first set whose every name fits in a tile's width is drawn.
_HEADERS: tuple[tuple[str, str, str], ...] = (
    ("real", "translated", "reconstructed"),
    ("real", "transl.", "recon."),
    ("real", "fake", "rec"),
)


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` in ``[-1, 1]`` to float32 CPU in ``[0, 1]`` with 3 channels if C is 1."""
    out = images.detach().to("cpu", torch.float32)
    if out.shape[1] == 1:
        out = out.expand(-1, 3, -1, -1)
    return ((out + 1.0) / 2.0).clamp(0.0, 1.0)


def _check_names(owner: str, names: object) -> tuple[str, str]:
    if (
        not isinstance(names, Sequence)
        or isinstance(names, str)
        or len(names) != 2
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise ValueError(f"{owner} names must be two non-empty strings (X, Y); got {names!r}")
    return names[0], names[1]


def _text_width(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return math.ceil(right - left)


def _label_grid(
    grid: torch.Tensor,
    *,
    tile: tuple[int, int],
    n_x: int,
    n_y: int,
    nrow: int,
    names: tuple[str, str],
) -> torch.Tensor:
    """Add a header band (tile kinds) above and a label column (directions) left of a grid.

    The grid's own pixels are copied unchanged into the bottom-right corner; the labels are
    white text on black (the padding colour), drawn with ``ImageFont.load_default()``.
    """
    h, w = tile
    tiles = 3 * (n_x + n_y)
    columns = min(nrow, tiles)  # as make_grid lays them out
    rows = math.ceil(tiles / columns)
    font = ImageFont.load_default()
    _, top, _, bottom = font.getbbox("Ag->|")
    line = math.ceil(bottom - top)  # ink height; text drawn at y has its ink from y + top
    band = line + 2 * _MARGIN
    directions = (f"{names[0]}->{names[1]}", f"{names[1]}->{names[0]}")
    row_labels = []
    for r in range(rows):
        first, stop = r * columns, min(tiles, (r + 1) * columns)
        kinds = {0 if i // 3 < n_x else 1 for i in range(first, stop)}  # triple i // 3
        row_labels.append(" / ".join(directions[k] for k in sorted(kinds)))
    margin = max(_text_width(font, text) for text in row_labels) + 2 * _MARGIN
    height, width = band + grid.shape[1], margin + grid.shape[2]

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    cell = w + _PAD
    headers = next(
        (s for s in _HEADERS if max(_text_width(font, t) for t in s) <= cell - _PAD),
        None,
    )
    if columns % 3 == 0 and headers is not None:
        for c in range(columns):
            text = headers[c % 3]
            x = margin + _PAD + c * cell + (w - _text_width(font, text)) // 2
            draw.text((x, _MARGIN - top), text, fill=255, font=font)
    else:  # tiles too narrow for names (or triples wrap rows): one line over the whole width
        lines = [" | ".join(s) for s in _HEADERS]
        room = width - 2 * _MARGIN
        text = next((t for t in lines if _text_width(font, t) <= room), lines[-1])
        draw.text((_MARGIN, _MARGIN - top), text, fill=255, font=font)
    for r, text in enumerate(row_labels):
        y = band + _PAD + r * (h + _PAD) + (h - line) // 2 - top
        draw.text((_MARGIN, y), text, fill=255, font=font)

    ink = torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8).view(height, width)
    out = (ink.float() / 255.0).expand(3, -1, -1).clone()
    out[:, band:, margin:] = grid
    return out


def translation_grid(
    g_xy: nn.Module,
    g_yx: nn.Module,
    images_x: torch.Tensor,
    images_y: torch.Tensor,
    *,
    nrow: int | None = None,
    labels: bool = False,
    names: tuple[str, str] = ("X", "Y"),
) -> torch.Tensor:
    """Render the translations of fixed images as one image grid (for samples and loggers).

    Rows: ``real_x | g_xy(x) | g_yx(g_xy(x))`` for each ``x``, then
    ``real_y | g_yx(y) | g_xy(g_yx(y))`` for each ``y`` (three tiles per row unless ``nrow``
    says otherwise), made with :func:`torchvision.utils.make_grid` (padding 2). The generators
    run under :func:`torch.inference_mode` in eval mode and every submodule gets its previous
    mode back. Images are moved to the device and dtype of each generator.

    With ``labels=True`` the grid gets a header band on top naming the columns (``real``,
    ``translated``, ``reconstructed``; shorter names when the tiles are narrow, and one line
    ``real | translated | reconstructed`` when the tiles per row are not a multiple of 3) and a
    label column on the left saying each row's direction (``X->Y`` or ``Y->X`` with
    ``names``). The labels are drawn with PIL's default font; the grid's pixels are unchanged.

    Args:
        g_xy: Generator X to Y.
        g_yx: Generator Y to X.
        images_x: Images of domain X.
        images_y: Images of domain Y (same H and W).
        nrow: Tiles per grid row (default 3: one translation triple per row).
        labels: Add the header band and the row labels.
        names: Names of the domains X and Y in the row labels.

    Returns:
        The grid, float32 on the CPU, values in ``[0, 1]``.

    Raises:
        ValueError: ``labels`` is not a bool or ``names`` not two non-empty strings.

    Shape:
        - images_x: ``(N, C_x, H, W)`` in ``[-1, 1]``; images_y: ``(M, C_y, H, W)``.
        - Output: ``(3, rows * (H + 2) + 2, nrow * (W + 2) + 2)`` with
          ``rows = ceil(3 * (N + M) / nrow)``; one-channel tiles are repeated to three.
          With ``labels=True``: ``(3, B + rows * (H + 2) + 2, L + nrow * (W + 2) + 2)``, the
          unlabelled grid in the bottom-right corner below a band of ``B`` rows (one line of
          text) and right of ``L`` columns (as wide as the longest row label).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> grid = translation_grid(nn.Identity(), nn.Identity(), torch.zeros(2, 3, 8, 8),
        ...     torch.zeros(1, 3, 8, 8))
        >>> tuple(grid.shape)
        (3, 32, 32)
        >>> labelled = translation_grid(nn.Identity(), nn.Identity(), torch.zeros(2, 3, 8, 8),
        ...     torch.zeros(1, 3, 8, 8), labels=True)
        >>> labelled.shape[1] > 32 and labelled.shape[2] > 32
        True
        >>> torch.equal(labelled[:, -32:, -32:], grid)
        True
    """
    check_bool("translation_grid labels", labels)
    names = _check_names("translation_grid", names)
    with eval_mode(g_xy, g_yx), torch.inference_mode():
        x = images_x.to(*device_and_dtype(g_xy, default_device=images_x.device))
        y = images_y.to(*device_and_dtype(g_yx, default_device=images_y.device))
        fake_y: torch.Tensor = g_xy(x)
        rec_x: torch.Tensor = g_yx(fake_y)
        fake_x: torch.Tensor = g_yx(y)
        rec_y: torch.Tensor = g_xy(fake_x)
        rows = [
            torch.stack([_to_unit(a), _to_unit(b), _to_unit(c)], dim=1).flatten(0, 1)
            for a, b, c in ((x, fake_y, rec_x), (y, fake_x, rec_y))
        ]
        grid: torch.Tensor = make_grid(torch.cat(rows), nrow=nrow or 3, padding=_PAD)
    grid = grid.clone()
    if not labels:
        return grid
    return _label_grid(
        grid,
        tile=(int(images_x.shape[2]), int(images_x.shape[3])),
        n_x=int(images_x.shape[0]),
        n_y=int(images_y.shape[0]),
        nrow=nrow or 3,
        names=names,
    )


def sample_generators(trainer: CycleTrainer) -> tuple[nn.Module, nn.Module]:
    """The generators to show: an :class:`EMA`'s averaged ones once it has averaged."""
    for cb in trainer.callbacks:
        if isinstance(cb, EMA) and cb.n_averaged > 0:
            return cb.generators
    return trainer.model.g_xy, trainer.model.g_yx


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
    least once, its averaged generators are shown. Under ``torchrun`` only rank 0
    (:attr:`CycleTrainer.is_global_zero`) renders and writes; the other ranks do nothing.

    Args:
        dirpath: Folder of the images (created when first needed).
        images_x: Fixed images of domain X, kept on the CPU and moved to the generators'
            device when used.
        images_y: Fixed images of domain Y.
        every_n_steps: Write every this many steps.
        nrow: Tiles per grid row (default 3, one translation triple per row).
        labels: Label the grid: column headers (``real``, ``translated``,
            ``reconstructed``) in a band on top and each row's direction (``X->Y``,
            ``Y->X``) in a column on the left (see :func:`translation_grid`).
        names: Names of the domains X and Y in the row labels, e.g. ``("horse", "zebra")``.

    Raises:
        TypeError: The images are not floating-point tensors.
        ShapeError: The images are not ``(N, C, H, W)``, or X and Y differ in ``H``/``W`` (or
            in channels, other than 1 and 3).
        ValueError: Values outside ``[-1, 1]``, ``every_n_steps`` / ``nrow`` below 1,
            ``labels`` not a bool or ``names`` not two non-empty strings.

    Shape:
        - images_x: ``(N, C_x, H, W)`` in ``[-1, 1]``; images_y: ``(M, C_y, H, W)``.
        - The PNG: ``rows * (H + 2) + 2`` by ``nrow * (W + 2) + 2`` pixels,
          ``rows = ceil(3 * (N + M) / nrow)``; with ``labels`` a band of one text line above
          and a column as wide as the longest row label on the left come in addition.

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
        labels: bool = True,
        names: tuple[str, str] = ("X", "Y"),
    ) -> None:
        self.dirpath = Path(os.fspath(dirpath))
        self.images_x = check_images("SampleGrid", "images_x", images_x)
        self.images_y = check_images("SampleGrid", "images_y", images_y)
        check_image_pair("SampleGrid", self.images_x, self.images_y)
        self.every_n_steps = check_int("SampleGrid every_n_steps", every_n_steps, 1)
        self.nrow = check_optional_int("SampleGrid nrow", nrow, 1)
        self.labels = check_bool("SampleGrid labels", labels)
        self.names = _check_names("SampleGrid", names)
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
            The grid ``(3, H', W')`` as written to the PNG (labelled if :attr:`labels`),
            float32 on the CPU, in ``[0, 1]``.
        """
        g_xy, g_yx = sample_generators(trainer)
        return translation_grid(
            g_xy,
            g_yx,
            self.images_x,
            self.images_y,
            nrow=self.nrow,
            labels=self.labels,
            names=self.names,
        )

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
        write_file(path, lambda f: save_image(grid, f, format="png"), "SampleGrid")
        try:
            copy_atomic(path, self.latest_path)
        except OSError as err:
            raise OSError(f"SampleGrid cannot update {self.latest_path}: {err}") from err
        self.last_path = path
        self._last_step = step
        return path

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Render once on rank 0 (nothing is written) so that rejected images fail now."""
        if trainer.is_global_zero:
            self.render(trainer)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Write a grid every ``every_n_steps`` steps (rank 0)."""
        if trainer.is_global_zero and trainer.state.step % self.every_n_steps == 0:
            self.save(trainer)

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Write the final grid unless this step was just written (rank 0)."""
        if trainer.is_global_zero and self._last_step != trainer.state.step:
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
    interactive session's backend and figures are untouched, and written atomically. Under
    ``torchrun`` every rank records the (rank-averaged) losses, so the state is the same
    everywhere, but only rank 0 (:attr:`CycleTrainer.is_global_zero`) warns and draws.

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
        self.keys = None if keys is None else check_keys("LossPlot", "keys", keys)
        self.every_n_steps = check_optional_int("LossPlot every_n_steps", every_n_steps, 1)
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
        return write_file(self.path, lambda f: f.write(data), "LossPlot")

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Drop points after the current step (a resumed run records them again)."""
        self._truncate(trainer.state.step)

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Record the losses at log steps; draw every ``every_n_steps`` steps (rank 0)."""
        step = trainer.state.step
        if trainer.is_log_step:
            last = trainer.state.last_losses
            self.record(step, last)
            missing = [k for k in self.keys or () if k not in last]
            if missing and not self._warned and trainer.is_global_zero:
                self._warned = True
                warnings.warn(
                    f"LossPlot keys {missing} are not among the losses {sorted(last)}",
                    UserWarning,
                    stacklevel=2,
                )
        if not trainer.is_global_zero:
            return
        if self.every_n_steps is not None and step % self.every_n_steps == 0:
            self.draw()
            self._drawn_at = step

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Draw the plot unless this step was just drawn (rank 0)."""
        if trainer.is_global_zero and self._drawn_at != trainer.state.step:
            self.draw()
        self._drawn_at = None
