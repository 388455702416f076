"""ResNet generators: the CycleGAN layout of Zhu et al. 2017 and the compact 128x128 layout."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import nn

from unpaired_i2i._checks import check_bool, check_choice, check_image_batch
from unpaired_i2i.models.blocks import (
    PADDINGS,
    ConvNormAct,
    NormLayer,
    PaddingName,
    ResidualBlock,
)
from unpaired_i2i.models.init import InitScheme, init_weights

__all__ = ["GENERATOR_PRESETS", "ResnetGenerator", "UpsamplingName"]

UpsamplingName: TypeAlias = Literal["transpose", "resize_conv"]
"""Decoder upsampling: transposed convolution, or nearest upsampling followed by a 3x3 conv."""

GENERATOR_PRESETS: dict[str, dict[str, Any]] = {
    # Zhu et al. 2017 / reference `resnet_9blocks` (use n_blocks=6 for `resnet_6blocks`).
    "cyclegan": {},
    "resnet_9blocks": {"n_blocks": 9},
    "resnet_6blocks": {"n_blocks": 6},
    # Compact 128x128 layout: 4x4 stride-2 convs down to 16x16, BatchNorm, 6 residual blocks.
    "basic": {
        "n_blocks": 6,
        "n_downsampling": 3,
        "norm": "batch",
        "padding": "zero",
        "stem_kernel_size": None,
        "head_kernel_size": None,
        "down_kernel_size": 4,
        "up_kernel_size": 4,
    },
}

_RESIDUAL_BOUND = 0.999

_STALE_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")


def _serialisable_config(owner: str, config: dict[str, Any]) -> dict[str, Any]:
    if callable(config.get("norm")):
        raise ValueError(
            f"{owner}.get_config cannot serialise a norm factory; build the network with "
            "norm='instance', 'batch' or 'none' to save its configuration"
        )
    return dict(config)


class ResnetGenerator(nn.Module):
    """ResNet image-to-image generator: encoder, residual blocks, decoder, tanh.

    With the defaults this is the CycleGAN generator of Zhu et al. 2017 (reference
    ``resnet_9blocks``): reflect-pad 3 + 7x7 conv to ``base_channels`` + norm + ReLU; two
    stride-2 3x3 convs doubling the width; ``n_blocks`` :class:`ResidualBlock`; two
    ``ConvTranspose2d(k3, s2, p1, output_padding=1)`` halving it; reflect-pad 3 + 7x7 conv to
    ``out_channels`` + tanh. It has 11,378,179 parameters (7,837,699 with ``n_blocks=6``).

    Without a stem (``stem_kernel_size=None``) the first downsampling conv reads the image;
    without a head (``head_kernel_size=None``) the last upsampling layer writes ``out_channels``
    directly (with bias, no norm) before the tanh. As in the reference, ``padding`` applies to
    the residual blocks (and resize-convs); the 7x7 stem and head always use reflection padding
    and strided convs zero-pad by 1.

    Args:
        in_channels: Channels of the input images.
        out_channels: Channels of the output images.
        base_channels: Width after the stem (or after the first downsampling without stem).
        n_blocks: Number of residual blocks at the bottleneck.
        n_downsampling: Number of stride-2 convolutions (and of upsampling layers).
        norm: ``"instance"``, ``"batch"``, ``"none"`` or a factory ``channels -> nn.Module``.
        padding: ``"reflect"``, ``"replicate"`` or ``"zero"`` padding of the residual blocks.
        dropout: Dropout probability inside residual blocks.
        upsampling: ``"transpose"`` (reference) or ``"resize_conv"`` (nearest upsampling + 3x3
            conv, which avoids checkerboard artifacts).
        stem_kernel_size: Kernel of the full-resolution input conv, or ``None`` for no stem.
        head_kernel_size: Kernel of the full-resolution output conv, or ``None`` for no head.
        down_kernel_size: Kernel of the stride-2 convs (3 or 4; padding 1).
        up_kernel_size: Kernel of the transposed convs (3 with ``output_padding=1``, or 4).
        init: Weight initialisation scheme (see :func:`init_weights`).
        init_gain: Gain of the initialisation.
        residual: Predict a change to the input rather than a new image (residual images,
            Shen & Liu 2017): the output is ``tanh(r + atanh(x))``, where ``r`` is what the
            head writes (before the tanh) and ``x`` is clamped to ``[-0.999, 0.999]`` first,
            so ``r = 0`` returns the input. The untrained generator then passes the input's
            structure through and training learns what to change; same parameters, no
            measurable cost. Needs ``in_channels == out_channels``. ``False`` (reference):
            ``tanh(r)``.
        zero_init_output: Initialise the layer that writes the image (the head, or the last
            decoder layer without one) to zeros, weights and bias, after ``init``: the
            untrained generator writes ``r = 0`` everywhere, so with ``residual=True`` it
            returns its input exactly (and a grey image without), instead of the input plus
            the noise a randomly initialised head adds (zero-initialised last layers, as in
            Goyal et al. 2017 and diffusion U-Nets). Every other weight is drawn as without
            it. ``False`` (reference): the head is initialised like every other layer.
        local_affine: With ``residual=True``, the layer that writes the image also writes a
            ``out_channels x in_channels`` matrix ``M`` per pixel, and the output becomes
            ``tanh(r + atanh(x) + M x)``: smooth per-pixel coefficients that rescale and mix
            the input's own pixels (the local affine colour transforms of photo enhancement
            and photorealistic style transfer: Gharbi et al. 2017, HDRNet; Luan et al. 2017),
            so the input's full-resolution detail can be kept, smoothed or recoloured where
            the scene asks for it without the generator redrawing it. ``M``'s channels start
            at zero (weights and bias) and draw no random numbers, so the untrained generator
            and every other weight are exactly those of ``local_affine=False``; the writing
            layer gains ``out_channels * in_channels`` output channels (28,233 parameters with
            the defaults, about 0.4% of the generator). The matrix is channels
            ``out_channels + i * in_channels + j`` (``M[i, j]``) of that layer's output.
            In CycleGAN training at 128x128 the two generators' matrices can settle into
            colour maps that undo each other, and the translation stalls (the recipes guide);
            ``local_affine_detail`` avoids that. ``False`` (reference): no matrix.
        local_affine_detail: With ``local_affine=True``, an odd window side ``k`` makes ``M``
            multiply the input's *detail* instead of the input: ``tanh(r + atanh(x) + M d)``
            with ``d = x - mean_k(x)``, ``mean_k`` the ``k x k`` box mean over the pixels
            inside the image. A region's own colour (its local mean) then changes only
            through ``r``, while ``M`` keeps, mutes or recolours the input's edges, texture
            and small shapes; the two generators can no longer become colour maps that undo
            each other. ``7`` is the window the recipes guide measured; no parameters, and
            the untrained generator is still exactly that of ``local_affine=False``. ``None``
            (default): ``M`` multiplies ``x``.

    Shape:
        - Input: ``(N, in_channels, H, W)`` with ``H`` and ``W`` divisible by
          :attr:`downsampling_factor` (``2 ** n_downsampling``), values in ``[-1, 1]``.
        - Output: ``(N, out_channels, H, W)`` in ``[-1, 1]``.

    Raises:
        ValueError: An option is invalid (the message lists valid values).
        ShapeError: In ``forward``, for an input that is not 4-D, has the wrong channel count,
            or has ``H``/``W`` not divisible by the downsampling factor.

    Example:
        >>> import torch
        >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
        >>> g(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
        >>> sum(p.numel() for p in ResnetGenerator().parameters())
        11378179
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        *,
        base_channels: int = 64,
        n_blocks: int = 9,
        n_downsampling: int = 2,
        norm: NormLayer = "instance",
        padding: PaddingName = "reflect",
        dropout: float = 0.0,
        upsampling: UpsamplingName = "transpose",
        stem_kernel_size: int | None = 7,
        head_kernel_size: int | None = 7,
        down_kernel_size: int = 3,
        up_kernel_size: int = 3,
        init: InitScheme = "normal",
        init_gain: float = 0.02,
        residual: bool = False,
        zero_init_output: bool = False,
        local_affine: bool = False,
        local_affine_detail: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("base_channels", base_channels),
        ):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0; got {n_blocks!r}")
        if n_downsampling < 0:
            raise ValueError(f"n_downsampling must be >= 0; got {n_downsampling!r}")
        check_choice("padding", padding, PADDINGS)
        check_choice("upsampling", upsampling, ("transpose", "resize_conv"))
        check_choice("down_kernel_size", down_kernel_size, (3, 4))
        check_choice("up_kernel_size", up_kernel_size, (3, 4))
        for name, k in (
            ("stem_kernel_size", stem_kernel_size),
            ("head_kernel_size", head_kernel_size),
        ):
            if k is not None and (k < 1 or k % 2 == 0):
                raise ValueError(f"{name} must be an odd positive integer or None; got {k!r}")
        check_bool("residual", residual)
        check_bool("zero_init_output", zero_init_output)
        check_bool("local_affine", local_affine)
        if local_affine and not residual:
            raise ValueError(
                "local_affine=True adds a per-pixel matrix times the input to a residual "
                "generator's change, so it needs residual=True; got residual=False"
            )
        if local_affine_detail is not None:
            if (
                isinstance(local_affine_detail, bool)
                or not isinstance(local_affine_detail, int)
                or local_affine_detail < 1
                or local_affine_detail % 2 == 0
            ):
                raise ValueError(
                    "local_affine_detail must be an odd positive int (a window side) or None; "
                    f"got {local_affine_detail!r}"
                )
            if not local_affine:
                raise ValueError(
                    "local_affine_detail sets what the local_affine matrix multiplies, so it "
                    f"needs local_affine=True; got local_affine=False, local_affine_detail="
                    f"{local_affine_detail}"
                )
        if residual and in_channels != out_channels:
            raise ValueError(
                "residual=True adds the input to the output, so in_channels must equal "
                f"out_channels; got in_channels={in_channels}, out_channels={out_channels}"
            )
        if stem_kernel_size is None and n_downsampling == 0:
            raise ValueError("n_downsampling must be >= 1 when stem_kernel_size is None; got 0")
        if head_kernel_size is None and n_downsampling == 0:
            raise ValueError("n_downsampling must be >= 1 when head_kernel_size is None; got 0")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_downsampling = n_downsampling
        self._config: dict[str, Any] = {
            "base_channels": base_channels,
            "n_blocks": n_blocks,
            "n_downsampling": n_downsampling,
            "norm": norm,
            "padding": padding,
            "dropout": dropout,
            "upsampling": upsampling,
            "stem_kernel_size": stem_kernel_size,
            "head_kernel_size": head_kernel_size,
            "down_kernel_size": down_kernel_size,
            "up_kernel_size": up_kernel_size,
            "residual": residual,
            "zero_init_output": zero_init_output,
            "local_affine": local_affine,
            "local_affine_detail": local_affine_detail,
        }
        self.residual = residual
        self.local_affine = local_affine
        # 0: the matrix multiplies x (an int, not None, so TorchScript can branch on it)
        self._detail_window: int = local_affine_detail or 0

        # Encoder widths: with a stem, base -> 2 base -> 4 base ...; without, in -> base -> 2 base.
        if stem_kernel_size is not None:
            self.stem: nn.Module = ConvNormAct(
                in_channels,
                base_channels,
                kernel_size=stem_kernel_size,
                padding=stem_kernel_size // 2,
                padding_mode="reflect",
                norm=norm,
                activation="relu",
            )
            widths = [base_channels * 2**i for i in range(n_downsampling + 1)]
        else:
            self.stem = nn.Identity()
            widths = [in_channels] + [base_channels * 2**i for i in range(n_downsampling)]
        self.encoder = nn.Sequential(
            *(
                ConvNormAct(
                    widths[i],
                    widths[i + 1],
                    kernel_size=down_kernel_size,
                    stride=2,
                    padding=1,
                    norm=norm,
                    activation="relu",
                )
                for i in range(n_downsampling)
            )
        )
        bottleneck = widths[-1]
        self.blocks = nn.Sequential(
            *(
                ResidualBlock(bottleneck, norm=norm, padding=padding, dropout=dropout)
                for _ in range(n_blocks)
            )
        )
        # Decoder mirrors the encoder; without a head the last layer writes the image directly.
        dec_widths = [max(1, bottleneck // 2**i) for i in range(n_downsampling + 1)]
        up_layers: list[nn.Module] = []
        for i in range(n_downsampling):
            c_in, c_out = dec_widths[i], dec_widths[i + 1]
            last = i == n_downsampling - 1 and head_kernel_size is None
            if last:
                c_out = out_channels
            up_layers.append(
                self._make_up(
                    c_in,
                    c_out,
                    upsampling=upsampling,
                    kernel_size=up_kernel_size,
                    padding=padding,
                    norm="none" if last else norm,
                    activation="none" if last else "relu",
                    bias=True if last else None,
                )
            )
        self.decoder = nn.Sequential(*up_layers)
        if head_kernel_size is not None:
            self.head: nn.Module = ConvNormAct(
                dec_widths[-1],
                out_channels,
                kernel_size=head_kernel_size,
                padding=head_kernel_size // 2,
                padding_mode="reflect",
                bias=True,
            )
        else:
            self.head = nn.Identity()
        self.output_act = nn.Tanh()
        # Smallest legal size: reflect/replicate padding of the bottleneck blocks needs >= 2 px.
        bottleneck_min = 2 if (padding != "zero" and n_blocks > 0) else 1
        self._min_size = bottleneck_min * self.downsampling_factor
        init_weights(self, scheme=init, gain=init_gain)
        if zero_init_output:
            # After init_weights, so every other weight is drawn exactly as without the option.
            _, _, conv = self._output_conv()
            with torch.no_grad():
                conv.weight.zero_()
                if conv.bias is not None:
                    conv.bias.zero_()
        if local_affine:
            # After init (and zero_init_output): the matrix's channels are added at zero without
            # drawing, so every weight the reference draws is drawn as without the option.
            _add_matrix_channels(*self._output_conv(), out_channels * in_channels)

    def _output_conv(self) -> tuple[nn.Module, str, nn.Conv2d | nn.ConvTranspose2d]:
        """The convolution that writes the image, its parent module and its name there.

        The head's, or without a head the last decoder layer's.
        """
        writer = self.head if not isinstance(self.head, nn.Identity) else self.decoder[-1]
        found = [
            (parent, name, child)
            for parent in writer.modules()
            for name, child in parent.named_children()
            if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d))
        ]
        return found[-1]

    @staticmethod
    def _make_up(
        c_in: int,
        c_out: int,
        *,
        upsampling: UpsamplingName,
        kernel_size: int,
        padding: PaddingName,
        norm: NormLayer,
        activation: Literal["relu", "none"],
        bias: bool | None,
    ) -> nn.Module:
        if upsampling == "transpose":
            return ConvNormAct(
                c_in,
                c_out,
                kernel_size=kernel_size,
                stride=2,
                padding=1,
                output_padding=4 - kernel_size,
                transposed=True,
                norm=norm,
                activation=activation,
                bias=bias,
            )
        return nn.Sequential(
            OrderedDict(
                upsample=nn.Upsample(scale_factor=2, mode="nearest"),
                conv=ConvNormAct(
                    c_in,
                    c_out,
                    kernel_size=3,
                    padding=1,
                    padding_mode=padding,
                    norm=norm,
                    activation=activation,
                    bias=bias,
                ),
            )
        )

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this architecture (JSON-ready).

        Raises:
            ValueError: ``norm`` was given as a factory, which cannot be serialised.

        Example:
            >>> g = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2)
            >>> ResnetGenerator(**g.get_config()).get_config() == g.get_config()
            True
        """
        return _serialisable_config(
            type(self).__name__,
            {"in_channels": self.in_channels, "out_channels": self.out_channels, **self._config},
        )

    @property
    def min_size(self) -> int:
        """Smallest legal ``H`` / ``W`` (reflect-padded blocks need a bottleneck of 2 px)."""
        return self._min_size

    @property
    def downsampling_factor(self) -> int:
        """Total downsampling factor ``2 ** n_downsampling``; H and W must be divisible by it."""
        return int(2**self.n_downsampling)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> ResnetGenerator:
        """Build a published layout by name, with keyword overrides.

        Presets: ``"cyclegan"`` (Zhu et al. 2017, 9 blocks; ``n_blocks=6`` for 128x128),
        ``"resnet_9blocks"``, ``"resnet_6blocks"`` (the reference's names) and ``"basic"`` (the
        compact 128x128 layout: three stride-2 4x4 convs with BatchNorm, 6 residual blocks,
        three stride-2 4x4 transposed convs, 16x16 bottleneck).

        Args:
            name: Preset name.
            **overrides: Constructor arguments replacing the preset's.

        Raises:
            ValueError: ``name`` is not a preset (the message lists them).

        Example:
            >>> g = ResnetGenerator.from_preset("cyclegan", n_blocks=6)
            >>> sum(p.numel() for p in g.parameters())
            7837699
        """
        check_choice("name", name, GENERATOR_PRESETS)
        return cls(**{**GENERATOR_PRESETS[name], **overrides})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch of images.

        Args:
            x: Images of shape ``(N, in_channels, H, W)`` in ``[-1, 1]``.

        Returns:
            Images of shape ``(N, out_channels, H, W)`` in ``[-1, 1]``.
        """
        check_image_batch(
            x,
            module=type(self).__name__,
            channels=self.in_channels,
            divisor=self.downsampling_factor,
            min_size=self._min_size,
        )
        h = self.stem(x)
        h = self.encoder(h)
        h = self.blocks(h)
        h = self.decoder(h)
        h = self.head(h)
        if self.local_affine:
            r, m, seen = self._split_matrix(h, x)
            h = r + (m * seen.unsqueeze(1)).sum(dim=2)
        if self.residual:
            # In float32 (also under autocast): atanh(0.999) = 3.8 keeps saturated pixels finite.
            skip = x.float().clamp(-_RESIDUAL_BOUND, _RESIDUAL_BOUND).atanh()
            h = h.float() + skip
        out: torch.Tensor = self.output_act(h)
        return out

    def _split_matrix(
        self, h: torch.Tensor, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Split the writing layer's output ``h`` into ``r``, ``M`` and what ``M`` multiplies.

        ``r`` is ``(N, C_out, H, W)``, ``M`` ``(N, C_out, C_in, H, W)``; ``M`` multiplies ``x``
        ``(N, C_in, H, W)`` or, with ``local_affine_detail``, its detail (in ``h``'s dtype).
        """
        c = self.out_channels
        # unflatten, not reshape(n, ...): an exported graph keeps its batch axis dynamic
        r, m = h[:, :c], torch.unflatten(h[:, c:], 1, (c, self.in_channels))
        seen = x.to(m.dtype)
        if self._detail_window > 0:
            k = self._detail_window
            mean = F.avg_pool2d(seen, k, stride=1, padding=k // 2, count_include_pad=False)
            seen = seen - mean
        return r, m, seen

    def extra_repr(self) -> str:
        """Input and output channels."""
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}"

    # ------------------------------------------------------------------ reference interop
    def _reference_key_map(self) -> dict[str, str]:
        """Map reference layer prefixes (``model.N``...) to this module's prefixes."""
        cfg = self._config
        if (
            cfg["stem_kernel_size"] != 7
            or cfg["head_kernel_size"] != 7
            or cfg["upsampling"] != "transpose"
            or cfg["down_kernel_size"] != 3
            or cfg["up_kernel_size"] != 3
            or cfg["local_affine"]
        ):
            raise ValueError(
                "load_reference_state_dict needs the reference layout (stem_kernel_size=7, "
                "head_kernel_size=7, down_kernel_size=3, up_kernel_size=3, "
                f"upsampling='transpose', local_affine=False); this generator has {cfg}"
            )
        mapping: dict[str, str] = {}
        # stem: pad 0, conv 1, norm 2, relu 3
        mapping["model.1"] = "stem.conv"
        mapping["model.2"] = "stem.norm"
        i = 4
        for d in range(cfg["n_downsampling"]):
            mapping[f"model.{i}"] = f"encoder.{d}.conv"
            mapping[f"model.{i + 1}"] = f"encoder.{d}.norm"
            i += 3
        has_pad = cfg["padding"] != "zero"
        has_dropout = cfg["dropout"] > 0
        for b in range(cfg["n_blocks"]):
            j = 1 if has_pad else 0  # conv after the pad layer
            first = (j, j + 1)
            j += 3  # norm, relu
            if has_dropout:
                j += 1
            if has_pad:
                j += 1
            second = (j, j + 1)
            ours = f"blocks.{b}.body"
            mapping[f"model.{i}.conv_block.{first[0]}"] = f"{ours}.conv1"
            mapping[f"model.{i}.conv_block.{first[1]}"] = f"{ours}.norm1"
            mapping[f"model.{i}.conv_block.{second[0]}"] = f"{ours}.conv2"
            mapping[f"model.{i}.conv_block.{second[1]}"] = f"{ours}.norm2"
            i += 1
        for u in range(cfg["n_downsampling"]):
            mapping[f"model.{i}"] = f"decoder.{u}.conv"
            mapping[f"model.{i + 1}"] = f"decoder.{u}.norm"
            i += 3
        mapping[f"model.{i + 1}"] = "head.conv"  # pad i, conv i+1, tanh i+2
        return mapping

    def load_reference_state_dict(
        self, state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike[str]
    ) -> None:
        """Load weights saved by the reference implementation (pytorch-CycleGAN-and-pix2pix).

        Maps the reference's key layout (one ``nn.Sequential`` under ``model.``, residual blocks'
        ``conv_block.N`` indices, indices shifted by dropout or by zero padding, an optional
        ``module.`` prefix from ``DataParallel``) onto this module, and ignores the stale
        InstanceNorm ``running_mean`` / ``running_var`` / ``num_batches_tracked`` keys that old
        PyTorch versions wrote. Build this generator with the options the checkpoint was trained
        with (e.g. ``from_preset("cyclegan")`` for ``summer2winter_yosemite.pth``, ``dropout=0.5``
        for models trained without ``--no_dropout``).

        Args:
            state_dict_or_path: A reference state dict, or the path of a ``.pth`` file (loaded
                with ``weights_only=True`` on the CPU).

        Raises:
            FileNotFoundError: The path does not exist.
            ValueError: The file cannot be read as a state dict, this generator is not in the
                reference layout, keys are left unmatched (listed in the message), or a tensor's
                shape differs (named in the message).
        """
        if isinstance(state_dict_or_path, str | os.PathLike):
            path = os.fspath(state_dict_or_path)
            if not os.path.exists(path):
                raise FileNotFoundError(f"reference checkpoint not found: {path}")
            try:
                loaded = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:
                raise ValueError(f"cannot read reference checkpoint {path}: {err}") from err
            if not isinstance(loaded, Mapping):
                raise ValueError(
                    f"reference checkpoint {path} holds a {type(loaded).__name__}, "
                    "expected a state dict"
                )
            source: Mapping[str, Any] = loaded
        else:
            source = state_dict_or_path
        mapping = self._reference_key_map()
        own = self.state_dict()
        converted: dict[str, torch.Tensor] = {}
        unexpected: list[str] = []
        for key, value in source.items():
            ref_key = key[len("module.") :] if key.startswith("module.") else key
            prefix, _, leaf = ref_key.rpartition(".")
            target = mapping.get(prefix)
            our_key = f"{target}.{leaf}" if target is not None else None
            if our_key is not None and our_key in own:
                if tuple(value.shape) != tuple(own[our_key].shape):
                    raise ValueError(
                        f"shape mismatch for reference key {key!r} -> {our_key!r}: checkpoint "
                        f"has {tuple(value.shape)}, this generator has {tuple(own[our_key].shape)}"
                    )
                converted[our_key] = value
            elif (
                leaf in _STALE_NORM_KEYS
                and target is not None
                and target.rsplit(".", 1)[-1].startswith("norm")
            ):
                continue  # stale InstanceNorm statistics from old PyTorch versions
            else:
                unexpected.append(key)
        missing = sorted(set(own) - set(converted))
        if unexpected or missing:
            raise ValueError(
                "reference state dict does not match this generator: "
                f"unmatched checkpoint keys {sorted(unexpected)}; "
                f"generator keys not found in the checkpoint {missing}"
            )
        self.load_state_dict(converted, strict=True)


def _add_matrix_channels(
    parent: nn.Module, name: str, old: nn.Conv2d | nn.ConvTranspose2d, extra: int
) -> None:
    """Replace ``parent.<name>``, the convolution ``old``, by one ``extra`` channels wider.

    The new layer is built with ``skip_init`` (no random numbers drawn); its first output
    channels are the old layer's weights and bias, the ``extra`` after them zero.
    """
    if old.bias is None or old.groups != 1:
        raise TypeError(f"expected a biased, ungrouped output convolution; got {old}")
    kwargs: dict[str, Any] = {
        "stride": old.stride,
        "padding": old.padding,
        "dilation": old.dilation,
        "padding_mode": old.padding_mode,
        "device": old.weight.device,
        "dtype": old.weight.dtype,
    }
    if isinstance(old, nn.ConvTranspose2d):
        kwargs["output_padding"] = old.output_padding
    wide = nn.utils.skip_init(  # type: ignore[no-untyped-call]
        type(old), old.in_channels, old.out_channels + extra, old.kernel_size, **kwargs
    )
    # ConvTranspose2d keeps output channels on dim 1 of its weight, Conv2d on dim 0
    out_dim = 1 if isinstance(old, nn.ConvTranspose2d) else 0
    with torch.no_grad():
        wide.weight.zero_()
        wide.bias.zero_()
        wide.weight.narrow(out_dim, 0, old.out_channels).copy_(old.weight)
        wide.bias[: old.out_channels].copy_(old.bias)
    setattr(parent, name, wide)
