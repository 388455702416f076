"""Translate tensors, image files and folders with a trained generator.

:func:`translate` runs a generator on a tensor batch or on image files: it loads and converts
images, pads them to a size the network accepts, batches images of equal size, crops the results
back to the input size and optionally saves them as PNG. With ``tile=`` it translates images of
any size in overlapping tiles at bounded memory (:mod:`unpaired_i2i.tiling`). The export
functions live in :mod:`unpaired_i2i.export` and are re-exported here for existing imports.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, overload

import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.utils import save_image

from unpaired_i2i._checks import (
    check_bool,
    check_choice,
    check_image_batch,
    check_int,
    check_optional_int,
)
from unpaired_i2i._generators import (
    FIT_MODES,
    FitMode,
    call_generator,
    divisor_of,
    in_channels_of,
    least_size,
    min_size_of,
    mirror_ensemble,
    run_fitted,
)
from unpaired_i2i._io import StrPath, write_atomic
from unpaired_i2i._modules import device_and_dtype, eval_mode, on_device
from unpaired_i2i.data.datasets import IMAGE_EXTENSIONS, CorruptImageError, load_image
from unpaired_i2i.export import EXPORT_FORMATS, ExportFormat, export_generator, load_exported
from unpaired_i2i.tiling import DEFAULT_OVERLAP, TILE_STATS, TileStats, run_tiled
from unpaired_i2i.training.config import AMP_MODES, AmpMode

__all__ = [
    "EXPORT_FORMATS",
    "FIT_MODES",
    "ExportFormat",
    "FitMode",
    "PathInputs",
    "StrPath",
    "UnreadableImagesError",
    "export_generator",
    "load_exported",
    "translate",
]

PathInputs: TypeAlias = StrPath | Sequence[StrPath]
"""One image file or folder, or a sequence of them."""

_DeviceLike: TypeAlias = torch.device | str
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class UnreadableImagesError(CorruptImageError):
    """Some input images of :func:`translate` could not be read; all the others were translated.

    Raised once, after every readable image has been translated (and saved, with
    ``output_dir``), so that one damaged file never costs the rest of a folder. It is a
    :class:`~unpaired_i2i.CorruptImageError` (so an :class:`OSError`) whose ``path`` and
    ``reason`` are those of the first failure; the message lists every failed file.

    Attributes:
        failures: ``(path, reason)`` for every input file that could not be read, in input
            order.
        results: What :func:`translate` returns for the readable images: the saved PNG paths
            with ``output_dir``, else one tensor per image; in input order.
        total: The number of input files.
    """

    def __init__(
        self,
        failures: Sequence[tuple[Path, str]],
        results: list[Path] | list[torch.Tensor],
        total: int,
    ) -> None:
        if not failures:
            raise ValueError("UnreadableImagesError needs at least one failure")
        super().__init__(*failures[0])
        self.failures = list(failures)
        self.results = results
        self.total = total
        listed = "; ".join(f"{path}: {reason}" for path, reason in failures)
        translated = total - len(failures)
        self.args = (
            f"cannot read {len(failures)} of {total} input images (the other {translated} "
            f"were translated): {listed}",
        )


# -------------------------------------------------------------------------- running the generator
@dataclass(frozen=True)
class _Runner:
    """How :func:`translate` runs the generator on one batch (the options, checked)."""

    divisor: int
    min_size: int
    fit: FitMode
    tile: int | None
    overlap: int
    stats: TileStats
    amp: AmpMode
    channels_last: bool
    self_ensemble: bool = False

    def __call__(self, generator: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Translate ``x`` (on any device); the result is where the generator left it.

        Call in eval mode under :func:`torch.inference_mode` with the generator on its run
        device. Whole-image runs move ``x`` to the generator first (padding happens there);
        tiled runs keep ``x`` where it is and move one tile at a time.
        """
        device, dtype = device_and_dtype(generator)
        memory_format = torch.channels_last if self.channels_last else torch.preserve_format

        def call(t: torch.Tensor) -> torch.Tensor:
            return call_generator(generator, t.to(device, dtype, memory_format=memory_format))

        run: Callable[[torch.Tensor], torch.Tensor] = call
        if self.tile is None:
            x = x.to(device, dtype)
        else:
            run = functools.partial(
                run_tiled,
                call=call,
                generator=generator,
                tile=self.tile,
                overlap=self.overlap,
                stats=self.stats,
                divisor=self.divisor,
                min_size=self.min_size,
            )
        amp = _AUTOCAST_DTYPES.get(self.amp)
        autocast = (
            torch.autocast(device_type=device.type, dtype=amp)
            if amp is not None
            else contextlib.nullcontext()
        )

        def fitted(t: torch.Tensor) -> torch.Tensor:
            return run_fitted(t, run, divisor=self.divisor, min_size=self.min_size, fit=self.fit)

        with autocast:
            return mirror_ensemble(fitted, x) if self.self_ensemble else fitted(x)

    @contextlib.contextmanager
    def prepared(self, generator: nn.Module, device: torch.device | None) -> Iterator[None]:
        """Eval mode, on ``device``, channels-last weights: all undone on exit."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(eval_mode(generator))
            if device is not None:
                stack.enter_context(on_device(generator, device))
            if self.channels_last:
                stack.enter_context(_channels_last(generator))
            yield


@contextlib.contextmanager
def _channels_last(module: nn.Module) -> Iterator[None]:
    """Give the 4-D parameters and buffers of ``module`` the channels-last layout for a block."""
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dim() == 4 and not tensor.is_contiguous(memory_format=torch.channels_last):
                saved.append((tensor, tensor.data))
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        yield
    finally:
        for tensor, data in saved:
            tensor.data = data


# ---------------------------------------------------------------------------------- image files
def _folder_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (not subfolders), sorted by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def _resolve_inputs(inputs: PathInputs) -> list[Path]:
    items: Sequence[StrPath] = [inputs] if isinstance(inputs, str | os.PathLike) else inputs
    files: list[Path] = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise TypeError(
                "translate expects a tensor, a path, or a sequence of paths; "
                f"got a sequence containing {type(item).__name__}"
            )
        path = Path(item)
        if path.is_dir():
            found = _folder_images(path)
            if not found:
                valid = ", ".join(IMAGE_EXTENSIONS)
                raise ValueError(f"no images found in folder {path} (extensions: {valid})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"input image or folder not found: {path}")
    return files


def _load_image(path: Path, *, channels: int, size: int | None) -> torch.Tensor:
    """Load an image as a ``(channels, H, W)`` tensor in ``[-1, 1]``."""
    img = load_image(path)  # RGB, as for training; raises CorruptImageError naming the path
    if channels == 1:
        img = img.convert("L")
    image = v2.functional.to_image(img).as_subclass(torch.Tensor)
    unit: torch.Tensor = v2.functional.to_dtype(image, torch.float32, scale=True)
    if size is not None:
        unit = v2.functional.resize(unit, [size], antialias=True).clamp_(0.0, 1.0)
    normalized: torch.Tensor = v2.functional.normalize(
        unit, mean=[0.5] * channels, std=[0.5] * channels
    )
    return normalized


def _save_png(image: torch.Tensor, path: Path) -> None:
    """Save a ``(C, H, W)`` image in ``[-1, 1]`` as a PNG, atomically.

    ``write_atomic`` also creates the folder, so an output folder appears only once there is
    something to put in it.
    """
    unit = image.add(1.0).div_(2.0)
    write_atomic(path, lambda f: save_image(unit, f, format="png"))


def _plan_outputs(files: Sequence[Path], output_dir: Path, suffix: str) -> list[Path]:
    outputs = [output_dir / f"{f.stem}{suffix}.png" for f in files]
    inputs = {f.resolve(): f for f in files}
    seen: dict[Path, Path] = {}
    for src, dst in zip(files, outputs, strict=True):
        key = dst.resolve()
        if key in seen:
            raise ValueError(
                f"inputs {seen[key]} and {src} would both be saved as {dst}; "
                "translate them into different output folders"
            )
        if key in inputs:
            raise ValueError(
                f"saving to {dst} would overwrite the input image {inputs[key]}; "
                "pass a suffix or another output_dir"
            )
        seen[key] = src
    return outputs


# ------------------------------------------------------------------------------------ translate
@overload
def translate(
    generator: nn.Module,
    inputs: torch.Tensor,
    *,
    output_dir: None = None,
    size: None = None,
    batch_size: int | None = None,
    device: _DeviceLike | None = None,
    suffix: Literal[""] = "",
    fit: FitMode = "pad",
    tile: int | None = None,
    overlap: int | None = None,
    tile_stats: TileStats | None = None,
    amp: AmpMode = "off",
    channels_last: bool = False,
    self_ensemble: bool = False,
) -> torch.Tensor: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: None = None,
    size: int | None = None,
    batch_size: int | None = None,
    device: _DeviceLike | None = None,
    suffix: Literal[""] = "",
    fit: FitMode = "pad",
    tile: int | None = None,
    overlap: int | None = None,
    tile_stats: TileStats | None = None,
    amp: AmpMode = "off",
    channels_last: bool = False,
    self_ensemble: bool = False,
) -> list[torch.Tensor]: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: StrPath,
    size: int | None = None,
    batch_size: int | None = None,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
    tile: int | None = None,
    overlap: int | None = None,
    tile_stats: TileStats | None = None,
    amp: AmpMode = "off",
    channels_last: bool = False,
    self_ensemble: bool = False,
) -> list[Path]: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: StrPath | None,
    size: int | None = None,
    batch_size: int | None = None,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
    tile: int | None = None,
    overlap: int | None = None,
    tile_stats: TileStats | None = None,
    amp: AmpMode = "off",
    channels_last: bool = False,
    self_ensemble: bool = False,
) -> list[torch.Tensor] | list[Path]: ...


def translate(
    generator: nn.Module,
    inputs: torch.Tensor | PathInputs,
    *,
    output_dir: StrPath | None = None,
    size: int | None = None,
    batch_size: int | None = None,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
    tile: int | None = None,
    overlap: int | None = None,
    tile_stats: TileStats | None = None,
    amp: AmpMode = "off",
    channels_last: bool = False,
    self_ensemble: bool = False,
) -> torch.Tensor | list[torch.Tensor] | list[Path]:
    """Translate a tensor batch, image files or folders of images with a generator.

    Inputs of any ``H`` and ``W`` work: each batch is padded (``fit="pad"``, reflect padding
    centred on the image) or resized (``fit="resize"``) so that ``H`` and ``W`` are divisible by
    ``generator.downsampling_factor`` (4 when the generator has no such attribute), and the
    result is cropped or resized back, so outputs keep the input size and aspect ratio.

    Image files are read with :func:`~unpaired_i2i.load_image`, exactly as for training: EXIF
    orientation applied, then converted to 8-bit RGB by :func:`~unpaired_i2i.to_rgb` (grayscale
    replicated, 16-bit scaled from its full range, alpha composited onto white), and to grayscale
    for a generator with ``in_channels == 1``. With ``size`` the image is first resized so that
    its shorter side is ``size`` pixels. Images of equal size are batched together, at most
    ``batch_size`` at a time.

    The generator runs under :func:`torch.inference_mode` in eval mode on ``device`` (default:
    where its parameters are), in its own dtype; afterwards each submodule's training mode is
    restored and the generator is moved back if ``device`` moved it. ``amp="bf16"``/``"fp16"``
    runs it under :func:`torch.autocast` (results are returned in float32, or the input's
    dtype); ``channels_last=True`` gives its weights and inputs the channels-last layout for
    the call (faster convolutions on recent GPUs; the weights get their layout back after).

    With ``tile`` each image is translated in overlapping tiles by
    :func:`~unpaired_i2i.translate_tiled`: peak memory is set by the tile size, the images stay
    on the CPU (only tiles move to ``device``), and normalisation layers get exact whole-image
    statistics, gathered at the cost of one pass over the tiles per ``InstanceNorm`` layer
    (``tile_stats="thumbnail"``: a faster approximation). Images that fit in one tile run whole.

    Args:
        generator: The generator, e.g. a trained :class:`~unpaired_i2i.ResnetGenerator`.
        inputs: A batch of images; or an image file, a folder (every file directly in it with
            an extension in :data:`~unpaired_i2i.IMAGE_EXTENSIONS`, hidden files skipped, sorted
            by name; subfolders are not searched), or a sequence of files and folders, in which
            case the results follow the order of the files.
        output_dir: Folder where each result is saved as ``<input stem><suffix>.png``, each
            file written atomically; the folder is created when the first result is saved, so
            a call that saves nothing leaves no empty folder. Only for path inputs.
        size: Length in pixels of the shorter side that images are resized to before
            translation. Only for path inputs; ``None`` keeps the original size.
        batch_size: Most images run through the generator at once; default 8, or 1 with
            ``tile`` (the images of a batch share each tile run, so memory grows with it).
        device: Device to run on; ``None`` uses the generator's device.
        suffix: Appended to the file stem of each saved image. Only with ``output_dir``.
        fit: ``"pad"`` (reflect-pad, then crop the output; exact at the original pixels) or
            ``"resize"`` (resize to the nearest accepted size and back).
        tile: Translate in tiles whose own region is at most ``tile`` x ``tile`` pixels (see
            :func:`~unpaired_i2i.translate_tiled`); ``None`` runs each batch whole.
        overlap: Pixels of context around each side of a tile (default 32). Only with ``tile``.
        tile_stats: ``"exact"`` (default) or ``"thumbnail"``. Only with ``tile``.
        amp: ``"off"``, ``"bf16"`` or ``"fp16"`` autocast.
        channels_last: Run with the channels-last memory format.
        self_ensemble: Translate each image and its horizontal mirror and return the average,
            ``0.5 * (G(x) + flip(G(flip(x))))`` (the self-ensemble of Timofte et al. 2016,
            mirror only): two generator calls per image, so twice the time; slightly more
            accurate for generators trained with random mirrors, as CycleGAN's are (see
            :ref:`self-ensemble`). Works with ``tile`` (each half is tiled exactly) and ``amp``
            (the average is taken in float32).

    Returns:
        For a tensor input, the translated batch on the input's device and in its dtype. For path
        inputs without ``output_dir``, a list with one ``(C, H, W)`` float32 CPU tensor per
        image file; with ``output_dir``, the list of saved PNG paths. Lists follow input order.

    Raises:
        FileNotFoundError: An input file or folder does not exist (named in the message).
        ValueError: A folder holds no images, an option is invalid (named in the message) or
            does not apply to the input kind (``overlap`` or ``tile_stats`` without ``tile``),
            two inputs would be saved under the same name, or a result would overwrite its
            input image. Raised before anything is read or written.
        UnreadableImagesError: Some image files cannot be read or decoded. Raised at the end,
            after every readable image was translated (and saved); it lists each failed file
            in ``failures`` and carries the readable images' results in ``results``. It is a
            :class:`~unpaired_i2i.CorruptImageError`, so an ``OSError``.
        ShapeError: A tensor input is not an ``(N, in_channels, H, W)`` batch.
        TypeError: ``inputs`` is neither a tensor nor paths.

    Shape:
        - Tensor input: ``(N, C_in, H, W)`` in ``[-1, 1]``; output ``(N, C_out, H, W)`` in
          ``[-1, 1]``.
        - Path inputs: each returned tensor is ``(C_out, H, W)`` in ``[-1, 1]``, ``H`` and ``W``
          those of the image (after ``size``); saved PNGs have the same size.

    Example:
        >>> import torch
        >>> from unpaired_i2i import ResnetGenerator, translate
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1)
        >>> translate(g, torch.zeros(2, 3, 30, 21)).shape  # not divisible by 4: padded, cropped
        torch.Size([2, 3, 30, 21])
        >>> translate(g, torch.zeros(1, 3, 100, 75), tile=32, overlap=16).shape
        torch.Size([1, 3, 100, 75])
    """
    runner = _runner(generator, fit, tile, overlap, tile_stats, amp, channels_last, self_ensemble)
    check_optional_int("translate batch_size", batch_size, 1)
    batch = batch_size if batch_size is not None else 8 if tile is None else 1
    check_optional_int("translate size", size, 1)
    if suffix and output_dir is None:
        raise ValueError(f"suffix is only used with output_dir; got suffix={suffix!r}")
    in_channels = in_channels_of(generator)
    run_device = torch.device(device) if device is not None else None

    if isinstance(inputs, torch.Tensor):
        for name, value in (("output_dir", output_dir), ("size", size)):
            if value is not None:
                raise ValueError(
                    f"{name} applies to image files; for a tensor input it must be None "
                    f"(got {value!r}); resize or save the returned tensor yourself"
                )
        check_image_batch(inputs, module="translate", channels=in_channels, argument="inputs")
        return _translate_tensor(generator, inputs, batch, run_device, runner)

    if in_channels not in (1, 3):
        raise ValueError(
            "translate loads image files as RGB (3 channels) or grayscale (1 channel); "
            f"{type(generator).__name__} expects {in_channels} channels"
        )
    if not isinstance(inputs, str | os.PathLike | Sequence):
        raise TypeError(
            "translate expects a tensor, a path, or a sequence of paths; "
            f"got {type(inputs).__name__}"
        )
    files = _resolve_inputs(inputs)
    out_dir = None if output_dir is None else Path(output_dir)
    out_paths = None if out_dir is None else _plan_outputs(files, out_dir, suffix)
    created_dir = out_dir is not None and not out_dir.exists()
    results: list[torch.Tensor | None] = [None] * len(files)
    failures: dict[int, tuple[Path, str]] = {}

    def finish(indices: list[int], batch: torch.Tensor) -> None:
        for i, image in zip(indices, batch, strict=True):
            if out_paths is not None:
                _save_png(image, out_paths[i])
            else:
                results[i] = image.clone(memory_format=torch.contiguous_format)

    try:
        _translate_files(
            generator,
            files,
            finish,
            failures,
            channels=in_channels,
            size=size,
            batch_size=batch,
            device=run_device,
            runner=runner,
        )
    except BaseException:
        if created_dir and out_dir is not None:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only if still empty
        raise

    outputs: list[Path] | list[torch.Tensor]
    if out_paths is not None:
        outputs = [p for i, p in enumerate(out_paths) if i not in failures]
    else:
        outputs = [r for r in results if r is not None]
    if failures:
        raise UnreadableImagesError([failures[i] for i in sorted(failures)], outputs, len(files))
    return outputs


def _runner(
    generator: nn.Module,
    fit: FitMode,
    tile: int | None,
    overlap: int | None,
    tile_stats: TileStats | None,
    amp: AmpMode,
    channels_last: bool,
    self_ensemble: bool = False,
) -> _Runner:
    """Check the run options of :func:`translate` (before anything is read) and bundle them."""
    check_choice("translate fit", fit, FIT_MODES)
    check_choice("translate amp", amp, AMP_MODES)
    check_bool("translate channels_last", channels_last)
    check_bool("translate self_ensemble", self_ensemble)
    divisor = divisor_of(generator, default=4)
    min_size = min_size_of(generator, divisor)
    check_optional_int("translate tile", tile, least_size(divisor, min_size))
    for name, value in (("overlap", overlap), ("tile_stats", tile_stats)):
        if value is not None and tile is None:
            raise ValueError(
                f"translate {name} applies to tiled translation; pass tile= as well "
                f"(got {name}={value!r} and tile=None)"
            )
    if overlap is not None:
        check_int("translate overlap", overlap, 0)
    if tile_stats is not None:
        check_choice("translate tile_stats", tile_stats, TILE_STATS)
    return _Runner(
        divisor=divisor,
        min_size=min_size,
        fit=fit,
        tile=tile,
        overlap=DEFAULT_OVERLAP if overlap is None else overlap,
        stats="exact" if tile_stats is None else tile_stats,
        amp=amp,
        channels_last=channels_last,
        self_ensemble=self_ensemble,
    )


def _translate_files(
    generator: nn.Module,
    files: Sequence[Path],
    finish: Callable[[list[int], torch.Tensor], None],
    failures: dict[int, tuple[Path, str]],
    *,
    channels: int,
    size: int | None,
    batch_size: int,
    device: torch.device | None,
    runner: _Runner,
) -> None:
    """Load, batch and translate ``files``; record unreadable ones in ``failures``."""
    with runner.prepared(generator, device):
        # Images wait in one bucket per size until a full batch is ready; too many waiting
        # images (many distinct sizes) flush the fullest bucket, which bounds memory.
        buckets: dict[tuple[int, int], list[tuple[int, torch.Tensor]]] = {}
        pending = 0

        def flush(key: tuple[int, int]) -> None:
            nonlocal pending
            items = buckets.pop(key)
            pending -= len(items)
            x = torch.stack([t for _, t in items])
            with torch.inference_mode():
                y = runner(generator, x)
            finish([i for i, _ in items], y.to("cpu", torch.float32))

        for index, path in enumerate(files):
            try:
                image = _load_image(path, channels=channels, size=size)
            except CorruptImageError as err:
                failures[index] = (path, err.reason)
                continue
            except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
                failures[index] = (path, err.strerror or type(err).__name__)
                continue
            key = (image.shape[-2], image.shape[-1])
            buckets.setdefault(key, []).append((index, image))
            pending += 1
            if len(buckets[key]) >= batch_size:
                flush(key)
            elif pending >= 4 * batch_size:
                flush(max(buckets, key=lambda k: len(buckets[k])))
        for key in list(buckets):
            flush(key)


def _translate_tensor(
    generator: nn.Module,
    inputs: torch.Tensor,
    batch_size: int,
    device: torch.device | None,
    runner: _Runner,
) -> torch.Tensor:
    outputs: list[torch.Tensor] = []
    with runner.prepared(generator, device):
        for start in range(0, inputs.shape[0], batch_size):
            with torch.inference_mode():
                y = runner(generator, inputs[start : start + batch_size])
            outputs.append(y.to(inputs.device, inputs.dtype, memory_format=torch.contiguous_format))
    if not outputs:  # an empty batch
        channels = getattr(generator, "out_channels", inputs.shape[1])
        return inputs.new_empty((0, int(channels), *inputs.shape[2:]))
    # Concatenating outside inference mode returns an ordinary tensor (usable with autograd).
    return torch.cat(outputs)
