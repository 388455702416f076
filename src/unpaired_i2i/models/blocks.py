"""Building blocks: conv-norm-activation layers and the residual block.

Conv bias rule (used by every block here): a convolution has a bias unless a batch norm
follows it, because batch norm's own shift makes a bias redundant. This reproduces the reference
layouts exactly (instance norm with ``affine=False`` keeps the conv bias, as in Zhu et al. 2017).
Pass ``bias=True`` / ``bias=False`` to override it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, TypeAlias

import torch
from torch import nn

from unpaired_i2i._checks import check_choice, check_image_batch

__all__ = [
    "ActivationName",
    "ConvNormAct",
    "NormLayer",
    "NormName",
    "PaddingName",
    "ResidualBlock",
    "make_activation",
    "make_norm",
]

NormName: TypeAlias = Literal["instance", "batch", "none"]
"""Names of the built-in normalisation choices."""
NormLayer: TypeAlias = NormName | Callable[[int], nn.Module]
"""A norm choice: a name or a factory ``channels -> nn.Module``."""
PaddingName: TypeAlias = Literal["reflect", "replicate", "zero"]
"""Names of the padding modes for same-size convolutions."""
ActivationName: TypeAlias = Literal["relu", "leaky_relu", "tanh", "none"]
"""Names of the built-in activations."""

NORMS: tuple[NormName, ...] = ("instance", "batch", "none")
PADDINGS: tuple[PaddingName, ...] = ("reflect", "replicate", "zero")
ACTIVATIONS: tuple[ActivationName, ...] = ("relu", "leaky_relu", "tanh", "none")


def make_norm(norm: NormLayer, channels: int) -> nn.Module | None:
    """Build the normalisation layer for ``channels`` channels, or ``None`` for ``"none"``.

    ``"instance"`` is ``InstanceNorm2d(affine=False, track_running_stats=False)`` and ``"batch"``
    is ``BatchNorm2d(affine=True)``, as in the reference implementation.

    Args:
        norm: ``"instance"``, ``"batch"``, ``"none"`` or a factory ``channels -> nn.Module``.
        channels: Number of channels to normalise.

    Raises:
        ValueError: ``norm`` is an unknown name.
    """
    if callable(norm):
        return norm(channels)
    check_choice("norm", norm, NORMS)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    return None


def conv_bias_for(norm: NormLayer) -> bool:
    """Return the default conv bias for a norm choice: ``False`` only for batch norm."""
    return not (isinstance(norm, str) and norm == "batch")


def make_activation(activation: ActivationName, *, negative_slope: float = 0.2) -> nn.Module | None:
    """Build an activation module, or ``None`` for ``"none"``.

    Args:
        activation: ``"relu"``, ``"leaky_relu"``, ``"tanh"`` or ``"none"``.
        negative_slope: Slope of the negative part for ``"leaky_relu"``.

    Raises:
        ValueError: ``activation`` is an unknown name.
    """
    check_choice("activation", activation, ACTIVATIONS)
    if activation == "relu":
        return nn.ReLU(inplace=True)
    if activation == "leaky_relu":
        return nn.LeakyReLU(negative_slope, inplace=True)
    if activation == "tanh":
        return nn.Tanh()
    return None


def _make_pad(padding: PaddingName, amount: int) -> nn.Module | None:
    if amount == 0 or padding == "zero":
        return None
    if padding == "reflect":
        return nn.ReflectionPad2d(amount)
    return nn.ReplicationPad2d(amount)


class ConvNormAct(nn.Sequential):
    """Convolution, optional normalisation, optional activation (an ``nn.Sequential``).

    Submodules are named ``pad`` (only for reflect/replicate padding), ``conv``, ``norm`` and
    ``act``, each present only when used, so state-dict keys read ``conv.weight``, ``norm.weight``.

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``.
        kernel_size: Square kernel size.
        stride: Convolution stride.
        padding: Padding on each side; done by a pad layer for ``"reflect"``/``"replicate"``
            and inside the convolution for ``"zero"``.
        padding_mode: ``"reflect"``, ``"replicate"`` or ``"zero"``.
        norm: Normalisation choice (see :func:`make_norm`).
        activation: Activation choice (see :func:`make_activation`).
        negative_slope: Slope for ``"leaky_relu"``.
        transposed: Use ``ConvTranspose2d`` (zero padding only).
        output_padding: ``output_padding`` of the transposed convolution.
        bias: Conv bias; ``None`` derives it from ``norm`` (off only for batch norm).
        spectral_norm: Wrap the convolution weight in spectral normalisation.

    Shape:
        - Input: ``(N, C_in, H, W)``, any real values.
        - Output: ``(N, C_out, H', W')`` with the usual convolution arithmetic.

    Example:
        >>> import torch
        >>> layer = ConvNormAct(3, 8, kernel_size=3, padding=1, padding_mode="reflect")
        >>> layer(torch.zeros(2, 3, 16, 16)).shape
        torch.Size([2, 8, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        padding_mode: PaddingName = "zero",
        norm: NormLayer = "none",
        activation: ActivationName = "none",
        negative_slope: float = 0.2,
        transposed: bool = False,
        output_padding: int = 0,
        bias: bool | None = None,
        spectral_norm: bool = False,
    ) -> None:
        check_choice("padding_mode", padding_mode, PADDINGS)
        if transposed and padding_mode != "zero":
            raise ValueError(
                f"padding_mode must be 'zero' for a transposed convolution; got {padding_mode!r}"
            )
        use_bias = conv_bias_for(norm) if bias is None else bias
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        pad = _make_pad(padding_mode, padding)
        conv_padding = padding if pad is None else 0
        if pad is not None:
            layers["pad"] = pad
        conv: nn.Conv2d | nn.ConvTranspose2d
        if transposed:
            conv = nn.ConvTranspose2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=conv_padding,
                output_padding=output_padding,
                bias=use_bias,
            )
        else:
            conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=conv_padding,
                bias=use_bias,
            )
        layers["conv"] = nn.utils.parametrizations.spectral_norm(conv) if spectral_norm else conv
        norm_layer = make_norm(norm, out_channels)
        if norm_layer is not None:
            layers["norm"] = norm_layer
        act = make_activation(activation, negative_slope=negative_slope)
        if act is not None:
            layers["act"] = act
        super().__init__(layers)
        self.in_channels = in_channels
        self.out_channels = out_channels


class ResidualBlock(nn.Module):
    """Residual block ``x + body(x)`` of the ResNet generator (no activation after the add).

    ``body`` is pad, 3x3 conv, norm, ReLU, [dropout], pad, 3x3 conv, norm, with the channel
    count kept, as in Zhu et al. 2017.

    Args:
        channels: Channels ``C`` of input and output.
        norm: ``"instance"``, ``"batch"``, ``"none"`` or a factory ``channels -> nn.Module``.
        padding: ``"reflect"``, ``"replicate"`` or ``"zero"`` padding for both convolutions.
        dropout: Dropout probability between the two convolutions (0 disables it; the
            reference's ``--no_dropout`` off setting is 0.5).
        bias: Conv bias; ``None`` derives it from ``norm`` (off only for batch norm).

    Shape:
        - Input: ``(N, C, H, W)``, any real values.
        - Output: ``(N, C, H, W)``.

    Raises:
        ShapeError: In ``forward``, for an input that is not 4-D or has a channel count other
            than ``channels``.

    Example:
        >>> import torch
        >>> block = ResidualBlock(16)
        >>> block(torch.randn(2, 16, 8, 8)).shape
        torch.Size([2, 16, 8, 8])
    """

    def __init__(
        self,
        channels: int,
        *,
        norm: NormLayer = "instance",
        padding: PaddingName = "reflect",
        dropout: float = 0.0,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_choice("padding", padding, PADDINGS)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        use_bias = conv_bias_for(norm) if bias is None else bias
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        conv_padding = 1 if padding == "zero" else 0

        def add_conv(i: int) -> None:
            pad = _make_pad(padding, 1)
            if pad is not None:
                layers[f"pad{i}"] = pad
            layers[f"conv{i}"] = nn.Conv2d(
                channels, channels, 3, padding=conv_padding, bias=use_bias
            )
            norm_layer = make_norm(norm, channels)
            if norm_layer is not None:
                layers[f"norm{i}"] = norm_layer

        add_conv(1)
        layers["act"] = nn.ReLU(inplace=True)
        if dropout > 0:
            layers["dropout"] = nn.Dropout(dropout)
        add_conv(2)
        self.body = nn.Sequential(layers)
        self.channels = channels
        self.in_channels = channels
        self.out_channels = channels
        self._settings = {"norm": norm, "padding": padding, "dropout": dropout}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + body(x)`` for ``x`` of shape ``(N, C, H, W)``."""
        check_image_batch(x, module=type(self).__name__, channels=self.channels)
        out: torch.Tensor = self.body(x)
        return x + out

    def extra_repr(self) -> str:
        """Channels and the settings that differ from the defaults."""
        defaults = {"norm": "instance", "padding": "reflect", "dropout": 0.0}
        extra = [f"{k}={v!r}" for k, v in self._settings.items() if v != defaults[k]]
        return ", ".join([str(self.channels), *extra])
