"""Translate images of any size in overlapping tiles, as one whole-image run would.

A generator's memory grows with the image: the CycleGAN generator holds several 64-channel
full-resolution feature maps, each 3 GB for a 12-megapixel photo in float32. Tiling bounds it:
each tile, with a halo of ``overlap`` pixels of context on every side, runs on its own, and only
the tile's own region (its *core*) of the result is kept. The cores partition the image.

Convolutions only look at nearby pixels, so the halo absorbs the difference at a tile's inner
edges. Normalisation layers that pool over the whole image do not: an ``InstanceNorm2d`` of the
whole image normalises by the mean and variance of the whole image, not of one tile (per-tile
statistics give a relative mean difference of 0.6 to 0.85 to the whole-image output of the
9-block CycleGAN generator). :func:`translate_tiled` therefore gathers **exact whole-image
statistics tile by tile**, one pass per normalisation layer in the order the network runs them:
pass ``k`` runs each tile through the network up to norm layer ``k``, the earlier layers
normalising with their already-fixed whole-image statistics, and accumulates the per-channel
mean and variance of layer ``k``'s input over the tile's core (merged in float64 with Chan's
parallel formula); the last pass runs every tile with all statistics fixed and keeps the cores.
The cores partition the feature maps at every resolution (tile boundaries are multiples of the
downsampling factor), so the statistics are those of the whole image. That costs one (partial)
run over the tiles per norm layer: :func:`plan_tiling` reports the count before, and each run
logs it after (logger ``unpaired_i2i.tiling``, level INFO). ``stats="thumbnail"`` is a
documented, much faster approximation: statistics of one run on the image shrunk to one tile's
size, then one tiled pass.

Which layers need gathering (the generator runs in eval mode): ``InstanceNorm`` without running
statistics (the built-in ``norm="instance"``), ``BatchNorm`` without running statistics and
``GroupNorm``. ``BatchNorm`` with running statistics (``norm="batch"`` in eval mode) and
``norm="none"`` are per-pixel operations: tiles are exact with nothing to gather. Other modules
must be local (convolutions, padding, pointwise ops); a custom layer that pools over the image
in another way is not detected.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

from unpaired_i2i._checks import check_choice, check_image_batch, check_int
from unpaired_i2i._generators import (
    call_generator,
    divisor_of,
    fitted_size,
    in_channels_of,
    least_size,
    min_size_of,
    run_fitted,
)
from unpaired_i2i._modules import device_and_dtype, eval_mode

__all__ = [
    "DEFAULT_OVERLAP",
    "TILE_STATS",
    "TileStats",
    "TilingPlan",
    "plan_tiling",
    "translate_tiled",
]

TileStats: TypeAlias = Literal["exact", "thumbnail"]
"""Where tiled translation takes the statistics of normalisation layers that pool over space."""

TILE_STATS: tuple[TileStats, ...] = ("exact", "thumbnail")
DEFAULT_OVERLAP = 32
"""Default halo, in pixels, around each tile (see :func:`translate_tiled`)."""

_log = logging.getLogger(__name__)
_Kind: TypeAlias = Literal["instance", "batch", "group"]
_Call: TypeAlias = Callable[[torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class TilingPlan:
    """How :func:`translate_tiled` splits an image, and what the exact statistics cost.

    Attributes:
        height: ``H`` the generator runs at (the image's, padded to the downsampling factor).
        width: ``W`` the generator runs at.
        tile: Largest side of a tile's own region (core), in pixels: at most ``tile`` rounded
            down to the downsampling factor (the cores of a side are of near-equal size).
        overlap: Halo in pixels (``overlap`` rounded up to the downsampling factor).
        rows: Tiles down the image.
        cols: Tiles across the image.
        tile_height: ``H`` of the largest tile input (core plus halo): sets the peak memory.
        tile_width: ``W`` of the largest tile input.
        stats: ``"exact"`` or ``"thumbnail"``.
        norm_layers: Normalisation layer calls whose whole-image statistics are gathered.
    """

    height: int
    width: int
    tile: int
    overlap: int
    rows: int
    cols: int
    tile_height: int
    tile_width: int
    stats: TileStats
    norm_layers: int

    @property
    def tiles(self) -> int:
        """Number of tiles: ``rows * cols``."""
        return self.rows * self.cols

    @property
    def passes(self) -> int:
        """Runs over the tiles.

        1 for one tile or nothing to gather; else ``norm_layers + 1`` (``"exact"``) or 2, the
        thumbnail run and the tiled run (``"thumbnail"``).
        """
        if self.tiles == 1 or self.norm_layers == 0:
            return 1
        return self.norm_layers + 1 if self.stats == "exact" else 2

    @property
    def tile_runs(self) -> int:
        """Generator calls in all.

        ``passes * tiles`` (the gathering passes stop early, at the layer they gather), or
        ``tiles + 1`` with ``"thumbnail"``.
        """
        if self.passes == 1:
            return self.tiles
        return self.passes * self.tiles if self.stats == "exact" else self.tiles + 1

    def describe(self) -> str:
        """One line: tiles, their size, the statistics and the passes they cost."""
        head = (
            f"{self.height}x{self.width} in {self.tiles} tile(s) ({self.rows}x{self.cols}) of at "
            f"most {self.tile_height}x{self.tile_width} px (cores of at most {self.tile} px, "
            f"overlap {self.overlap})"
        )
        if self.tiles == 1:
            return f"{head}: one run, as a whole image"
        if self.norm_layers == 0:
            return f"{head}: no normalisation statistics to gather, 1 pass"
        if self.stats == "exact":
            return (
                f"{head}: exact statistics of {self.norm_layers} normalisation layers, "
                f"{self.passes} passes, {self.tile_runs} tile runs"
            )
        return (
            f"{head}: thumbnail statistics of {self.norm_layers} normalisation layers "
            f"(approximate), 2 passes, {self.tile_runs} runs"
        )


def _cores(size: int, tile: int, unit: int) -> list[tuple[int, int]]:
    """Split ``[0, size)`` into near-equal cores of at most ``tile``, cut at ``unit`` multiples."""
    units = size // unit
    n = math.ceil(size / tile)
    base, extra = divmod(units, n)
    bounds = [0]
    for i in range(n):
        bounds.append(bounds[-1] + (base + (1 if i < extra else 0)) * unit)
    return list(itertools.pairwise(bounds))


def _box(core: tuple[int, int], size: int, overlap: int, least: int) -> tuple[int, int]:
    """The tile input ``[a0, a1)`` around ``core``: the halo, clipped to the image, >= ``least``."""
    a0, a1 = max(0, core[0] - overlap), min(size, core[1] + overlap)
    if a1 - a0 < least:  # a small core at the image edge: take more context inward
        a0 = max(0, min(a0, a1 - least))
        a1 = min(size, max(a1, a0 + least))
    return a0, a1


@dataclass(frozen=True)
class _Geometry:
    height: int
    width: int
    tile: int
    overlap: int
    least: int
    rows: list[tuple[int, int]]
    cols: list[tuple[int, int]]

    @classmethod
    def of(
        cls, height: int, width: int, *, tile: int, overlap: int, divisor: int, least: int
    ) -> _Geometry:
        tile = max(tile // divisor * divisor, least)
        overlap = math.ceil(overlap / divisor) * divisor
        return cls(
            height,
            width,
            tile,
            overlap,
            least,
            _cores(height, tile, divisor),
            _cores(width, tile, divisor),
        )

    def tiles(self) -> Iterator[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
        """``(core, box)`` per tile, row by row: ``(y0, y1, x0, x1)`` each, in image pixels."""
        for r in self.rows:
            for c in self.cols:
                br = _box(r, self.height, self.overlap, self.least)
                bc = _box(c, self.width, self.overlap, self.least)
                yield (*r, *c), (*br, *bc)

    def plan(self, stats: TileStats, norm_layers: int) -> TilingPlan:
        boxes = [box for _, box in self.tiles()]
        return TilingPlan(
            height=self.height,
            width=self.width,
            tile=max(b - a for a, b in (*self.rows, *self.cols)),
            overlap=self.overlap,
            rows=len(self.rows),
            cols=len(self.cols),
            tile_height=max(b[1] - b[0] for b in boxes),
            tile_width=max(b[3] - b[2] for b in boxes),
            stats=stats,
            norm_layers=norm_layers,
        )


# ---------------------------------------------------------------------------- norm statistics
def _kind(module: nn.Module) -> _Kind | None:
    """What ``module`` normalises over in eval mode, if it pools over space; else ``None``."""
    if isinstance(module, nn.GroupNorm):
        return "group"
    if isinstance(module, nn.modules.instancenorm._InstanceNorm):
        return "instance" if module.training or not module.track_running_stats else None
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "batch" if module.training or module.running_mean is None else None
    return None


class _Stop(Exception):
    """Raised by the gathered layer to end a tile's run once its statistics are taken."""


class _Moments:
    """Per-(sample, channel) count, mean and sum of squared deviations, merged in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        """Merge the moments of ``x`` of shape ``(N, C, h, w)`` (Chan et al.'s formula)."""
        n = x.shape[-1] * x.shape[-2]
        if n == 0:
            return
        var, mean = torch.var_mean(x.float(), dim=(-2, -1), correction=0)
        mean64, m2 = mean.double(), var.double() * n
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = n, mean64, m2
            return
        total = self.count + n
        delta = mean64 - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta.square() * (self.count * n / total)
        self.count = total

    def finish(self, kind: _Kind, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, var)`` of shape ``(N, C)`` in float64, pooled as the layer ``kind`` pools."""
        if self.mean is None or self.m2 is None:
            raise RuntimeError("no statistics were gathered for a normalisation layer")
        mean, m2 = self.mean, self.m2
        n, c = mean.shape
        if kind == "instance":
            return mean, m2 / self.count
        # Merge equal-count entries: over the batch (BatchNorm) or channel groups (GroupNorm).
        shape, dims = ((1, n, c), (1,)) if kind == "batch" else ((n, groups, c // groups), (2,))
        parts_mean, parts_m2 = mean.reshape(shape), m2.reshape(shape)
        pooled = parts_mean.mean(dim=dims, keepdim=True)
        spread = (parts_mean - pooled).square().sum(dim=dims, keepdim=True)
        var = (parts_m2.sum(dim=dims, keepdim=True) + self.count * spread) / (
            self.count * parts_mean.shape[dims[0]]
        )
        return pooled.expand(shape).reshape(n, c), var.expand(shape).reshape(n, c)


def _normalize(
    module: nn.Module, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor
) -> torch.Tensor:
    """What ``module`` returns for ``x`` when its statistics are ``mean`` and ``1 / std``."""
    view = (*mean.shape, *([1] * (x.dim() - 2)))
    y = x.float() - mean.view(view)
    y.mul_(rstd.view(view))
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if isinstance(weight, torch.Tensor):
        y.mul_(weight.float().view(1, -1, *([1] * (x.dim() - 2))))
    if isinstance(bias, torch.Tensor):
        y.add_(bias.float().view(1, -1, *([1] * (x.dim() - 2))))
    return y.to(x.dtype)


class _NormControl:
    """Takes over the normalisation layers that pool over space while installed.

    Calls are numbered in the order the network runs them within one generator call; call ``i``
    normalises with the fixed statistics ``fixed[i]`` when there are some. Otherwise, in
    ``"gather"`` mode, the first such call adds its input's moments over the tile's core and
    stops the run (:class:`_Stop`); in ``"record"`` mode it fixes the statistics of its own
    input (the thumbnail run, and counting the layers); in ``"final"`` mode it is an error.
    """

    def __init__(self) -> None:
        self.fixed: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.mode: Literal["gather", "record", "final"] = "record"
        self.calls = 0
        self.box = (0, 0, 0, 0)
        self.core = (0, 0, 0, 0)
        self.moments = _Moments()
        self.gathered: tuple[_Kind, int, float] | None = None

    @contextlib.contextmanager
    def installed(self, generator: nn.Module) -> Iterator[None]:
        """Route every pooling norm layer of ``generator`` through :meth:`norm` for a block."""
        layers = [(m, k) for m in generator.modules() if (k := _kind(m)) is not None]
        patched = [type(m).__name__ for m, _ in layers if "forward" in vars(m)]
        if patched:
            raise RuntimeError(
                f"tiled translation takes over the forward of the normalisation layers; "
                f"a {patched[0]} of {type(generator).__name__} already has its own"
            )
        try:
            for module, kind in layers:
                vars(module)["forward"] = self._forward(module, kind)
            yield
        finally:
            for module, _ in layers:
                vars(module).pop("forward", None)

    def _forward(self, module: nn.Module, kind: _Kind) -> _Call:
        groups = int(getattr(module, "num_groups", 1))
        eps = float(getattr(module, "eps", 1e-5))
        return lambda x: self.norm(module, x, (kind, groups, eps))

    def start(self, box: tuple[int, int, int, int], core: tuple[int, int, int, int]) -> None:
        """Begin one generator call on the tile ``box`` whose own region is ``core``."""
        self.calls, self.box, self.core = 0, box, core

    def norm(
        self, module: nn.Module, x: torch.Tensor, how: tuple[_Kind, int, float]
    ) -> torch.Tensor:
        """The forward of a pooling norm layer ``module`` while installed."""
        index = self.calls
        self.calls += 1
        if x.dim() != 4:
            raise RuntimeError(
                f"tiled translation expects (N, C, H, W) inputs to {type(module).__name__}; "
                f"got {tuple(x.shape)}"
            )
        if index < len(self.fixed):
            return _normalize(module, x, *self.fixed[index])
        if self.mode == "gather":
            self.moments.add(self._core_of(x))
            self.gathered = how
            raise _Stop
        if self.mode == "record":
            moments = _Moments()
            moments.add(x)
            self._fix(moments, how)
            return _normalize(module, x, *self.fixed[index])
        raise RuntimeError(
            f"{type(module).__name__} (normalisation call {index + 1}) has no statistics: the "
            "generator ran another sequence of normalisation layers on this tile"
        )

    def _fix(self, moments: _Moments, how: tuple[_Kind, int, float]) -> None:
        kind, groups, eps = how
        mean, var = moments.finish(kind, groups)
        self.fixed.append((mean.float(), var.add(eps).rsqrt().float()))

    def fix_gathered(self) -> None:
        """Fix the statistics gathered over the tiles of the pass that just ended."""
        if self.gathered is None:
            raise RuntimeError("no normalisation layer was gathered in this pass")
        self._fix(self.moments, self.gathered)
        self.moments, self.gathered = _Moments(), None

    def _core_of(self, x: torch.Tensor) -> torch.Tensor:
        """The part of feature map ``x`` (of the current tile) that lies in the tile's core."""
        y0, y1, x0, x1 = self.box
        c = self.core
        rows = _scaled(c[0] - y0, c[1] - y0, y1 - y0, x.shape[-2])
        cols = _scaled(c[2] - x0, c[3] - x0, x1 - x0, x.shape[-1])
        if rows is None or cols is None:
            raise RuntimeError(
                f"cannot place the core {c} of the tile {self.box} in its "
                f"{tuple(x.shape[-2:])} feature map: tiled translation needs layers that scale "
                "the image by powers of two up to the downsampling factor"
            )
        return x[..., rows[0] : rows[1], cols[0] : cols[1]]


def _scaled(start: int, stop: int, size: int, feature: int) -> tuple[int, int] | None:
    """``[start, stop)`` of an axis of ``size`` pixels, in a feature axis of ``feature``."""
    ratio = Fraction(feature, size)
    lo, hi = start * ratio, stop * ratio
    if lo.denominator != 1 or hi.denominator != 1:
        return None
    return int(lo), int(hi)


# -------------------------------------------------------------------------------- the engine
def _thumbnail(x: torch.Tensor, side: int, divisor: int, least: int) -> torch.Tensor:
    """``x`` shrunk to fit in ``side`` x ``side`` (aspect kept, sides fitted to ``divisor``)."""
    h, w = x.shape[-2:]
    scale = min(1.0, side / h, side / w)
    size = [max(least, round(n * scale / divisor) * divisor) for n in (h, w)]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def run_tiled(
    x: torch.Tensor,
    call: _Call,
    *,
    generator: nn.Module,
    tile: int,
    overlap: int,
    stats: TileStats,
    divisor: int,
    min_size: int,
) -> torch.Tensor:
    """Translate ``x`` (``H``, ``W`` multiples of ``divisor``) tile by tile with ``call``.

    The engine behind :func:`translate_tiled` and ``translate(tile=...)``: ``call`` runs the
    generator on one tile (moving it to the generator's device, under the caller's autocast);
    the result is assembled on ``x``'s device in ``x``'s dtype. The caller has put the generator
    in eval mode. Logs the :class:`TilingPlan` and the time taken (INFO).

    Returns:
        ``(N, C_out, H, W)``.
    """
    started = time.perf_counter()
    n, _, height, width = x.shape
    geometry = _Geometry.of(
        height,
        width,
        tile=tile,
        overlap=overlap,
        divisor=divisor,
        least=least_size(divisor, min_size),
    )
    tiles = list(geometry.tiles())
    control = _NormControl()
    out: torch.Tensor | None = None
    if len(tiles) == 1:
        out = call(x).to(x.device, x.dtype)
        _log.info("%s, %.1f s", geometry.plan(stats, 0).describe(), time.perf_counter() - started)
        return out
    with control.installed(generator):
        if stats == "thumbnail":
            control.mode = "record"
            side = max(geometry.tile + 2 * geometry.overlap, geometry.least)
            control.start((0, 0, 0, 0), (0, 0, 0, 0))
            call(_thumbnail(x, side, divisor, geometry.least))
        control.mode = "final" if stats == "thumbnail" else "gather"
        while True:
            stopped = 0
            for core, box in tiles:
                control.start(box, core)
                try:
                    y = call(x[..., box[0] : box[1], box[2] : box[3]])
                except _Stop:
                    stopped += 1
                    continue
                if out is None:
                    out = x.new_empty((n, y.shape[1], height, width))
                top, left = core[0] - box[0], core[2] - box[2]
                rows, cols = core[1] - core[0], core[3] - core[2]
                out[..., core[0] : core[1], core[2] : core[3]] = y[
                    ..., top : top + rows, left : left + cols
                ]
            if stopped == 0:
                break
            if stopped != len(tiles):
                raise RuntimeError(
                    f"{type(generator).__name__} ran different normalisation layers on "
                    "different tiles; tiled translation needs the same layers for every tile"
                )
            control.fix_gathered()
    if out is None:  # pragma: no cover - a pass without stops assembles every tile
        raise RuntimeError("tiled translation produced no tiles")
    plan = geometry.plan(stats, len(control.fixed))
    _log.info("%s, %.1f s", plan.describe(), time.perf_counter() - started)
    return out


def _checked_options(
    owner: str, generator: nn.Module, tile: object, overlap: object, stats: object
) -> tuple[int, int]:
    """Validate the tiling options; returns the generator's ``(divisor, min_size)``."""
    divisor = divisor_of(generator, default=4)
    min_size = min_size_of(generator, divisor)
    least = least_size(divisor, min_size)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < least:
        raise ValueError(
            f"{owner} tile must be an int >= {least} (the smallest input of "
            f"{type(generator).__name__}); got {tile!r}"
        )
    check_int(f"{owner} overlap", overlap, 0)
    check_choice(f"{owner} stats", stats, TILE_STATS)
    return divisor, min_size


def _count_norm_layers(generator: nn.Module, divisor: int, min_size: int) -> int:
    """Pooling normalisation calls in one forward pass, counted on a tiny probe input."""
    side = least_size(divisor, min_size)
    device, dtype = device_and_dtype(generator)
    probe = torch.zeros(1, in_channels_of(generator), side, side, device=device, dtype=dtype)
    control = _NormControl()
    with eval_mode(generator), torch.inference_mode(), control.installed(generator):
        control.start((0, side, 0, side), (0, side, 0, side))
        call_generator(generator, probe)
    return len(control.fixed)


def plan_tiling(
    generator: nn.Module,
    size: Sequence[int],
    *,
    tile: int,
    overlap: int = DEFAULT_OVERLAP,
    stats: TileStats = "exact",
) -> TilingPlan:
    """Tell how :func:`translate_tiled` would split an image, and how many passes it costs.

    Counts the generator's normalisation layers that pool over space by running it once on a
    tiny input (in eval mode, under :func:`torch.inference_mode`; its modes are restored).

    Args:
        generator: The generator.
        size: ``(H, W)`` of the image.
        tile: As for :func:`translate_tiled`.
        overlap: As for :func:`translate_tiled`.
        stats: As for :func:`translate_tiled`.

    Returns:
        The :class:`TilingPlan`; ``plan.describe()`` says it in one line.

    Raises:
        ValueError: An option is invalid (named in the message), or ``size`` is not two
            positive integers.

    Example:
        >>> from unpaired_i2i import ResnetGenerator, plan_tiling
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1)
        >>> plan = plan_tiling(g, (300, 451), tile=128, overlap=32)
        >>> plan.tiles, plan.norm_layers, plan.passes
        (12, 7, 8)
    """
    divisor, min_size = _checked_options("plan_tiling", generator, tile, overlap, stats)
    dims = tuple(size)
    if len(dims) != 2 or not all(isinstance(d, int) and d >= 1 for d in dims):
        raise ValueError(f"plan_tiling size must be (H, W), two positive integers; got {size!r}")
    height, width = (fitted_size(d, divisor, min_size, "pad") for d in dims)
    geometry = _Geometry.of(
        height,
        width,
        tile=tile,
        overlap=overlap,
        divisor=divisor,
        least=least_size(divisor, min_size),
    )
    return geometry.plan(stats, _count_norm_layers(generator, divisor, min_size))


def translate_tiled(
    generator: nn.Module,
    image: torch.Tensor,
    *,
    tile: int,
    overlap: int = DEFAULT_OVERLAP,
    stats: TileStats = "exact",
) -> torch.Tensor:
    """Translate images of any size in overlapping tiles, with whole-image statistics.

    Peak memory is set by the tile size, not the image size: each tile of at most ``tile`` x
    ``tile`` pixels runs with ``overlap`` pixels of context on every side (so at most
    ``tile + 2 * overlap`` pixels a side), and only its own region of the result is kept. Tiles
    at the image border see the border exactly as the whole image does; inside, the halo stands
    in for the rest of the image, so the result matches the whole-image run up to what the
    network sees beyond ``overlap`` pixels (the 9-block CycleGAN generator with random weights,
    512x512, tiles of 128: a relative mean difference of 0.003 at ``overlap=32``, under 1e-5
    at 64, 0.035 at 16; see ``benchmarks/tiled_inference.py``).

    Normalisation layers that pool over the whole image (``InstanceNorm``, the built-in
    ``norm="instance"``) get the statistics of the whole image: ``stats="exact"`` gathers them
    tile by tile, one pass over the tiles per such layer (23 layers, 24 passes for the 9-block
    CycleGAN generator, the gathering passes stopping at their layer: about 10 times the
    compute of one whole-image run, times the halo's share, 12 to 25 times its time as
    measured); :func:`plan_tiling` tells the cost
    beforehand and each call logs it (logger ``unpaired_i2i.tiling``, INFO).
    ``stats="thumbnail"`` takes them from one run on the image shrunk to fit in one tile: two
    passes, but only an approximation (a relative mean difference of 0.24 in the benchmark,
    against 0.003 for exact statistics). ``BatchNorm`` in eval mode and ``norm="none"`` need
    nothing gathered.

    An image that fits in one tile runs whole. ``H`` and ``W`` need not be multiples of the
    downsampling factor: the image is reflect-padded as :func:`~unpaired_i2i.translate` pads it
    and the result cropped back. ``tile`` is rounded down and ``overlap`` up to multiples of
    ``generator.downsampling_factor`` (4 without one).

    The generator runs in eval mode (each submodule's mode restored afterwards) under
    :func:`torch.inference_mode`, on its own device and in its own dtype, under any autocast
    the caller opened. Each tile is moved there on its own: a large image on the CPU and a
    generator on the GPU use GPU memory for one tile at a time.

    Args:
        generator: The generator, e.g. a :class:`~unpaired_i2i.ResnetGenerator`.
        image: The images.
        tile: Largest side, in pixels, of each tile's own region; at least the generator's
            smallest input (8 for the CycleGAN layout).
        overlap: Context, in pixels, added on each side of a tile (clipped at the border).
        stats: ``"exact"`` (whole-image statistics, gathered tile by tile) or ``"thumbnail"``
            (faster approximation).

    Returns:
        The translated images, on ``image``'s device and in its dtype.

    Raises:
        ValueError: ``tile``, ``overlap`` or ``stats`` is invalid (named in the message).
        ShapeError: ``image`` is not an ``(N, in_channels, H, W)`` batch.
        RuntimeError: The generator is not tileable: it runs other normalisation layers on
            different tiles, or a pooling normalisation layer sees a feature map that is not
            the tile scaled by a power of two.

    Shape:
        - Input: ``(N, C_in, H, W)`` in ``[-1, 1]``, any ``H`` and ``W``.
        - Output: ``(N, C_out, H, W)`` in ``[-1, 1]``.

    Example:
        >>> import torch
        >>> from unpaired_i2i import ResnetGenerator, translate_tiled
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1).eval()
        >>> x = torch.rand(1, 3, 90, 75) * 2 - 1
        >>> y = translate_tiled(g, x, tile=32, overlap=32)
        >>> y.shape
        torch.Size([1, 3, 90, 75])
        >>> with torch.no_grad():
        ...     whole = g(torch.nn.functional.pad(x, (0, 1, 1, 1), mode="reflect"))
        >>> bool((y - whole[..., 1:91, :75]).abs().max() < 1e-4)
        True
    """
    divisor, min_size = _checked_options("translate_tiled", generator, tile, overlap, stats)
    check_image_batch(
        image, module="translate_tiled", channels=in_channels_of(generator), argument="image"
    )
    device, dtype = device_and_dtype(generator)

    def call(t: torch.Tensor) -> torch.Tensor:
        return call_generator(generator, t.to(device, dtype))

    def run(x: torch.Tensor) -> torch.Tensor:
        return run_tiled(
            x,
            call,
            generator=generator,
            tile=tile,
            overlap=overlap,
            stats=stats,
            divisor=divisor,
            min_size=min_size,
        )

    with eval_mode(generator), torch.inference_mode():
        y = run_fitted(image, run, divisor=divisor, min_size=min_size, fit="pad")
        y = y.to(image.device, image.dtype)
    # A copy made outside inference mode is an ordinary tensor, usable with autograd later.
    return y.clone()
