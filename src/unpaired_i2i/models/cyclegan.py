"""The four-network CycleGAN container."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unpaired_i2i._checks import check_choice
from unpaired_i2i.models.discriminators import ConvDiscriminator
from unpaired_i2i.models.generators import ResnetGenerator

__all__ = ["CYCLEGAN_PRESETS", "NETWORK_NAMES", "CycleGAN"]

#: The four networks of a :class:`CycleGAN`, in checkpoint order.
NETWORK_NAMES: tuple[str, ...] = ("g_xy", "g_yx", "d_x", "d_y")

# CycleGAN preset name -> (generator preset, discriminator preset)
CYCLEGAN_PRESETS: dict[str, tuple[str, str]] = {
    "cyclegan": ("cyclegan", "cyclegan"),
    "basic": ("basic", "basic"),
}


class CycleGAN(nn.Module):
    """The two generators and two discriminators of a CycleGAN.

    ``g_xy`` translates domain X to Y (G in Zhu et al.), ``g_yx`` translates Y to X (F);
    ``d_x`` tells real X images from ``g_yx`` outputs and ``d_y`` real Y images from ``g_xy``
    outputs. The networks are used as given (no re-initialisation).

    Args:
        g_xy: Generator X -> Y.
        g_yx: Generator Y -> X.
        d_x: Discriminator on domain X.
        d_y: Discriminator on domain Y.

    Shape:
        - ``forward`` inputs: ``real_x`` ``(N, C_x, H, W)`` and ``real_y`` ``(N, C_y, H, W)``
          in ``[-1, 1]``.
        - ``forward`` outputs: ``fake_y``, ``rec_x``, ``fake_x``, ``rec_y`` of the matching
          shapes, in ``[-1, 1]``.

    Example:
        >>> model = CycleGAN.from_preset("cyclegan")
        >>> sum(p.numel() for p in model.parameters())
        28285832
    """

    def __init__(self, *, g_xy: nn.Module, g_yx: nn.Module, d_x: nn.Module, d_y: nn.Module) -> None:
        super().__init__()
        for name, net in (("g_xy", g_xy), ("g_yx", g_yx), ("d_x", d_x), ("d_y", d_y)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"{name} must be an nn.Module; got {type(net).__name__}")
        self.g_xy = g_xy
        self.g_yx = g_yx
        self.d_x = d_x
        self.d_y = d_y

    @property
    def generators(self) -> tuple[nn.Module, nn.Module]:
        """``(g_xy, g_yx)``."""
        return self.g_xy, self.g_yx

    @property
    def discriminators(self) -> tuple[nn.Module, nn.Module]:
        """``(d_x, d_y)``."""
        return self.d_x, self.d_y

    @classmethod
    def from_preset(
        cls,
        name: str,
        *,
        discriminator_overrides: dict[str, Any] | None = None,
        **generator_overrides: Any,
    ) -> CycleGAN:
        """Build the four networks of a published layout.

        ``"cyclegan"`` uses the ResNet generator and 70x70 PatchGAN of Zhu et al. 2017
        (28,285,832 parameters with 9 blocks); ``"basic"`` the compact 128x128 layouts. Weights
        are initialised from N(0, 0.02) unless ``init`` / ``init_gain`` overrides say otherwise.
        ``in_channels`` / ``out_channels`` given for the generators also set the discriminators'
        input channels (X has ``in_channels``, Y has ``out_channels``).

        Args:
            name: ``"cyclegan"`` or ``"basic"``.
            discriminator_overrides: Keyword overrides for both discriminators.
            **generator_overrides: Keyword overrides for both generators (e.g. ``n_blocks=6``).

        Raises:
            ValueError: ``name`` is not a preset.

        Example:
            >>> model = CycleGAN.from_preset("cyclegan", n_blocks=6, base_channels=32)
            >>> sum(p.numel() for p in model.g_xy.parameters())
            1965059
        """
        check_choice("name", name, CYCLEGAN_PRESETS)
        g_name, d_name = CYCLEGAN_PRESETS[name]
        c_x = generator_overrides.pop("in_channels", 3)
        c_y = generator_overrides.pop("out_channels", 3)
        d_over = dict(discriminator_overrides or {})
        for key in ("init", "init_gain"):
            if key in generator_overrides and key not in d_over:
                d_over[key] = generator_overrides[key]
        d_over.pop("in_channels", None)
        return cls(
            g_xy=ResnetGenerator.from_preset(
                g_name, in_channels=c_x, out_channels=c_y, **generator_overrides
            ),
            g_yx=ResnetGenerator.from_preset(
                g_name, in_channels=c_y, out_channels=c_x, **generator_overrides
            ),
            d_x=ConvDiscriminator.from_preset(d_name, in_channels=c_x, **d_over),
            d_y=ConvDiscriminator.from_preset(d_name, in_channels=c_y, **d_over),
        )

    def get_config(self) -> dict[str, dict[str, Any]]:
        """Return the architecture of the four networks as JSON-ready constructor arguments.

        Checkpoints store it so that :meth:`from_config` can rebuild the model before loading
        weights.

        Raises:
            TypeError: A network is not a :class:`ResnetGenerator` / :class:`ConvDiscriminator`.
            ValueError: A network's norm is a factory, which cannot be serialised.
        """
        config: dict[str, dict[str, Any]] = {}
        for name, net, kind in (
            ("g_xy", self.g_xy, ResnetGenerator),
            ("g_yx", self.g_yx, ResnetGenerator),
            ("d_x", self.d_x, ConvDiscriminator),
            ("d_y", self.d_y, ConvDiscriminator),
        ):
            if type(net) is not kind:
                raise TypeError(
                    f"CycleGAN.get_config needs {name} to be a {kind.__name__}; "
                    f"got {type(net).__name__}"
                )
            config[name] = net.get_config()
        return config

    @classmethod
    def from_config(cls, config: dict[str, dict[str, Any]]) -> CycleGAN:
        """Rebuild the four networks from :meth:`get_config` output (fresh weights).

        Raises:
            ValueError: A network's entry is missing from ``config``.

        Example:
            >>> model = CycleGAN.from_preset("basic", base_channels=4, n_blocks=1)
            >>> CycleGAN.from_config(model.get_config()).get_config() == model.get_config()
            True
        """
        missing = [k for k in NETWORK_NAMES if k not in config]
        if missing:
            raise ValueError(f"CycleGAN config lacks entries {missing}; got keys {sorted(config)}")
        return cls(
            g_xy=ResnetGenerator(**config["g_xy"]),
            g_yx=ResnetGenerator(**config["g_yx"]),
            d_x=ConvDiscriminator(**config["d_x"]),
            d_y=ConvDiscriminator(**config["d_y"]),
        )

    def forward(self, real_x: torch.Tensor, real_y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run both cycles: ``x -> G(x) -> F(G(x))`` and ``y -> F(y) -> G(F(y))``.

        Args:
            real_x: Images from domain X, ``(N, C_x, H, W)`` in ``[-1, 1]``.
            real_y: Images from domain Y, ``(N, C_y, H, W)`` in ``[-1, 1]``.

        Returns:
            ``{"fake_y", "rec_x", "fake_x", "rec_y"}``, each in ``[-1, 1]``.
        """
        fake_y: torch.Tensor = self.g_xy(real_x)
        rec_x: torch.Tensor = self.g_yx(fake_y)
        fake_x: torch.Tensor = self.g_yx(real_y)
        rec_y: torch.Tensor = self.g_xy(fake_x)
        return {"fake_y": fake_y, "rec_x": rec_x, "fake_x": fake_x, "rec_y": rec_y}
