"""Input checks used at public entry points, and the :class:`ShapeError` they raise."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import torch

__all__ = ["ShapeError", "check_choice", "check_image_batch"]

_T = TypeVar("_T")


class ShapeError(ValueError):
    """A tensor does not have the shape a module expects.

    Raised at the entry of every generator, discriminator and residual block ``forward`` with a
    message that names the module, the expected and the received shape, and says in words what is
    wrong ("4-D", "channels", "divisible", "too small").

    Example:
        >>> import torch
        >>> from unpaired_i2i import ResidualBlock, ShapeError
        >>> try:
        ...     ResidualBlock(8)(torch.zeros(1, 3, 16, 16))
        ... except ShapeError as err:
        ...     print(err)
        ResidualBlock expects input of shape (N, 8, H, W) with 8 channels; got 3 channels in ...
    """


def format_shape(shape: Sequence[int]) -> str:
    """A shape as it reads in error messages: ``(1, 3, 66, 66)``."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _tracing() -> bool:
    # Shape checks are Python control flow: skip them while TorchScript traces or scripts a model
    # (the export path checks eagerly first). torch.compile keeps them (they become guards).
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting())  # type: ignore[attr-defined,no-untyped-call]


def check_image_batch(
    x: torch.Tensor,
    *,
    module: str,
    channels: int,
    divisor: int = 1,
    min_size: int = 1,
    argument: str = "input",
) -> None:
    """Raise :class:`ShapeError` unless ``x`` is an ``(N, channels, H, W)`` batch.

    Args:
        x: The tensor to check.
        module: Name of the module, used in the message.
        channels: Required channel count ``C``.
        divisor: ``H`` and ``W`` must be divisible by this (the network's downsampling factor).
        min_size: ``H`` and ``W`` must be at least this.
        argument: Name of the argument, used in the message when it is not ``input``.

    Raises:
        ShapeError: ``x`` is not 4-D, has the wrong channel count, or has ``H``/``W`` that are
            not divisible by ``divisor`` or smaller than ``min_size``.
    """
    if _tracing():
        return
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{module} expects {argument} to be a torch.Tensor; got {type(x).__name__}")
    expected = f"(N, {channels}, H, W)"
    shape = tuple(x.shape)
    what = "input" if argument == "input" else f"{argument}"
    if x.dim() != 4:
        raise ShapeError(
            f"{module} expects a 4-D {what} of shape {expected}; "
            f"got a {x.dim()}-D tensor of shape {format_shape(shape)}"
        )
    if shape[1] != channels:
        raise ShapeError(
            f"{module} expects {what} of shape {expected} with {channels} channels; "
            f"got {shape[1]} channels in {format_shape(shape)}"
        )
    h, w = shape[2], shape[3]
    if h < min_size or w < min_size:
        raise ShapeError(
            f"{module} expects {what} of shape {expected} with H and W at least {min_size}; "
            f"got {format_shape(shape)}, which is too small"
        )
    if divisor > 1 and (h % divisor or w % divisor):
        raise ShapeError(
            f"{module} expects {what} of shape {expected} with H and W divisible by {divisor}; "
            f"got {format_shape(shape)}"
        )


def check_choice(name: str, value: _T, options: Iterable[_T]) -> _T:
    """Return ``value`` if it is one of ``options``, else raise a ``ValueError`` listing them.

    Args:
        name: Name of the argument, used in the message.
        value: The value received.
        options: The valid values.

    Raises:
        ValueError: ``value`` is not among ``options``.
    """
    opts = list(options)
    if value not in opts:
        valid = ", ".join(repr(o) for o in opts)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


# --- argument validators: the one home for the option checks every public entry point uses ---
# ``name`` is how the argument reads in the message, owner included (e.g. "EMA every_n_steps",
# "TrainConfig.pool_size"): ``{name} must be {expected}; got {value!r}``.


def is_real(value: object) -> bool:
    """Whether ``value`` is an ``int`` or ``float`` (``bool`` excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) in ``[low, high]``.

    Raises:
        ValueError: Otherwise, naming ``name``, the range and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be an int in [{low}, {high}]; got {value!r}")
    return value


def check_optional_int(name: str, value: object, low: int) -> int | None:
    """Return ``value`` if it is ``None`` or an ``int`` (not ``bool``) ``>= low``.

    Raises:
        ValueError: Otherwise, naming ``name``, the range and the value.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be None or an int >= {low}; got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool``.

    Raises:
        ValueError: Otherwise, naming ``name`` and the value.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool; got {value!r}")
    return value


def check_float(
    name: str, value: object, *, expected: str, ok: Callable[[float], bool] = lambda v: True
) -> float:
    """Return ``float(value)`` if it is a finite real number (not ``bool``) for which ``ok`` holds.

    Args:
        name: The argument, as it reads in the message.
        value: The value received.
        expected: What a valid value is, e.g. ``"a finite float > 0"``.
        ok: The range check, given the value as a float.

    Raises:
        ValueError: ``{name} must be {expected}; got {value!r}``.
    """
    if not is_real(value) or not math.isfinite(float(value)) or not ok(float(value)):  # type: ignore[arg-type]
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return float(value)  # type: ignore[arg-type]
