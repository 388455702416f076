"""Helpers on ``nn.Module`` at the bottom floor: where a module's tensors live, and eval mode.

The one home of the device/dtype lookup and the eval-mode-then-restore block that the sample
callbacks and inference both need. Private: the public API never exposes these names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["device_and_dtype", "eval_mode", "on_device"]


def device_and_dtype(
    module: nn.Module,
    *,
    default_device: torch.device | str = "cpu",
    default_dtype: torch.dtype = torch.float32,
) -> tuple[torch.device, torch.dtype]:
    """Return the device and dtype that inputs of ``module`` should have.

    Those of its first floating-point tensor, parameters before buffers (in registration
    order); ``(default_device, default_dtype)`` when it has none (e.g. ``nn.Identity``).

    Args:
        module: The module.
        default_device: Device to use when the module has no floating-point tensor.
        default_dtype: Dtype to use when the module has no floating-point tensor.

    Returns:
        ``(device, dtype)``.

    Example:
        >>> device_and_dtype(nn.Linear(2, 2).double())
        (device(type='cpu'), torch.float64)
        >>> device_and_dtype(nn.Identity(), default_dtype=torch.float16)
        (device(type='cpu'), torch.float16)
    """
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device(default_device), default_dtype


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode for a block, then give every submodule its own mode back.

    Each submodule's ``training`` flag is restored as it was (a module in train mode holding a
    submodule in eval mode gets exactly that back), also when the block raises.

    Args:
        *modules: The modules (the same module may appear twice).

    Yields:
        Nothing; the modules are in eval mode inside the block.

    Example:
        >>> net = nn.Sequential(nn.Dropout(0.5), nn.Dropout(0.5))
        >>> net[1].eval()  # doctest: +ELLIPSIS
        Dropout(...)
        >>> with eval_mode(net):
        ...     net.training, net[0].training
        (False, False)
        >>> net.training, net[0].training, net[1].training
        (True, True, False)
    """
    modes = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in modes:
            m.training = training


@contextlib.contextmanager
def on_device(module: nn.Module, device: torch.device) -> Iterator[None]:
    """Move ``module`` to ``device`` for a block, and back to where it was afterwards.

    Args:
        module: The module (moved in place).
        device: Where it runs inside the block; nothing moves when it is already there.

    Yields:
        Nothing; the module is on ``device`` inside the block.
    """
    original, _ = device_and_dtype(module)
    if original == device:
        yield
        return
    module.to(device)
    try:
        yield
    finally:
        module.to(original)
