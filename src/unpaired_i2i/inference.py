"""Translate tensors, image files and folders with a trained generator, and export generators.

:func:`translate` runs a generator on a tensor batch or on image files: it loads and converts
images, pads them to a size the network accepts, batches images of equal size, crops the results
back to the input size and optionally saves them as PNG. :func:`export_generator` writes a
generator as TorchScript or ONNX for deployment; :func:`load_exported` reads TorchScript back.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias, overload

import torch
import torch.nn.functional as F
from torch import nn
from torch.jit._trace import TracerWarning  # public as torch.jit.TracerWarning, not re-exported
from torchvision.transforms import v2
from torchvision.utils import save_image

from unpaired_i2i._checks import (
    ShapeError,
    check_choice,
    check_image_batch,
    check_int,
    check_optional_int,
)
from unpaired_i2i._io import StrPath, write_atomic
from unpaired_i2i._modules import device_and_dtype, eval_mode, on_device
from unpaired_i2i.data.datasets import IMAGE_EXTENSIONS, CorruptImageError, load_image

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

FitMode: TypeAlias = Literal["pad", "resize"]
"""How :func:`translate` makes ``H`` and ``W`` divisible by the generator's downsampling factor."""

ExportFormat: TypeAlias = Literal["torchscript", "onnx"]
"""File formats written by :func:`export_generator`."""

FIT_MODES: tuple[FitMode, ...] = ("pad", "resize")
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("torchscript", "onnx")

_DeviceLike: TypeAlias = torch.device | str
_ONNX_HINT = "pip install 'unpaired-i2i[onnx]'"


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


# ---------------------------------------------------------------------------- generator helpers
def _divisor(generator: nn.Module, default: int) -> int:
    factor = getattr(generator, "downsampling_factor", default)
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(
            f"{type(generator).__name__}.downsampling_factor must be a positive integer; "
            f"got {factor!r}"
        )
    return factor


def _min_size(generator: nn.Module, divisor: int) -> int:
    # ResnetGenerator.min_size is the smallest H/W its bottleneck padding accepts.
    value = getattr(generator, "min_size", divisor)
    return value if isinstance(value, int) and value >= 1 else divisor


def _in_channels(generator: nn.Module) -> int:
    channels = getattr(generator, "in_channels", 3)
    return channels if isinstance(channels, int) else 3


def _call(generator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = generator(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{type(generator).__name__} returned {type(out).__name__}, not a Tensor")
    return out


def _fitted_size(n: int, divisor: int, min_size: int, fit: FitMode) -> int:
    """The side length the generator runs at for an image side of ``n`` pixels."""
    least = math.ceil(min_size / divisor) * divisor
    if fit == "pad":
        return max(math.ceil(n / divisor) * divisor, least)
    return max(round(n / divisor) * divisor, least)


def _run_fitted(
    generator: nn.Module, x: torch.Tensor, *, divisor: int, min_size: int, fit: FitMode
) -> torch.Tensor:
    """Run ``generator`` on ``x`` of any ``H``/``W``; the result has the same ``H``/``W``."""
    h, w = x.shape[-2:]
    th = _fitted_size(h, divisor, min_size, fit)
    tw = _fitted_size(w, divisor, min_size, fit)
    if (th, tw) == (h, w):
        return _call(generator, x)
    if fit == "pad":
        top, left = (th - h) // 2, (tw - w) // 2
        bottom, right = th - h - top, tw - w - left
        # Reflect padding needs each pad to be smaller than the side; tiny images replicate.
        mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
        y = _call(generator, F.pad(x, (left, right, top, bottom), mode=mode))
        return y[..., top : top + h, left : left + w]
    resized = F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
    y = _call(generator, resized)
    y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return y.clamp(-1.0, 1.0)


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
    batch_size: int = 8,
    device: _DeviceLike | None = None,
    suffix: Literal[""] = "",
    fit: FitMode = "pad",
) -> torch.Tensor: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: None = None,
    size: int | None = None,
    batch_size: int = 8,
    device: _DeviceLike | None = None,
    suffix: Literal[""] = "",
    fit: FitMode = "pad",
) -> list[torch.Tensor]: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: StrPath,
    size: int | None = None,
    batch_size: int = 8,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
) -> list[Path]: ...


@overload
def translate(
    generator: nn.Module,
    inputs: PathInputs,
    *,
    output_dir: StrPath | None,
    size: int | None = None,
    batch_size: int = 8,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
) -> list[torch.Tensor] | list[Path]: ...


def translate(
    generator: nn.Module,
    inputs: torch.Tensor | PathInputs,
    *,
    output_dir: StrPath | None = None,
    size: int | None = None,
    batch_size: int = 8,
    device: _DeviceLike | None = None,
    suffix: str = "",
    fit: FitMode = "pad",
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
    restored and the generator is moved back if ``device`` moved it.

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
        batch_size: Most images run through the generator at once.
        device: Device to run on; ``None`` uses the generator's device.
        suffix: Appended to the file stem of each saved image. Only with ``output_dir``.
        fit: ``"pad"`` (reflect-pad, then crop the output; exact at the original pixels) or
            ``"resize"`` (resize to the nearest accepted size and back).

    Returns:
        For a tensor input, the translated batch on the input's device and in its dtype. For path
        inputs without ``output_dir``, a list with one ``(C, H, W)`` float32 CPU tensor per
        image file; with ``output_dir``, the list of saved PNG paths. Lists follow input order.

    Raises:
        FileNotFoundError: An input file or folder does not exist (named in the message).
        ValueError: A folder holds no images, an option is invalid or does not apply to the
            input kind, two inputs would be saved under the same name, or a result would
            overwrite its input image. Raised before anything is read or written.
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
    """
    check_choice("fit", fit, FIT_MODES)
    check_int("translate batch_size", batch_size, 1)
    check_optional_int("translate size", size, 1)
    if suffix and output_dir is None:
        raise ValueError(f"suffix is only used with output_dir; got suffix={suffix!r}")
    divisor = _divisor(generator, default=4)
    min_size = _min_size(generator, divisor)
    in_channels = _in_channels(generator)
    run_device = torch.device(device) if device is not None else None

    if isinstance(inputs, torch.Tensor):
        for name, value in (("output_dir", output_dir), ("size", size)):
            if value is not None:
                raise ValueError(
                    f"{name} applies to image files; for a tensor input it must be None "
                    f"(got {value!r}); resize or save the returned tensor yourself"
                )
        check_image_batch(inputs, module="translate", channels=in_channels, argument="inputs")
        return _translate_tensor(
            generator, inputs, batch_size, run_device, divisor=divisor, min_size=min_size, fit=fit
        )

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
                results[i] = image.clone()

    try:
        _translate_files(
            generator,
            files,
            finish,
            failures,
            channels=in_channels,
            size=size,
            batch_size=batch_size,
            device=run_device,
            divisor=divisor,
            min_size=min_size,
            fit=fit,
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
    divisor: int,
    min_size: int,
    fit: FitMode,
) -> None:
    """Load, batch and translate ``files``; record unreadable ones in ``failures``."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(generator))
        if device is not None:
            stack.enter_context(on_device(generator, device))
        dev, dtype = device_and_dtype(generator)
        # Images wait in one bucket per size until a full batch is ready; too many waiting
        # images (many distinct sizes) flush the fullest bucket, which bounds memory.
        buckets: dict[tuple[int, int], list[tuple[int, torch.Tensor]]] = {}
        pending = 0

        def flush(key: tuple[int, int]) -> None:
            nonlocal pending
            items = buckets.pop(key)
            pending -= len(items)
            x = torch.stack([t for _, t in items]).to(dev, dtype)
            with torch.inference_mode():
                y = _run_fitted(generator, x, divisor=divisor, min_size=min_size, fit=fit)
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
    *,
    divisor: int,
    min_size: int,
    fit: FitMode,
) -> torch.Tensor:
    outputs: list[torch.Tensor] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(generator))
        if device is not None:
            stack.enter_context(on_device(generator, device))
        dev, dtype = device_and_dtype(generator)
        for start in range(0, inputs.shape[0], batch_size):
            chunk = inputs[start : start + batch_size]
            with torch.inference_mode():
                y = _run_fitted(
                    generator, chunk.to(dev, dtype), divisor=divisor, min_size=min_size, fit=fit
                )
            outputs.append(y.to(inputs.device, inputs.dtype))
    if not outputs:  # an empty batch
        channels = getattr(generator, "out_channels", inputs.shape[1])
        return inputs.new_empty((0, int(channels), *inputs.shape[2:]))
    # Concatenating outside inference mode returns an ordinary tensor (usable with autograd).
    return torch.cat(outputs)


# --------------------------------------------------------------------------------------- export
def _require_onnx() -> None:
    for name in ("onnxscript", "onnx"):
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(
                f"ONNX export needs the {name!r} package, which is not installed; "
                f"install the onnx extra: {_ONNX_HINT}"
            ) from err


@contextlib.contextmanager
def _export_module(generator: nn.Module) -> Iterator[nn.Module]:
    """Yield ``generator`` in eval mode on the CPU in float32, leaving the original unchanged."""
    floating = [t for t in (*generator.parameters(), *generator.buffers()) if t.is_floating_point()]
    if all(t.device.type == "cpu" and t.dtype == torch.float32 for t in floating):
        with eval_mode(generator):
            yield generator
    else:  # export a CPU float32 copy rather than move (and round) the caller's weights
        yield copy.deepcopy(generator).to("cpu", torch.float32).eval()


def _second_example(example: torch.Tensor, divisor: int) -> torch.Tensor:
    n, c, h, w = example.shape
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n + 1, c, h + divisor, w + 2 * divisor, generator=gen) * 2 - 1


def export_generator(
    generator: nn.Module,
    path: StrPath,
    *,
    format: ExportFormat = "torchscript",
    example_input: torch.Tensor | None = None,
    size: int = 256,
    opset: int | None = None,
    dynamic: bool = True,
) -> Path:
    """Export a generator as TorchScript or ONNX for deployment.

    The generator is first run eagerly on the example input, so a wrong shape raises the
    generator's own :class:`~unpaired_i2i.ShapeError` rather than an exporter error. Export
    happens in eval mode on the CPU in float32; the generator is left as it was (training mode
    restored; a generator on another device or in another dtype is copied, not moved).

    - ``"torchscript"``: :func:`torch.jit.trace`, saved with :func:`torch.jit.save` (read it back
      with :func:`load_exported` or ``torch.jit.load``). PyTorch deprecates TorchScript in favour
      of ``torch.export`` and warns about it (``FutureWarning``). A trace records no Python
      control flow; with ``dynamic=True`` the trace is checked against the eager generator at a
      second batch size and image size.
    - ``"onnx"``: the ``torch.export``-based :func:`torch.onnx.export` (needs the ``onnx``
      extra: ``pip install 'unpaired-i2i[onnx]'``), one self-contained file with input
      ``"input"`` and output ``"output"``. With ``dynamic=True`` the batch size and ``H``/``W``
      are dynamic axes (``H`` and ``W`` multiples of ``generator.downsampling_factor``).

    The file is written to a temporary file in the same folder, flushed to disk and then
    renamed, so ``path`` never holds a partial export. Missing parent folders are created.

    Args:
        generator: The generator to export.
        path: Destination file (conventionally ``.pt`` for TorchScript, ``.onnx`` for ONNX).
        format: ``"torchscript"`` or ``"onnx"``.
        example_input: Input to trace / export with; default ``(1, in_channels, size, size)``
            seeded uniform noise in ``[-1, 1]``.
        size: Side of the default example input.
        opset: ONNX opset version; ``None`` lets the exporter choose. Only for ONNX.
        dynamic: Export dynamic batch and spatial axes (ONNX), or check that the trace
            generalises to other sizes (TorchScript).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``format`` is not one of ``"torchscript"``, ``"onnx"`` (listed in the
            message), or ``opset`` is given for TorchScript.
        ShapeError: The example input does not fit the generator.
        ImportError: ONNX export without the ``onnx``/``onnxscript`` packages.
        RuntimeError: The exported model does not reproduce the eager generator (TorchScript),
            or dynamic ONNX export fails (retry with ``dynamic=False``).

    Shape:
        - Example input: ``(N, C_in, H, W)`` in ``[-1, 1]``, ``H`` and ``W`` divisible by the
          downsampling factor.
        - Exported model: ``(N, C_in, H, W) -> (N, C_out, H, W)`` in ``[-1, 1]``.

    Example:
        >>> import tempfile, pathlib, warnings, torch
        >>> from unpaired_i2i import ResnetGenerator, export_generator, load_exported
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1)
        >>> with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation
        ...     path = export_generator(g, pathlib.Path(tmp) / "g2f.pt", size=32)
        ...     print(path.name, load_exported(path)(torch.zeros(2, 3, 24, 40)).shape)
        g2f.pt torch.Size([2, 3, 24, 40])
    """
    check_choice("format", format, EXPORT_FORMATS)
    if format == "onnx":
        _require_onnx()
    elif opset is not None:
        raise ValueError(f"opset applies to format='onnx'; got opset={opset!r} for {format!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if example_input is None:
        check_int("export_generator size", size, 1)
        seeded = torch.Generator().manual_seed(0)
        shape = (1, _in_channels(generator), size, size)
        example = torch.rand(shape, generator=seeded) * 2 - 1
    else:
        example = example_input.detach().to("cpu", torch.float32)

    with _export_module(generator) as module:
        with torch.no_grad():
            expected = _call(module, example)  # eager run: raises ShapeError for bad shapes
        if format == "torchscript":
            _export_torchscript(module, target, example, expected, dynamic=dynamic)
        else:
            _export_onnx(module, target, example, opset=opset, dynamic=dynamic)
    return target


def _export_torchscript(
    module: nn.Module, target: Path, example: torch.Tensor, expected: torch.Tensor, *, dynamic: bool
) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        # Shape-check branches in torch's own modules warn while tracing; the comparisons below
        # check the trace instead.
        warnings.simplefilter("ignore", TracerWarning)
        traced = torch.jit.trace(module, example, check_trace=False)  # type: ignore[no-untyped-call]
        checks = [(example, expected)]
        if dynamic:
            other = _second_example(example, _divisor(module, default=1))
            checks.append((other, _call(module, other)))
        for x, want in checks:
            try:
                torch.testing.assert_close(_call(traced, x), want, rtol=1e-4, atol=1e-5)
            except Exception as err:
                hint = "; pass dynamic=False to export a trace for one size only" if dynamic else ""
                raise RuntimeError(
                    f"the TorchScript trace of {type(module).__name__} does not reproduce it on "
                    f"input of shape {tuple(x.shape)}{hint}: {err}"
                ) from err
    write_atomic(target, lambda f: torch.jit.save(traced, f))


def _export_onnx(
    module: nn.Module, target: Path, example: torch.Tensor, *, opset: int | None, dynamic: bool
) -> None:
    dynamic_shapes: tuple[dict[int, Any], ...] | None = None
    if dynamic:
        divisor = _divisor(module, default=1)
        _, _, h, w = example.shape
        if h % divisor or w % divisor:
            raise ShapeError(
                f"export_generator expects example_input with H and W divisible by {divisor} "
                f"for dynamic ONNX axes; got {tuple(example.shape)}"
            )
        height, width = torch.export.Dim("height"), torch.export.Dim("width")
        dynamic_shapes = (
            {
                0: torch.export.Dim("batch"),
                2: height * divisor if divisor > 1 else height,
                3: width * divisor if divisor > 1 else width,
            },
        )
    try:
        program = torch.onnx.export(
            module,
            (example,),
            None,
            input_names=["input"],
            output_names=["output"],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )
    except Exception as err:
        if not dynamic:
            raise
        raise RuntimeError(
            f"ONNX export of {type(module).__name__} with dynamic batch and H/W axes failed; "
            f"pass dynamic=False to export fixed shapes: {err}"
        ) from err
    if program is None:  # pragma: no cover - dynamo=True always returns the program
        raise RuntimeError(f"torch.onnx.export returned no program for {type(module).__name__}")
    # One self-contained file (weights included): what ONNXProgram.save writes for a model
    # under protobuf's 2 GB limit, here through the atomic writer.
    data: bytes = program.model_proto.SerializeToString()
    write_atomic(target, lambda f: f.write(data))


def load_exported(path: StrPath, *, map_location: _DeviceLike | None = None) -> torch.nn.Module:
    """Load a generator exported with ``format="torchscript"``.

    ONNX files are run with ONNX Runtime instead
    (``onnxruntime.InferenceSession(path).run(None, {"input": array})``).

    Args:
        path: A file written by :func:`export_generator`.
        map_location: Device to load the weights onto (default: where they were saved, the CPU).

    Returns:
        The TorchScript module, callable like the generator (in eval mode).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is an ONNX file or not a TorchScript file.

    Shape:
        - Input: ``(N, C_in, H, W)`` in ``[-1, 1]``; output ``(N, C_out, H, W)`` in ``[-1, 1]``.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"exported generator not found: {file}")
    if file.suffix.lower() == ".onnx":
        raise ValueError(
            f"{file} is an ONNX file; run it with onnxruntime.InferenceSession, not load_exported"
        )
    try:
        module: nn.Module = torch.jit.load(str(file), map_location=map_location)  # type: ignore[no-untyped-call]
    except Exception as err:
        raise ValueError(f"cannot load TorchScript file {file}: {err}") from err
    return module
