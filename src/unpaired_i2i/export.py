"""Export a generator as TorchScript or ONNX for deployment, and load TorchScript back.

:func:`export_generator` writes a generator as TorchScript (``torch.jit.trace``) or ONNX (the
``torch.export``-based exporter), checked against the eager generator and written atomically;
:func:`load_exported` reads a TorchScript file back.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TypeAlias

import torch
from torch import nn
from torch.jit._trace import TracerWarning  # public as torch.jit.TracerWarning, not re-exported

from unpaired_i2i._checks import ShapeError, check_choice, check_int
from unpaired_i2i._generators import call_generator, divisor_of, in_channels_of
from unpaired_i2i._io import StrPath, write_atomic
from unpaired_i2i._modules import eval_mode

__all__ = ["EXPORT_FORMATS", "ExportFormat", "export_generator", "load_exported"]

ExportFormat: TypeAlias = Literal["torchscript", "onnx"]
"""File formats written by :func:`export_generator`."""

EXPORT_FORMATS: tuple[ExportFormat, ...] = ("torchscript", "onnx")

_DeviceLike: TypeAlias = torch.device | str
_ONNX_HINT = "pip install 'unpaired-i2i[onnx]'"


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
        shape = (1, in_channels_of(generator), size, size)
        example = torch.rand(shape, generator=seeded) * 2 - 1
    else:
        example = example_input.detach().to("cpu", torch.float32)

    with _export_module(generator) as module:
        with torch.no_grad():
            # An eager run first: a bad shape raises the generator's own ShapeError.
            expected = call_generator(module, example)
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
            other = _second_example(example, divisor_of(module, default=1))
            checks.append((other, call_generator(module, other)))
        for x, want in checks:
            try:
                torch.testing.assert_close(call_generator(traced, x), want, rtol=1e-4, atol=1e-5)
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
        divisor = divisor_of(module, default=1)
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
