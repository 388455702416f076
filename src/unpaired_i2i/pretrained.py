"""Load a generator from any file this library or the reference implementation writes.

:func:`load_generator_file` reads the file once (``torch.load`` with ``weights_only=True``, so
nothing in it runs) and tells three kinds apart by their keys:

* a **training checkpoint** (``unpaired-i2i train``, :meth:`CycleTrainer.save_checkpoint`): a
  dict with ``meta`` and ``model``, which records its architecture; the generator of the asked
  ``direction`` is rebuilt with :func:`~unpaired_i2i.load_cyclegan` (EMA weights preferred);
* a **reference generator file**, as the reference implementation (pytorch-CycleGAN-and-pix2pix)
  saves and publishes them (``summer2winter_yosemite.pth``, ``latest_net_G_A.pth``): a bare
  state dict whose keys start with ``model.`` (or ``module.model.``), possibly with the stale
  InstanceNorm statistics old PyTorch versions wrote. The layout is read from the keys and
  shapes (width, number of residual blocks and of downsamplings, norm, dropout, zero or
  reflection padding) and loaded with
  :meth:`~unpaired_i2i.ResnetGenerator.load_reference_state_dict`;
* a **generator state dict** of this library (``torch.save(generator.state_dict(), path)``):
  keys ``stem.``, ``encoder.``, ``blocks.``, ... Its preset is ``cyclegan`` (``basic`` when it
  has no stem) unless given; widths and the number of blocks are read from the keys.

``preset`` and ``n_blocks`` settle what the keys cannot say, and are checked against what they
can: ``n_blocks`` must match the blocks in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from unpaired_i2i._checks import check_choice, check_optional_int
from unpaired_i2i._io import StrPath
from unpaired_i2i.models.generators import GENERATOR_PRESETS, ResnetGenerator
from unpaired_i2i.training.checkpoint import CheckpointError, load_checkpoint_file, load_cyclegan

__all__ = ["load_generator_file"]

#: The kinds of file :func:`load_generator_file` tells apart.
_Kind = Literal["checkpoint", "reference", "state_dict"]

_ACCEPTED = (
    "or a generator file: the reference implementation's (e.g. summer2winter_yosemite.pth, "
    "from unpaired-i2i download-model) or a saved ResnetGenerator state dict"
)
_OUR_PREFIXES = ("stem.", "encoder.", "blocks.", "decoder.", "head.")
_BLOCK_RE = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.weight$")
_TOP_RE = re.compile(r"^model\.(\d+)\.weight$")
#: The two conv indices inside a reference residual block -> (padding, dropout): a pad layer
#: shifts the convs to 1 and 5, dropout the second one by one more.
_BLOCK_LAYOUTS: dict[tuple[int, ...], tuple[str, float]] = {
    (1, 5): ("reflect", 0.0),
    (1, 6): ("reflect", 0.5),
    (0, 3): ("zero", 0.0),
    (0, 4): ("zero", 0.5),
}


def _strip_module(state: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` prefix ``DataParallel`` adds to every key."""
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module.") :]: value for key, value in state.items()}
    return dict(state)


def _kind(state: Mapping[str, Any]) -> _Kind | None:
    if "meta" in state and "model" in state:
        return "checkpoint"
    if not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        return None
    keys = _strip_module(state)
    if all(key.startswith("model.") for key in keys):
        return "reference"
    if all(key.startswith(_OUR_PREFIXES) for key in keys):
        return "state_dict"
    return None


def _reference_config(state: Mapping[str, torch.Tensor], where: str) -> dict[str, Any]:
    """Constructor arguments of the generator a reference state dict was saved from.

    Reference ResNet generator: ``model.0`` pad, ``model.1`` 7x7 conv, ``model.2`` norm,
    ``model.3`` ReLU; then ``n_downsampling`` (conv, norm, ReLU) triples; then the residual
    blocks (``model.i.conv_block.*``); then the transposed convs and the 7x7 head.
    """
    blocks: dict[int, set[int]] = {}
    top: dict[int, torch.Tensor] = {}
    for key, value in state.items():
        if value.dim() != 4:  # conv weights only (norm layers have 1-D weights)
            continue
        if match := _BLOCK_RE.match(key):
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
        elif match := _TOP_RE.match(key):
            top[int(match.group(1))] = value
    stem = top.get(1)
    if stem is None or tuple(stem.shape[2:]) != (7, 7) or not blocks:
        raise ValueError(
            f"{where} has reference keys (model.*) but not the layout of the reference ResNet "
            "generator (resnet_9blocks / resnet_6blocks: a 7x7 conv at model.1 and residual "
            "blocks model.N.conv_block.*); other reference generators (U-Net) are not supported"
        )
    first_block = min(blocks)
    n_down, rest = divmod(first_block - 4, 3)
    convs = tuple(sorted(blocks[first_block]))
    if rest or n_down < 0 or convs not in _BLOCK_LAYOUTS:
        raise ValueError(
            f"{where}: cannot read the residual block layout from its keys (first block at "
            f"model.{first_block}, convs at conv_block.{list(convs)})"
        )
    padding, dropout = _BLOCK_LAYOUTS[convs]
    return {
        "in_channels": int(stem.shape[1]),
        "out_channels": int(top[max(top)].shape[0]),
        "base_channels": int(stem.shape[0]),
        "n_blocks": len(blocks),
        "n_downsampling": n_down,
        "norm": "batch" if "model.2.weight" in state else "instance",
        "padding": padding,
        "dropout": dropout,
    }


def _state_dict_config(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Widths and counts of a generator state dict of this library, read from its keys."""
    first = state.get("stem.conv.weight", state.get("encoder.0.conv.weight"))
    blocks = {key.split(".")[1] for key in state if key.startswith("blocks.")}
    encoder = {key.split(".")[1] for key in state if key.startswith("encoder.")}
    config: dict[str, Any] = {"n_blocks": len(blocks), "n_downsampling": len(encoder)}
    if first is not None and first.dim() == 4:
        config["base_channels"] = int(first.shape[0])
        config["in_channels"] = int(first.shape[1])
    head = state.get("head.conv.weight")
    if head is not None and head.dim() == 4:
        config["out_channels"] = int(head.shape[0])
    if any(key.endswith(".running_mean") for key in state):
        config["norm"] = "batch"  # this library's InstanceNorm keeps no statistics
    return config


def _check_n_blocks(n_blocks: int | None, found: int, where: str) -> None:
    if n_blocks is not None and n_blocks != found:
        raise ValueError(
            f"{where} holds a generator with {found} residual blocks; n_blocks={n_blocks} "
            "(--n-blocks) asks for another count"
        )


def load_generator_file(
    path: StrPath,
    *,
    direction: Literal["xy", "yx"] | None = None,
    use_ema: bool = True,
    preset: str | None = None,
    n_blocks: int | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Load one generator from a training checkpoint, a run folder or a generator file.

    The kind of file is detected from its content (see the module docstring): a training
    checkpoint or run folder (``<run>/checkpoints/last.pt``), a generator file in the reference
    implementation's layout (the published ``summer2winter_yosemite.pth`` and the like: a bare
    state dict under ``model.``, stale InstanceNorm statistics ignored), or a saved
    :class:`~unpaired_i2i.ResnetGenerator` state dict. The file is read with
    ``weights_only=True``: nothing in it runs.

    Args:
        path: The file, or a run folder.
        direction: Which generator of a training checkpoint: ``"xy"`` (default) or ``"yx"``.
            A generator file holds one generator, whose direction is the file's (e.g.
            ``summer2winter_yosemite`` vs ``winter2summer_yosemite``): ``"yx"`` is refused.
        use_ema: Prefer the EMA weights of a training checkpoint when it has them.
        preset: For generator files, the :data:`~unpaired_i2i.models.GENERATOR_PRESETS` entry
            the architecture starts from; what the keys tell (widths, blocks, norm, dropout,
            padding) overrides it. Default: ``cyclegan`` (``basic`` for a state dict without
            stem). Refused with a training checkpoint, which records its architecture.
        n_blocks: For generator files, the number of residual blocks, checked against the file.
            Refused with a training checkpoint.
        map_location: Device the generator is returned on.

    Returns:
        The generator in eval mode on ``map_location``.

    Raises:
        FileNotFoundError: ``path`` (or the run folder's ``checkpoints/last.pt``) is missing.
        CheckpointError: The file cannot be read, or holds none of the kinds above (the
            message says what it looks like and what is accepted).
        ValueError: An argument is invalid or does not fit the file (``direction="yx"`` or
            ``preset`` with a generator file, a block count that differs), or the weights do
            not fit the architecture (keys or shapes named).

    Example:
        >>> import tempfile, pathlib, torch
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = pathlib.Path(d) / "g.pt"
        ...     torch.save(g.state_dict(), path)
        ...     loaded = load_generator_file(path)
        >>> loaded.get_config()["n_blocks"], loaded.training
        (2, False)
    """
    if direction is not None:
        check_choice("direction", direction, ("xy", "yx"))
    if preset is not None:
        check_choice("preset", preset, GENERATOR_PRESETS)
    check_optional_int("n_blocks", n_blocks, 0)
    file = Path(os.fspath(path))
    if file.is_dir():
        file = file / "checkpoints" / "last.pt"
        if not file.exists():
            raise FileNotFoundError(f"no checkpoint in run folder {file.parent.parent}: {file}")
    try:
        loaded = load_checkpoint_file(file, required_keys=None)
    except CheckpointError as err:
        raise CheckpointError(f"{err}; {_ACCEPTED}") from None
    kind = _kind(loaded)
    where = str(file)
    if kind == "checkpoint":
        if preset is not None or n_blocks is not None:
            raise ValueError(
                f"{where} is a training checkpoint, which records its architecture; preset "
                "and n_blocks (--preset, --n-blocks) apply to generator files only"
            )
        del loaded  # read again, checked, by load_cyclegan
        model = load_cyclegan(file, use_ema=use_ema)
        generator: nn.Module = model.g_yx if direction == "yx" else model.g_xy
        return generator.to(map_location).eval()
    if kind is None:
        listed = ", ".join(list(map(str, loaded))[:5])
        raise CheckpointError(
            f"{where} is neither a training checkpoint nor a generator state dict (first keys: "
            f"{listed}); expected a training checkpoint (.pt) written by `unpaired-i2i train`, "
            f"{_ACCEPTED}"
        )
    if direction == "yx":
        raise ValueError(
            f"{where} holds one generator, whose direction is that of the file (e.g. "
            "summer2winter_yosemite vs winter2summer_yosemite); direction 'yx' applies to "
            "training checkpoints only"
        )
    state = _strip_module(loaded)
    if kind == "reference":
        config = _reference_config(state, where)
        _check_n_blocks(n_blocks, config["n_blocks"], where)
        generator = ResnetGenerator.from_preset(preset or "cyclegan", **config)
        generator.load_reference_state_dict(state)
    else:
        config = _state_dict_config(state)
        _check_n_blocks(n_blocks, config["n_blocks"], where)
        default = "cyclegan" if "stem.conv.weight" in state else "basic"
        generator = ResnetGenerator.from_preset(preset or default, **config)
        try:
            generator.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(
                f"{where} does not fit the {preset or default!r} generator layout (pass the "
                f"preset it was built with, --preset): {err}"
            ) from None
    return generator.to(map_location).eval()
