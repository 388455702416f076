"""Weight initialisation shared by every network in the library."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias, TypeVar, cast

from torch import nn
from torch.nn.utils import parametrize

from unpaired_i2i._checks import check_choice

__all__ = ["InitScheme", "init_weights"]

InitScheme: TypeAlias = Literal["normal", "xavier", "kaiming", "orthogonal"]
"""Names of the weight initialisation schemes."""
INIT_SCHEMES: tuple[InitScheme, ...] = ("normal", "xavier", "kaiming", "orthogonal")

_M = TypeVar("_M", bound=nn.Module)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)


def init_weights(module: _M, scheme: InitScheme = "normal", gain: float = 0.02) -> _M:
    """Initialise conv / linear / norm weights in place, as the reference implementation does.

    Convolutions, transposed convolutions and linear layers get weights from ``scheme``
    (``"normal"``: N(0, gain); ``"xavier"``: Xavier-normal with ``gain``; ``"kaiming"``:
    Kaiming-normal, fan-in; ``"orthogonal"``: orthogonal with ``gain``) and zero bias. Affine
    norm layers get weights from N(1, gain) and zero bias. Spectrally normalised weights are
    initialised through their ``original`` parameter.

    Args:
        module: The module whose submodules are initialised (in place).
        scheme: ``"normal"``, ``"xavier"``, ``"kaiming"`` or ``"orthogonal"``.
        gain: Standard deviation for ``"normal"`` and the gain for ``"xavier"`` /
            ``"orthogonal"``.

    Returns:
        ``module`` itself, for chaining.

    Raises:
        ValueError: ``scheme`` is unknown.

    Example:
        >>> from torch import nn
        >>> conv = init_weights(nn.Conv2d(3, 8, 3))
        >>> float(conv.bias.detach().abs().sum())
        0.0
    """
    check_choice("scheme", scheme, INIT_SCHEMES)
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.Conv1d):
            if parametrize.is_parametrized(m, "weight"):
                weight = cast(Any, m).parametrizations.weight.original
            else:
                weight = m.weight
            if scheme == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif scheme == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module
