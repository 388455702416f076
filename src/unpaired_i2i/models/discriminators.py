"""Convolutional (PatchGAN) discriminators."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from unpaired_i2i._checks import check_choice, check_image_batch
from unpaired_i2i.models.blocks import ConvNormAct, NormLayer
from unpaired_i2i.models.generators import _serialisable_config
from unpaired_i2i.models.init import InitScheme, init_weights

__all__ = ["DISCRIMINATOR_PRESETS", "ConvDiscriminator"]

DISCRIMINATOR_PRESETS: dict[str, dict[str, Any]] = {
    # 70x70 PatchGAN of Isola et al. / Zhu et al. (reference `basic`, n_layers=3).
    "cyclegan": {},
    "patchgan": {},
    # Compact 128x128 layout: four stride-2 convs with BatchNorm and ReLU, then the classifier.
    "basic": {"norm": "batch", "activation": "relu", "last_stride": 2},
}

_KERNEL = 4
_PAD = 1


class ConvDiscriminator(nn.Module):
    """Fully convolutional discriminator scoring overlapping patches (PatchGAN).

    ``n_layers + 1`` feature convs (4x4, padding 1) with widths ``base_channels * min(2**i, 8)``:
    the first ``n_layers`` stride 2, the last one stride ``last_stride``; each followed by norm
    (none on the first) and the activation; then a 4x4 stride-1 conv to one channel of raw
    scores (no sigmoid). The defaults are the 70x70 PatchGAN of the reference
    (2,764,737 parameters; output ``(N, 1, 30, 30)`` at 256x256 and ``(N, 1, 14, 14)`` at 128).

    Args:
        in_channels: Channels of the input images.
        base_channels: Width of the first conv.
        n_layers: Number of stride-2 convs (3 gives the 70x70 receptive field).
        norm: ``"instance"``, ``"batch"``, ``"none"`` or a factory ``channels -> nn.Module``.
        activation: ``"leaky_relu"`` (reference) or ``"relu"``.
        negative_slope: Slope of the leaky ReLU.
        last_stride: Stride of the last feature conv: 1 (PatchGAN) or 2 (``"basic"``).
        spectral_norm: Spectrally normalise every conv weight.
        init: Weight initialisation scheme (see :func:`init_weights`).
        init_gain: Gain of the initialisation.

    Shape:
        - Input: ``(N, in_channels, H, W)``, values in ``[-1, 1]``, ``H, W >= min_input_size``.
        - Output: ``(N, 1, H', W')`` raw scores (logits for ``"vanilla"``), with ``(H', W')``
          given by :meth:`output_size`.

    Raises:
        ValueError: An option is invalid.
        ShapeError: In ``forward``, for an input that is not 4-D, has the wrong channel count,
            or is too small to give at least one output patch.

    Example:
        >>> import torch
        >>> d = ConvDiscriminator()
        >>> d(torch.zeros(1, 3, 256, 256)).shape
        torch.Size([1, 1, 30, 30])
        >>> d.output_size(128, 128)
        (14, 14)
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        base_channels: int = 64,
        n_layers: int = 3,
        norm: NormLayer = "instance",
        activation: Literal["leaky_relu", "relu"] = "leaky_relu",
        negative_slope: float = 0.2,
        last_stride: Literal[1, 2] = 1,
        spectral_norm: bool = False,
        init: InitScheme = "normal",
        init_gain: float = 0.02,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer; got {in_channels!r}")
        if base_channels < 1:
            raise ValueError(f"base_channels must be a positive integer; got {base_channels!r}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1; got {n_layers!r}")
        check_choice("activation", activation, ("leaky_relu", "relu"))
        check_choice("last_stride", last_stride, (1, 2))
        self.in_channels = in_channels
        self.out_channels = 1
        self._config: dict[str, Any] = {
            "in_channels": in_channels,
            "base_channels": base_channels,
            "n_layers": n_layers,
            "norm": norm,
            "activation": activation,
            "negative_slope": negative_slope,
            "last_stride": last_stride,
            "spectral_norm": spectral_norm,
        }
        widths = [base_channels * min(2**i, 8) for i in range(n_layers + 1)]
        self._strides = [2] * n_layers + [last_stride, 1]
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c_out in enumerate(widths):
            layers.append(
                ConvNormAct(
                    c_in,
                    c_out,
                    kernel_size=_KERNEL,
                    stride=self._strides[i],
                    padding=_PAD,
                    norm="none" if i == 0 else norm,
                    activation=activation,
                    negative_slope=negative_slope,
                    spectral_norm=spectral_norm,
                )
            )
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = ConvNormAct(
            c_in,
            1,
            kernel_size=_KERNEL,
            stride=1,
            padding=_PAD,
            bias=True,
            spectral_norm=spectral_norm,
        )
        self.min_input_size = next(s for s in range(1, 1 << 16) if min(self._sizes(s)) >= 1)
        init_weights(self, scheme=init, gain=init_gain)

    def _sizes(self, size: int) -> list[int]:
        sizes = []
        for stride in self._strides:
            size = (size + 2 * _PAD - _KERNEL) // stride + 1
            sizes.append(size)
        return sizes

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this architecture (JSON-ready).

        Raises:
            ValueError: ``norm`` was given as a factory, which cannot be serialised.
        """
        return _serialisable_config(type(self).__name__, self._config)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Return the ``(H', W')`` of the score map for an ``height x width`` input."""
        return self._sizes(height)[-1], self._sizes(width)[-1]

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ConvDiscriminator:
        """Build a published layout by name, with keyword overrides.

        Presets: ``"cyclegan"`` / ``"patchgan"`` (70x70 PatchGAN, LeakyReLU 0.2, instance norm)
        and ``"basic"`` (five 4x4 convs: four stride-2 with BatchNorm from the second on and
        ReLU, then a stride-1 classifier; ``(N, 1, 7, 7)`` at 128x128).

        Args:
            name: Preset name.
            **overrides: Constructor arguments replacing the preset's.

        Raises:
            ValueError: ``name`` is not a preset (the message lists them).

        Example:
            >>> import torch
            >>> ConvDiscriminator.from_preset("basic")(torch.zeros(1, 3, 128, 128)).shape
            torch.Size([1, 1, 7, 7])
        """
        check_choice("name", name, DISCRIMINATOR_PRESETS)
        return cls(**{**DISCRIMINATOR_PRESETS[name], **overrides})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score the patches of a batch of images.

        Args:
            x: Images of shape ``(N, in_channels, H, W)`` in ``[-1, 1]``.

        Returns:
            Raw scores of shape ``(N, 1, H', W')``.
        """
        check_image_batch(
            x, module=type(self).__name__, channels=self.in_channels, min_size=self.min_input_size
        )
        out: torch.Tensor = self.classifier(self.features(x))
        return out
