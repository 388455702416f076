"""What every ``unpaired-i2i`` command shares: errors, option types, help texts, loading.

The bottom floor of :mod:`unpaired_i2i.cli`: :mod:`~unpaired_i2i.cli.parser` (the options),
:mod:`~unpaired_i2i.cli.commands` and :mod:`~unpaired_i2i.cli.evaluate` (what the commands do)
import from here and never from each other in a circle.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import torch

from unpaired_i2i._io import write_atomic

PROG = "unpaired-i2i"

_N = TypeVar("_N", int, float)


class UsageError(Exception):
    """A bad command-line argument: reported as one line, exit status 2."""


class CommandError(Exception):
    """A command failed for a reason its message explains: exit status 1, no traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and example epilogs as written; appends ``(default: ...)`` to options.

    The default is appended unless the help already names it, or the option is a flag, is
    required, or defaults to ``None`` (those helps say in words what happens without them).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


def _number_parser(
    convert: Callable[[str], _N], ok: Callable[[_N], bool], expected: str
) -> Callable[[str], _N]:
    """An argparse ``type`` that converts with ``convert`` and accepts values where ``ok``."""

    def parse(text: str) -> _N:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number_parser(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number_parser(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number_parser(float, lambda v: v > 0, "a number > 0")
_non_negative_float = _number_parser(float, lambda v: v >= 0, "a number >= 0")
_unit_float = _number_parser(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


_WIDTH = 92  # the example epilogs are written for this width

_DIRECTION_HELP = (
    "xy: X to Y, the first domain to the second (trainA to trainB: summer to winter for the "
    "demo and summer2winter_yosemite); yx: Y to X, the reverse"
)
_CHECKPOINT_HELP = (
    "training checkpoint (.pt), a run folder (its checkpoints/last.pt), or a generator file: "
    "the reference implementation's (e.g. summer2winter_yosemite.pth from download-model) or "
    "a saved ResnetGenerator state dict; the kind is detected"
)
_PRESET_HELP = (
    "generator files only: the layout to build (default: read from the file; cyclegan for "
    "reference files)"
)
_GEN_BLOCKS_HELP = (
    "generator files only: residual blocks, checked against the file (default: read from it)"
)
_DEVICE_HELP = "cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)"
_NO_EMA_HELP = "use the trained generator weights, not their EMA average (when the run kept one)"


def _subparser(
    sub: Any, name: str, summary: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, width=_WIDTH),
        epilog=epilog,
        formatter_class=_HelpFormatter,
    )
    return parser


# ------------------------------------------------------------------------- command helpers
def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"argument --device: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"argument --device: {name!r} asked for, but CUDA is not available")
    return device


def _checkpoint_file(path_text: str, *, missing: str = "argument checkpoint: not found") -> Path:
    """A checkpoint file or a run folder's ``checkpoints/last.pt``; ``missing`` opens the error."""
    path = Path(path_text)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.exists():
        raise UsageError(f"{missing}: {path}")
    return path


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))


def _generator(args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    """The generator of a checkpoint, run folder or generator file (the kind is detected)."""
    from unpaired_i2i.pretrained import load_generator_file

    return load_generator_file(
        _checkpoint_file(args.checkpoint),
        direction=args.direction,
        use_ema=not args.no_ema,
        preset=args.preset,
        n_blocks=args.n_blocks,
        map_location=device,
    )
