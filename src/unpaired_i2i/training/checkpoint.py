"""Checkpoint files: an atomic writer and a safe (``weights_only``) reader.

A training checkpoint is one ``torch.save`` file holding a dict of tensors and plain Python
values only (dicts, lists, tuples, str, int, float, bool, None), so that it loads with
``torch.load(path, weights_only=True)`` and loading never runs code from the file. Its
top-level keys are :data:`CHECKPOINT_KEYS`; ``meta`` carries :data:`FORMAT_VERSION`.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from unpaired_i2i._io import StrPath, copy_atomic, write_atomic
from unpaired_i2i.models.cyclegan import NETWORK_NAMES, CycleGAN

__all__ = [
    "CHECKPOINT_KEYS",
    "FORMAT_VERSION",
    "CheckpointError",
    "load_checkpoint_file",
    "load_cyclegan",
    "replace_with_copy",
    "save_checkpoint_file",
]

FORMAT_VERSION = 1
"""Version of the checkpoint layout written by :meth:`CycleTrainer.save_checkpoint`."""

CHECKPOINT_KEYS: tuple[str, ...] = (
    "meta",
    "config",
    "model",
    "optimizer_g",
    "optimizer_d",
    "scheduler_g",
    "scheduler_d",
    "grad_scaler",
    "pool_x",
    "pool_y",
    "rng",
    "trainer",
    "callbacks",
)
"""Top-level keys every training checkpoint has (callbacks may add more)."""

_PLAIN_TYPES = (str, bytes, int, float, bool, complex, type(None), torch.dtype, torch.device)


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be written, read, or does not hold a training checkpoint.

    The message always names the file. Raised for unreadable, truncated or foreign files, for
    files that hold anything but tensors and plain Python values (they are refused without
    running code from them), for a missing top-level key or another format version, and for
    a checkpoint that does not fit the trainer it is loaded into.
    """


def _check_plain(obj: Any, where: str, seen: set[int]) -> None:
    if isinstance(obj, torch.Tensor):
        if type(obj) not in (torch.Tensor, torch.nn.Parameter):
            raise TypeError(f"{where} is a tensor subclass {type(obj).__name__}")
        return
    if isinstance(obj, _PLAIN_TYPES) or isinstance(obj, torch.Size):
        return
    if isinstance(obj, dict | list | tuple | set | frozenset):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            for key, value in obj.items():
                _check_plain(key, f"{where} key {key!r}", seen)
                _check_plain(value, f"{where}[{key!r}]", seen)
        else:
            for i, value in enumerate(obj):
                _check_plain(value, f"{where}[{i}]", seen)
        return
    raise TypeError(f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}")


def check_weights_only(obj: Any, path: StrPath = "<checkpoint>") -> None:
    """Raise :class:`CheckpointError` unless ``obj`` holds only tensors and plain values.

    Such an object is exactly what ``torch.load(..., weights_only=True)`` can read back.

    Args:
        obj: The object about to be saved.
        path: The file it is meant for, named in the message.

    Raises:
        CheckpointError: ``obj`` holds another type; the message names the entry.
    """
    try:
        _check_plain(obj, "checkpoint", set())
    except TypeError as err:
        raise CheckpointError(
            f"cannot write checkpoint {os.fspath(path)}: {err}; checkpoints hold only tensors "
            "and plain Python values (dict, list, tuple, str, int, float, bool, None) so that "
            "they load with torch.load(weights_only=True)"
        ) from None


def save_checkpoint_file(obj: Mapping[str, Any], path: StrPath) -> Path:
    """Write ``obj`` with :func:`torch.save` atomically: all of it or nothing.

    The data goes to a temporary file in the same folder, is flushed and ``fsync``-ed, then
    renamed over ``path`` with :func:`os.replace` (atomic on POSIX and Windows); the folder is
    ``fsync``-ed where the platform allows. If anything fails, the temporary file is removed
    and an existing file at ``path`` is left as it was. Missing parent folders are created.

    Args:
        obj: The checkpoint: tensors and plain Python values only.
        path: Destination file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        CheckpointError: ``obj`` holds a type ``weights_only`` loading refuses, or writing
            failed (the message names the file; the cause is chained).

    Example:
        >>> import tempfile, torch
        >>> folder = tempfile.mkdtemp()
        >>> path = save_checkpoint_file({"w": torch.ones(2)}, f"{folder}/a.pt")
        >>> torch.load(path, weights_only=True)["w"].tolist()
        [1.0, 1.0]
    """
    target = Path(os.fspath(path))
    check_weights_only(obj, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"cannot create the folder of checkpoint {target}: {err}") from err
    try:
        return write_atomic(target, lambda f: torch.save(obj, f))
    except Exception as err:
        raise CheckpointError(f"cannot write checkpoint {target}: {err}") from err


def replace_with_copy(source: StrPath, target: StrPath) -> Path:
    """Atomically make ``target`` a copy of the finished file ``source``.

    Hard-links ``source`` to a temporary name next to ``target`` (copying and ``fsync``-ing
    where links are not supported) and renames it over ``target``. Used for ``last.pt``.

    Args:
        source: An existing, completely written file.
        target: The file to replace.

    Returns:
        ``target`` as a :class:`~pathlib.Path`.

    Raises:
        CheckpointError: The copy or rename failed; ``target`` is left as it was.
    """
    src = Path(os.fspath(source))
    dst = Path(os.fspath(target))
    try:
        return copy_atomic(src, dst)
    except Exception as err:
        raise CheckpointError(f"cannot update checkpoint {dst} from {src}: {err}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


#: What a checkpoint is, for messages about files that are not one.
_EXPECTED = (
    "expected a training checkpoint (.pt) written by `unpaired-i2i train` or "
    "CycleTrainer.save_checkpoint (the command line also takes a run folder)"
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
)

# torch's own messages advise re-running with weights_only=False: never pass that on.
_UNSAFE_ADVICE = re.compile(r"weights_only|arbitrary code", re.IGNORECASE)
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def _sniff(file: Path) -> str | None:
    """What ``file`` looks like when it is clearly not a torch checkpoint, else ``None``."""
    try:
        with file.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if not head:
        return "the file is empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"it looks like {kind}"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "it looks like a WebP image"
    if file.suffix.lower() == ".onnx":
        return "it looks like an ONNX model (unpaired-i2i export --format onnx)"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(file) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None  # a damaged zip: most likely a truncated torch checkpoint
        if any("/code/" in name or name.endswith("/constants.pkl") for name in names):
            return "it looks like an exported TorchScript model (unpaired-i2i export)"
        if not any(name.endswith("/data.pkl") for name in names):
            return "it looks like a zip archive of other files"
        return None
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "it looks like a text file"
    return None


def _load_error(file: Path, err: Exception) -> CheckpointError:
    """The :class:`CheckpointError` for a failed ``torch.load``, without torch's advice."""
    if isinstance(err, pickle.UnpicklingError):
        found = _GLOBAL.search(str(err))
        if found:
            return CheckpointError(
                f"refused to load checkpoint {file}: it holds a Python object of type "
                f"{found.group(1)}, which a training checkpoint never contains (only tensors "
                "and plain values); loading it could run code from the file, so nothing in it "
                f"was run; {_EXPECTED}"
            )
        return CheckpointError(
            f"refused to load checkpoint {file}: it is not a torch checkpoint of tensors and "
            f"plain values (damaged, foreign or unsafe; nothing in it was run); {_EXPECTED}"
        )
    detail = _first_line(err)
    detail = "" if _UNSAFE_ADVICE.search(detail) else f": {type(err).__name__}: {detail}"
    return CheckpointError(
        f"cannot read checkpoint {file}: it is truncated or damaged, or not a PyTorch "
        f"checkpoint{detail}; {_EXPECTED}"
    )


def load_checkpoint_file(
    path: StrPath,
    *,
    map_location: str | torch.device = "cpu",
    required_keys: Iterable[str] | None = CHECKPOINT_KEYS,
) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)`` and check its layout.

    Loading never runs code from the file: anything but tensors and plain Python values is
    refused. A file that is not a checkpoint at all (an image, a text file, an exported model,
    an empty file) is named as such in the message, with what was expected instead.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are loaded (RNG states must stay on the CPU, so the trainer
            loads to ``"cpu"`` and moves what it needs).
        required_keys: Top-level keys that must be present (default: :data:`CHECKPOINT_KEYS`,
            plus ``meta["format_version"] == FORMAT_VERSION``); ``None`` skips the layout check.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: ``path`` is a folder, the file is truncated or not a checkpoint,
            holds other objects than tensors and plain values, lacks a required key or has
            another format version.
    """
    file = Path(os.fspath(path))
    if not file.exists():
        raise FileNotFoundError(f"checkpoint not found: {file}")
    if file.is_dir():
        raise CheckpointError(
            f"{file} is a folder, not a checkpoint file; expected a training checkpoint (.pt) "
            f"such as a run folder's checkpoints/last.pt"
        )
    kind = _sniff(file)  # before torch.load, which warns about or misreads some foreign files
    if kind is not None:
        raise CheckpointError(f"{file} is not a PyTorch checkpoint ({kind}); {_EXPECTED}")
    try:
        loaded = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as err:
        # from None: torch's own message would advise loading with weights_only=False.
        raise _load_error(file, err) from None
    if required_keys is None:
        if not isinstance(loaded, dict):
            raise CheckpointError(
                f"checkpoint {file} holds a {type(loaded).__name__}, expected a dict"
            )
        return loaded
    return validate_checkpoint(loaded, file, required_keys=required_keys)


def validate_checkpoint(
    checkpoint: Any, source: StrPath, *, required_keys: Iterable[str] = CHECKPOINT_KEYS
) -> dict[str, Any]:
    """Check that ``checkpoint`` has the training-checkpoint layout this version reads.

    Args:
        checkpoint: A loaded checkpoint.
        source: Where it came from, named in messages.
        required_keys: Top-level keys that must be present.

    Returns:
        ``checkpoint``.

    Raises:
        CheckpointError: Not a dict, a required key is missing, or the format version differs.
    """
    where = os.fspath(source)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {where} holds a {type(checkpoint).__name__}, expected a dict with keys "
            f"{list(required_keys)}"
        )
    meta = checkpoint.get("meta")
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {where} has format version {version!r}; this version of unpaired-i2i "
            f"reads format version {FORMAT_VERSION} (is it a training checkpoint?)"
        )
    missing = [key for key in required_keys if key not in checkpoint]
    if missing:
        raise CheckpointError(f"checkpoint {where} lacks the keys {missing}")
    return checkpoint


def load_cyclegan(
    path: StrPath, *, use_ema: bool = True, map_location: str | torch.device = "cpu"
) -> CycleGAN:
    """Rebuild the trained :class:`~unpaired_i2i.CycleGAN` stored in a training checkpoint.

    The architecture comes from ``checkpoint["meta"]["model_config"]`` and the weights from
    ``checkpoint["model"]``; with ``use_ema`` the generators take the averaged weights of an
    :class:`~unpaired_i2i.EMA` callback when the checkpoint holds them. The networks are
    returned in eval mode. The file is read with ``weights_only=True``.

    Args:
        path: A checkpoint written by :meth:`CycleTrainer.save_checkpoint` or
            :class:`~unpaired_i2i.ModelCheckpoint`.
        use_ema: Prefer the EMA generator weights when present.
        map_location: Device the weights are loaded to.

    Returns:
        The model, on ``map_location``, in eval mode.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: The file is not a training checkpoint, or it does not record the
            architecture (models built from custom networks: rebuild the model yourself and use
            :meth:`CycleTrainer.load_checkpoint`).
    """
    checkpoint = load_checkpoint_file(path, map_location=map_location)
    where = os.fspath(path)
    config = checkpoint["meta"].get("model_config")
    if not isinstance(config, dict):
        raise CheckpointError(
            f"checkpoint {where} does not record the model architecture (meta.model_config is "
            "missing: the model was built from custom networks); build the model yourself and "
            "use CycleTrainer.load_checkpoint"
        )
    try:
        model = CycleGAN.from_config(config)
        for name in NETWORK_NAMES:
            getattr(model, name).load_state_dict(checkpoint["model"][name])
        ema = checkpoint.get("callbacks", {}).get("EMA") if use_ema else None
        if isinstance(ema, dict) and "g_xy" in ema and "g_yx" in ema:
            model.g_xy.load_state_dict(ema["g_xy"])
            model.g_yx.load_state_dict(ema["g_yx"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"checkpoint {where} does not hold a loadable model: {type(err).__name__}: "
            f"{_first_line(err)}"
        ) from err
    return model.to(map_location).eval()
