from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from unpaired_i2i import (
    ConvDiscriminator,
    ConvNormAct,
    CycleGAN,
    ResidualBlock,
    ResnetGenerator,
    ShapeError,
    init_weights,
)
from unpaired_i2i.models.blocks import NormName, PaddingName
from unpaired_i2i.models.generators import UpsamplingName


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_of(block: nn.Module, name: str = "conv") -> nn.Conv2d | nn.ConvTranspose2d:
    """The convolution submodule ``name`` of ``block`` (reached by name, it is untyped)."""
    conv = getattr(block, name)
    assert isinstance(conv, nn.Conv2d | nn.ConvTranspose2d)
    return conv


# ---------------------------------------------------------------- pinned reference numbers
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 11_378_179),
        ({"n_blocks": 6}, 7_837_699),
        ({"n_blocks": 6, "base_channels": 32}, 1_965_059),
    ],
)
def test_cyclegan_generator_parameter_counts(overrides: dict[str, int], expected: int) -> None:
    assert n_params(ResnetGenerator.from_preset("cyclegan", **overrides)) == expected


def test_reference_preset_aliases() -> None:
    assert n_params(ResnetGenerator.from_preset("resnet_9blocks")) == 11_378_179
    assert n_params(ResnetGenerator.from_preset("resnet_6blocks")) == 7_837_699


def test_cyclegan_discriminator_parameter_count_and_outputs() -> None:
    d = ConvDiscriminator.from_preset("cyclegan")
    assert n_params(d) == 2_764_737
    assert n_params(ConvDiscriminator(base_channels=32)) == 694_241
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert d(torch.zeros(2, 3, 128, 128)).shape == (2, 1, 14, 14)


@pytest.mark.parametrize(("n_layers", "size"), [(1, 126), (2, 62), (3, 30), (4, 14), (5, 6)])
def test_discriminator_n_layers_output_sizes(n_layers: int, size: int) -> None:
    d = ConvDiscriminator(base_channels=4, n_layers=n_layers)
    assert d.output_size(256, 256) == (size, size)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, size, size)


def test_whole_cyclegan_parameter_count() -> None:
    assert n_params(CycleGAN.from_preset("cyclegan")) == 28_285_832


def test_cyclegan_generator_layout() -> None:
    g = ResnetGenerator.from_preset("cyclegan")
    assert isinstance(g.stem.pad, nn.ReflectionPad2d) and g.stem.pad.padding == (3, 3, 3, 3)
    assert conv_of(g.stem).kernel_size == (7, 7) and conv_of(g.stem).out_channels == 64
    assert isinstance(g.stem.norm, nn.InstanceNorm2d) and not g.stem.norm.affine
    assert [conv_of(m).out_channels for m in g.encoder] == [128, 256]
    assert all(m.conv.stride == (2, 2) and m.conv.kernel_size == (3, 3) for m in g.encoder)
    assert len(g.blocks) == 9
    for up, c in zip(g.decoder, (128, 64), strict=True):
        assert isinstance(up.conv, nn.ConvTranspose2d)
        assert up.conv.kernel_size == (3, 3) and up.conv.stride == (2, 2)
        assert up.conv.padding == (1, 1) and up.conv.output_padding == (1, 1)
        assert up.conv.out_channels == c
    assert conv_of(g.head).kernel_size == (7, 7) and conv_of(g.head).bias is not None
    assert isinstance(g.output_act, nn.Tanh)
    assert all(
        m.bias is not None for m in g.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    )


def test_basic_generator_layout() -> None:
    g = ResnetGenerator.from_preset("basic")
    assert isinstance(g.stem, nn.Identity) and isinstance(g.head, nn.Identity)
    assert [(conv_of(m).in_channels, conv_of(m).out_channels) for m in g.encoder] == [
        (3, 64),
        (64, 128),
        (128, 256),
    ]
    assert all(conv_of(m).kernel_size == (4, 4) and conv_of(m).stride == (2, 2) for m in g.encoder)
    assert all(isinstance(m.norm, nn.BatchNorm2d) and conv_of(m).bias is None for m in g.encoder)
    assert len(g.blocks) == 6
    assert [(conv_of(m).in_channels, conv_of(m).out_channels) for m in g.decoder] == [
        (256, 128),
        (128, 64),
        (64, 3),
    ]
    assert hasattr(g.decoder[0], "norm") and hasattr(g.decoder[1], "norm")
    assert not hasattr(g.decoder[2], "norm") and conv_of(g.decoder[2]).bias is not None
    x = torch.randn(2, 3, 128, 128)
    assert g.blocks(g.encoder(x)).shape == (2, 256, 16, 16)
    out = g(x)
    assert out.shape == (2, 3, 128, 128)
    assert out.abs().max() <= 1.0


def test_basic_discriminator_layout() -> None:
    d = ConvDiscriminator.from_preset("basic")
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    assert [c.stride for c in convs] == [(2, 2)] * 4 + [(1, 1)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64),
        (64, 128),
        (128, 256),
        (256, 512),
        (512, 1),
    ]
    assert all(c.kernel_size == (4, 4) and c.padding == (1, 1) for c in convs)
    assert not any(isinstance(m, nn.LeakyReLU) for m in d.modules())
    assert sum(isinstance(m, nn.ReLU) for m in d.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    assert d(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 7, 7)


def test_cyclegan_discriminator_layout() -> None:
    d = ConvDiscriminator.from_preset("cyclegan")
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in d.modules()) == 3
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))


# ---------------------------------------------------------------- shapes (properties)
@given(
    n=st.integers(1, 2),
    h=st.integers(2, 6),
    w=st.integers(2, 6),
    width=st.sampled_from([2, 4, 6]),
    blocks=st.integers(0, 2),
    upsampling=st.sampled_from(["transpose", "resize_conv"]),
    padding=st.sampled_from(["reflect", "replicate", "zero"]),
    norm=st.sampled_from(["instance", "batch", "none"]),
)
def test_generator_preserves_shape(
    n: int,
    h: int,
    w: int,
    width: int,
    blocks: int,
    upsampling: UpsamplingName,
    padding: PaddingName,
    norm: NormName,
) -> None:
    g = ResnetGenerator(
        base_channels=width,
        n_blocks=blocks,
        upsampling=upsampling,
        padding=padding,
        norm=norm,
    )
    x = torch.rand(n, 3, 4 * h, 4 * w) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1.0


@given(size=st.integers(2, 5), n=st.integers(1, 2), c_in=st.integers(1, 4), c_out=st.integers(1, 4))
def test_basic_generator_shapes_and_channels(size: int, n: int, c_in: int, c_out: int) -> None:
    g = ResnetGenerator.from_preset(
        "basic", in_channels=c_in, out_channels=c_out, base_channels=4, n_blocks=1
    )
    assert g(torch.zeros(n, c_in, 8 * size, 8 * size)).shape == (n, c_out, 8 * size, 8 * size)


@given(
    channels=st.integers(1, 8),
    h=st.integers(2, 10),
    w=st.integers(2, 10),
    dropout=st.sampled_from([0.0, 0.5]),
)
def test_residual_block_preserves_shape(channels: int, h: int, w: int, dropout: float) -> None:
    block = ResidualBlock(channels, dropout=dropout)
    x = torch.randn(2, channels, h, w)
    assert block(x).shape == x.shape


def test_residual_block_is_identity_plus_body() -> None:
    block = ResidualBlock(4)
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(block(x), x + block.body(x))
    nn.init.zeros_(block.body.get_parameter("conv2.weight"))
    nn.init.zeros_(block.body.get_parameter("conv2.bias"))
    # With a zeroed second conv and instance norm of a constant, the body is exactly zero.
    assert torch.equal(block(x), x)


def test_residual_block_layout_and_dropout_position() -> None:
    names = [n for n, _ in ResidualBlock(4, dropout=0.5).body.named_children()]
    assert names == ["pad1", "conv1", "norm1", "act", "dropout", "pad2", "conv2", "norm2"]
    zero = [n for n, _ in ResidualBlock(4, padding="zero", norm="none").body.named_children()]
    assert zero == ["conv1", "act", "conv2"]
    assert conv_of(ResidualBlock(4, norm="batch").body, "conv1").bias is None


@given(
    h=st.integers(16, 80),
    w=st.integers(16, 80),
    n_layers=st.integers(1, 3),
    last_stride=st.sampled_from([1, 2]),
)
def test_discriminator_output_size_matches_forward(
    h: int, w: int, n_layers: int, last_stride: int
) -> None:
    d = ConvDiscriminator(base_channels=2, n_layers=n_layers, last_stride=last_stride)  # type: ignore[arg-type]
    if min(h, w) < d.min_input_size:
        with pytest.raises(ShapeError, match="too small"):
            d(torch.zeros(1, 3, h, w))
    else:
        assert d(torch.zeros(1, 3, h, w)).shape[2:] == d.output_size(h, w)


def test_spectral_norm_option() -> None:
    d = ConvDiscriminator(base_channels=4, norm="none", spectral_norm=True)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(c, "parametrizations") for c in convs)
    assert d(torch.randn(1, 3, 64, 64)).shape == (1, 1, 6, 6)


def test_norm_factory_and_bias_override() -> None:
    block = ResidualBlock(4, norm=lambda c: nn.GroupNorm(2, c))
    assert isinstance(block.body.norm1, nn.GroupNorm)
    assert conv_of(block.body, "conv1").bias is not None
    layer = ConvNormAct(3, 4, kernel_size=3, norm="batch", bias=True)
    assert conv_of(layer).bias is not None


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"norm": "layer"}, "norm must be one of 'instance', 'batch', 'none'"),
        ({"padding": "circular"}, "padding must be one of"),
        ({"upsampling": "pixelshuffle"}, "upsampling must be one of"),
        ({"base_channels": 0}, "base_channels must be a positive integer"),
        ({"n_blocks": -1}, "n_blocks must be >= 0"),
        ({"dropout": 1.5}, r"dropout must be in \[0, 1\)"),
        ({"stem_kernel_size": 4}, "stem_kernel_size must be an odd"),
        ({"init": "uniform"}, "scheme must be one of"),
        ({"residual": 1}, "residual must be a bool"),
        ({"residual": True, "out_channels": 1}, "in_channels must equal out_channels"),
        ({"zero_init_output": "yes"}, "zero_init_output must be a bool"),
    ],
)
def test_generator_option_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ResnetGenerator(**{"base_channels": 4, "n_blocks": 1, **kwargs})  # type: ignore[arg-type]


def test_preset_errors() -> None:
    with pytest.raises(ValueError, match="name must be one of 'cyclegan'"):
        ResnetGenerator.from_preset("unet")
    with pytest.raises(ValueError, match="name must be one of"):
        ConvDiscriminator.from_preset("pixel")
    with pytest.raises(ValueError, match="name must be one of"):
        CycleGAN.from_preset("pix2pix")
    with pytest.raises(ValueError, match="activation must be one of"):
        ConvDiscriminator(activation="gelu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        ConvDiscriminator(n_layers=0)


def test_generator_shape_errors() -> None:
    g = ResnetGenerator(base_channels=4, n_blocks=1)
    with pytest.raises(
        ShapeError, match=r"4-D input of shape \(N, 3, H, W\); got a 2-D tensor of shape \(100, 3\)"
    ):
        g(torch.zeros(100, 3))
    with pytest.raises(ShapeError, match="4-D"):
        g(torch.zeros(3, 16, 16))
    with pytest.raises(ShapeError, match=r"with 3 channels; got 2 channels in \(1, 2, 16, 16\)"):
        g(torch.zeros(1, 2, 16, 16))
    with pytest.raises(
        ShapeError,
        match=r"ResnetGenerator expects input of shape \(N, 3, H, W\) with H and W divisible by 4; got \(1, 3, 66, 66\)",
    ):
        g(torch.zeros(1, 3, 66, 66))
    basic = ResnetGenerator.from_preset("basic", base_channels=4, n_blocks=1)
    with pytest.raises(ShapeError, match="divisible by 8"):
        basic(torch.zeros(1, 3, 20, 16))
    with pytest.raises(ShapeError, match="too small"):
        g(torch.zeros(1, 3, 4, 4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        g([[1.0]])


def test_discriminator_and_block_shape_errors() -> None:
    d = ConvDiscriminator(base_channels=4)
    with pytest.raises(ShapeError, match="ConvDiscriminator expects a 4-D input"):
        d(torch.zeros(3, 64, 64))
    with pytest.raises(ShapeError, match="ConvDiscriminator.*channels"):
        d(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ShapeError, match="too small"):
        d(torch.zeros(1, 3, 8, 8))
    block = ResidualBlock(8)
    with pytest.raises(ShapeError, match="ResidualBlock expects a 4-D"):
        block(torch.zeros(8, 4, 4))
    with pytest.raises(ShapeError, match="ResidualBlock.*8 channels; got 3 channels"):
        block(torch.zeros(1, 3, 4, 4))


def test_shape_error_is_value_error() -> None:
    assert issubclass(ShapeError, ValueError)


# ---------------------------------------------------------------- init
def test_default_init_is_reference_normal() -> None:
    torch.manual_seed(0)
    g = ResnetGenerator.from_preset("cyclegan", n_blocks=2)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.Conv2d)])
    assert abs(w.std().item() - 0.02) < 0.002
    assert abs(w.mean().item()) < 0.001
    for m in g.modules():
        if isinstance(m, nn.Conv2d):
            assert m.bias is not None and float(m.bias.detach().abs().sum()) == 0
    d = ConvDiscriminator.from_preset("basic")
    bn = torch.cat([m.weight.flatten() for m in d.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1.0) < 0.01


@pytest.mark.parametrize("scheme", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_schemes_change_weights_and_zero_biases(scheme: str) -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ConvTranspose2d(8, 3, 3), nn.Linear(4, 4)
    )
    for p in net.parameters():
        nn.init.constant_(p, 7.0)
    assert init_weights(net, scheme=scheme, gain=0.02) is net  # type: ignore[arg-type]
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            assert m.bias is not None and float(m.bias.detach().abs().sum()) == 0
            assert not torch.all(m.weight == 7.0)
    batch_norm = net[1]
    assert isinstance(batch_norm, nn.BatchNorm2d)
    assert float(batch_norm.bias.detach().abs().sum()) == 0


def original_weight(module: nn.Module) -> torch.Tensor:
    """The unnormalised weight of a module under a weight parametrization (spectral norm)."""
    parametrizations = module.parametrizations
    assert isinstance(parametrizations, nn.ModuleDict)
    original = parametrizations["weight"].original
    assert isinstance(original, torch.Tensor)
    return original


def test_init_reaches_spectral_norm_weights() -> None:
    d = ConvDiscriminator(
        base_channels=4, norm="none", spectral_norm=True, init="normal", init_gain=0.5
    )
    originals = [original_weight(m) for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert abs(torch.cat([o.flatten() for o in originals]).std().item() - 0.5) < 0.05


# ---------------------------------------------------------------- CycleGAN container
def test_cyclegan_container_forward_and_channels() -> None:
    model = CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        in_channels=1,
        out_channels=3,
        discriminator_overrides={"base_channels": 4},
    )
    x, y = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    out = model(x, y)
    assert out["fake_y"].shape == (2, 3, 32, 32) and out["rec_x"].shape == (2, 1, 32, 32)
    assert out["fake_x"].shape == (2, 1, 32, 32) and out["rec_y"].shape == (2, 3, 32, 32)
    assert model.d_x.in_channels == 1 and model.d_y.in_channels == 3
    assert model.generators == (model.g_xy, model.g_yx)
    assert model.discriminators == (model.d_x, model.d_y)
    assert n_params(model.d_x) < 50_000


def test_cyclegan_basic_preset() -> None:
    model = CycleGAN.from_preset(
        "basic", base_channels=4, n_blocks=1, discriminator_overrides={"base_channels": 4}
    )
    assert model.d_x(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 7, 7)


def test_cyclegan_rejects_non_modules() -> None:
    g = ResnetGenerator(base_channels=4, n_blocks=1)
    d = ConvDiscriminator(base_channels=4)
    with pytest.raises(TypeError, match="d_y must be an nn.Module"):
        CycleGAN(g_xy=g, g_yx=g, d_x=d, d_y="d")  # type: ignore[arg-type]


def test_from_preset_init_applies_to_all_networks() -> None:
    model = CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        init="xavier",
        init_gain=1.0,
        discriminator_overrides={"base_channels": 4},
    )
    w = model.d_x.get_parameter("features.1.conv.weight")
    assert w.std().item() > 0.05  # xavier with gain 1 is far wider than N(0, 0.02)


def test_extra_repr_shows_only_non_defaults() -> None:
    assert "norm" not in repr(ResidualBlock(4)).split("\n")[0]
    assert "dropout=0.5" in repr(ResidualBlock(4, dropout=0.5))


# ---------------------------------------------------------------- configs
@pytest.mark.parametrize("preset", ["cyclegan", "basic"])
def test_config_round_trip_rebuilds_same_architecture(preset: str) -> None:
    model = CycleGAN.from_preset(
        preset,
        base_channels=4,
        n_blocks=1,
        dropout=0.5,
        discriminator_overrides={"base_channels": 4},
    )
    config = model.get_config()
    rebuilt = CycleGAN.from_config(config)
    assert rebuilt.get_config() == config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }
    rebuilt.load_state_dict(model.state_dict())
    import json

    assert json.loads(json.dumps(config)) == config


def test_config_errors() -> None:
    g = ResnetGenerator(base_channels=4, n_blocks=1, norm=lambda c: nn.GroupNorm(1, c))
    with pytest.raises(ValueError, match="cannot serialise a norm factory"):
        g.get_config()
    model = CycleGAN(g_xy=nn.Identity(), g_yx=nn.Identity(), d_x=nn.Identity(), d_y=nn.Identity())
    with pytest.raises(TypeError, match="g_xy to be a ResnetGenerator; got Identity"):
        model.get_config()
    with pytest.raises(ValueError, match=r"lacks entries \['d_x', 'd_y'\]"):
        CycleGAN.from_config({"g_xy": {}, "g_yx": {}})


# ---------------------------------------------------------------- residual output
def test_residual_generator_adds_its_change_to_the_input() -> None:
    """``tanh(r + atanh(x))``: a zero head returns the input, else the head's change."""
    torch.manual_seed(0)
    g = ResnetGenerator(base_channels=4, n_blocks=1, residual=True)
    plain = ResnetGenerator(base_channels=4, n_blocks=1)
    plain.load_state_dict(g.state_dict())  # the same parameters, one more option
    assert n_params(g) == n_params(plain)
    x = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    with torch.no_grad():
        h = plain.head(plain.decoder(plain.blocks(plain.encoder(plain.stem(x)))))
        assert torch.allclose(g(x), torch.tanh(h + torch.atanh(x)), atol=1e-6)
        assert not torch.allclose(g(x), plain(x), atol=1e-2)
        g.get_parameter("head.conv.weight").zero_()
        g.get_parameter("head.conv.bias").zero_()
        assert torch.allclose(g(x), x, atol=1e-6)


def test_residual_generator_stays_finite_and_in_range_at_saturated_pixels() -> None:
    g = ResnetGenerator(base_channels=4, n_blocks=1, residual=True)
    x = torch.tensor([-1.0, 1.0]).repeat_interleave(3 * 8 * 8).reshape(2, 3, 8, 8)
    out = g(x)
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


def test_residual_option_round_trips_through_the_config() -> None:
    g = ResnetGenerator(base_channels=4, n_blocks=1, residual=True)
    assert g.get_config()["residual"] is True
    assert ResnetGenerator(**g.get_config()).residual
    assert ResnetGenerator(base_channels=4, n_blocks=1).get_config()["residual"] is False


# ---------------------------------------------------------------- zero-initialised output layer
# The layer that writes the image, per layout: the head, or the last decoder layer without one.
WRITER_LAYOUTS = pytest.mark.parametrize(
    ("head_kernel_size", "upsampling", "writer_prefix"),
    [
        (7, "transpose", "head.conv."),
        (None, "transpose", "decoder.1.conv."),
        (None, "resize_conv", "decoder.1.conv.conv."),
    ],
)


def _residual_options(head_kernel_size: int | None, upsampling: str) -> dict[str, Any]:
    """A tiny residual generator of one of :data:`WRITER_LAYOUTS`."""
    return {
        "base_channels": 4,
        "n_blocks": 1,
        "residual": True,
        "head_kernel_size": head_kernel_size,
        "upsampling": upsampling,
    }


@WRITER_LAYOUTS
def test_zero_init_output_starts_residual_generator_at_the_identity(
    head_kernel_size: int | None, upsampling: str, writer_prefix: str
) -> None:
    """The image-writing layer starts at zero; every other weight is drawn as without it."""
    options = _residual_options(head_kernel_size, upsampling)
    torch.manual_seed(0)
    plain = ResnetGenerator(**options)
    torch.manual_seed(0)
    g = ResnetGenerator(**options, zero_init_output=True)
    params = dict(g.named_parameters())
    weight, bias = params[writer_prefix + "weight"], params[writer_prefix + "bias"]
    # (every bias starts at zero anyway: init_weights zeroes them)
    zeroed = {n for n, p in params.items() if n.endswith("weight") and p.abs().max() == 0}
    assert zeroed == {writer_prefix + "weight"}
    assert weight.abs().max() == 0 and bias.abs().max() == 0
    for (name, p), q in zip(g.named_parameters(), plain.parameters(), strict=True):
        if name not in zeroed:
            assert torch.equal(p, q), name
    x = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    with torch.no_grad():
        assert torch.allclose(g(x), x, atol=1e-6)
        assert not torch.allclose(plain(x), x, atol=1e-2)
    # The zeroed layer still learns: its weight gets a gradient from the first step.
    g(x).abs().mean().backward()
    assert weight.grad is not None and weight.grad.abs().max() > 0
    assert ResnetGenerator(**g.get_config()).get_config()["zero_init_output"] is True


# ---------------------------------------------------------------- local affine output
@WRITER_LAYOUTS
def test_local_affine_starts_as_the_residual_generator_and_mixes_the_input_per_pixel(
    head_kernel_size: int | None, upsampling: str, writer_prefix: str
) -> None:
    """``tanh(r + atanh(x) + M x)``: M's channels start at zero, every drawn weight as without."""
    options = _residual_options(head_kernel_size, upsampling)
    torch.manual_seed(0)
    plain = ResnetGenerator(**options)
    after_plain = torch.rand(1)
    torch.manual_seed(0)
    g = ResnetGenerator(**options, local_affine=True)
    assert torch.equal(torch.rand(1), after_plain)  # no random numbers drawn for the matrix
    assert g.state_dict().keys() == plain.state_dict().keys()
    out_dim = 1 if (head_kernel_size is None and upsampling == "transpose") else 0
    for name, q in plain.state_dict().items():
        p = g.state_dict()[name]
        if name.startswith(writer_prefix):
            # 3 + 3 * 3 output channels: the plain generator's three, then the matrix at zero
            assert p.shape[out_dim if name.endswith("weight") else 0] == 12
            assert torch.equal(p.narrow(out_dim if name.endswith("weight") else 0, 0, 3), q)
            assert not p.narrow(out_dim if name.endswith("weight") else 0, 3, 9).any()
        else:
            assert torch.equal(p, q), name
    x = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    assert torch.equal(g(x), plain(x))
    # the matrix learns from the first step
    g(x).abs().mean().backward()
    bias = g.get_parameter(writer_prefix + "bias")
    assert bias.grad is not None and bias.grad[3:].abs().min() > 0
    # a matrix that is the identity in the bias: r + x is added to atanh(x)
    with torch.no_grad():
        bias[[3, 7, 11]] = 1.0
        h = plain.head(plain.decoder(plain.blocks(plain.encoder(plain.stem(x)))))
        expected = torch.tanh(h + x.clamp(-0.999, 0.999).atanh() + x)
        torch.testing.assert_close(g(x), expected)
        # and an off-diagonal entry: output channel 0 gains -0.5 times input channel 2
        bias[[3, 7, 11]] = 0.0
        bias[3 + 2] = -0.5
        expected = h + x.clamp(-0.999, 0.999).atanh()
        expected[:, 0] -= 0.5 * x[:, 2]
        torch.testing.assert_close(g(x), torch.tanh(expected))
    assert ResnetGenerator(**g.get_config()).get_config()["local_affine"] is True


def test_local_affine_detail_multiplies_the_inputs_detail_not_its_colour() -> None:
    """``tanh(r + atanh(x) + M (x - mean_7(x)))``; the start and the parameters unchanged."""
    options: dict[str, Any] = {"base_channels": 4, "n_blocks": 1, "residual": True}
    torch.manual_seed(0)
    full = ResnetGenerator(**options, local_affine=True)
    torch.manual_seed(0)
    g = ResnetGenerator(**options, local_affine=True, local_affine_detail=7)
    assert g.get_config() == {**full.get_config(), "local_affine_detail": 7}
    assert ResnetGenerator(**g.get_config()).get_config()["local_affine_detail"] == 7
    assert full.get_config()["local_affine_detail"] is None
    assert g.state_dict().keys() == full.state_dict().keys()
    same = zip(g.state_dict().values(), full.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in same)
    x = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    assert torch.equal(g(x), full(x))  # M = 0: what it multiplies does not matter yet
    bias = g.get_parameter("head.conv.bias")
    with torch.no_grad():
        bias[3:] = torch.linspace(-0.6, 0.6, 9)  # M[i, j] the same everywhere
        full.load_state_dict(g.state_dict())
        h = g.head(g.decoder(g.blocks(g.encoder(g.stem(x)))))[:, :3]
        m = torch.linspace(-0.6, 0.6, 9).reshape(3, 3)
        box = torch.nn.functional.avg_pool2d(x, 7, stride=1, padding=3, count_include_pad=False)
        expected = h + x.clamp(-0.999, 0.999).atanh() + torch.einsum("ij,njhw->nihw", m, x - box)
        torch.testing.assert_close(g(x), torch.tanh(expected))
        assert not torch.allclose(g(x), full(x), atol=1e-3)
        # a flat image has no detail: the matrix adds nothing where the full one recolours
        flat = torch.full((1, 3, 16, 16), 0.4)
        plain = ResnetGenerator(**options)
        plain.load_state_dict(
            {k: v[:3] if k.startswith("head.conv") else v for k, v in g.state_dict().items()}
        )
        torch.testing.assert_close(g(flat), plain(flat), rtol=0, atol=1e-6)
        assert not torch.allclose(full(flat), plain(flat), atol=1e-3)
    # the smallest legal image (the box counts the image's own pixels only)
    smallest = torch.rand(1, 3, g.min_size, g.min_size) * 2 - 1
    assert torch.isfinite(g(smallest)).all()
    g(x).square().mean().backward()
    assert bias.grad is not None and bias.grad[3:].abs().min() > 0
    for bad in (0, 4, -1, True, 7.0):
        with pytest.raises(
            ValueError, match=f"local_affine_detail must be an odd positive int .* got {bad!r}"
        ):
            ResnetGenerator(**options, local_affine=True, local_affine_detail=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs local_affine=True; got local_affine=False"):
        ResnetGenerator(**options, local_affine_detail=7)


def test_local_affine_adds_the_matrix_channels_parameters_and_needs_a_residual_generator() -> None:
    plain = ResnetGenerator(n_blocks=6, residual=True)
    g = ResnetGenerator(n_blocks=6, residual=True, local_affine=True)
    assert n_params(plain) == 7_837_699
    assert n_params(g) == 7_837_699 + 9 * 64 * 7 * 7 + 9 == 7_865_932
    assert not plain.local_affine and plain.get_config()["local_affine"] is False
    with pytest.raises(ValueError, match="local_affine=True .* needs residual=True"):
        ResnetGenerator(local_affine=True)
    with pytest.raises(ValueError, match="local_affine must be a bool; got 1"):
        ResnetGenerator(residual=True, local_affine=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="local_affine=False"):
        g.load_reference_state_dict(plain.state_dict())
    # it trains: finite, in range, gradients everywhere
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    small = ResnetGenerator(base_channels=4, n_blocks=1, residual=True, local_affine=True)
    out = small(x)
    assert out.shape == x.shape and out.abs().max() <= 1.0
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in small.parameters())
