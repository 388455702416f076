"""Recipes (``recipe``), ``CycleTrainer.inference_generator``, the EMA warm-up and ``lr_d``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from unpaired_i2i import (
    EMA,
    IMPROVED_RECIPE,
    RECIPES,
    Callback,
    ConvDiscriminator,
    CycleGAN,
    RecipeSpec,
    ResnetGenerator,
    TrainConfig,
    load_cyclegan,
    recipe,
)
from unpaired_i2i.cli import DATA_DEFAULTS, DEFAULT_RECIPE, DEMO_DEFAULTS, main

SIZE = 32
TINY: dict[str, Any] = {"n_blocks": 1, "base_channels": 4, "d_base_channels": 4}


def batches(n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.rand(1, 3, SIZE, SIZE, generator=gen) * 2 - 1,
            torch.rand(1, 3, SIZE, SIZE, generator=gen) * 2 - 1,
        )
        for _ in range(n)
    ]


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def resnet(module: nn.Module) -> ResnetGenerator:
    """A recipe's generator, typed (the model holds any nn.Module)."""
    assert isinstance(module, ResnetGenerator)
    return module


def patch_gan(module: nn.Module) -> ConvDiscriminator:
    """A recipe's discriminator, typed (the model holds any nn.Module)."""
    assert isinstance(module, ConvDiscriminator)
    return module


# ------------------------------------------------------------------------------- recipes
def test_reference_is_exactly_the_reference_defaults() -> None:
    torch.manual_seed(0)
    spec = recipe("reference")
    torch.manual_seed(0)
    plain = CycleGAN.from_preset("cyclegan")
    assert isinstance(spec, RecipeSpec) and spec.name == "reference"
    assert sum(p.numel() for p in spec.model.parameters()) == 28_285_832
    assert spec.model.get_config() == plain.get_config()
    assert same_state(spec.model.state_dict(), plain.state_dict())  # same draws, same order
    assert spec.config == TrainConfig()
    assert spec.callbacks == []
    six = recipe("reference", n_blocks=6)
    assert sum(p.numel() for p in six.model.g_xy.parameters()) == 7_837_699


def test_improved_is_the_reference_plus_ema_residual_detail_matrix_no_identity_and_d_norm() -> None:
    spec = recipe("improved", n_blocks=6)
    reference = recipe("reference", n_blocks=6)
    assert spec.name == "improved" and set(RECIPES) == {"reference", "improved"}
    for g, ref in (
        (spec.model.g_xy, reference.model.g_xy),
        (spec.model.g_yx, reference.model.g_yx),
    ):
        assert isinstance(g, ResnetGenerator) and isinstance(ref, ResnetGenerator)
        # the reference layout predicting a change to the input, its last layer also writing a
        # 3x3 matrix per pixel (nine more output channels of the 7x7 head) that multiplies the
        # input's detail (the input less its 7x7 box mean)
        detail = {"residual": True, "local_affine": True, "local_affine_detail": 7}
        assert g.get_config() == {**ref.get_config(), **detail}
        assert g.residual and not ref.residual and g.local_affine and not ref.local_affine
        assert sum(p.numel() for p in g.parameters()) == 7_837_699 + 28_233
    for d, ref in ((spec.model.d_x, reference.model.d_x), (spec.model.d_y, reference.model.d_y)):
        assert isinstance(d, ConvDiscriminator) and isinstance(ref, ConvDiscriminator)
        # the reference layout without normalisation: the same convolutions and parameters
        assert ref.get_config()["norm"] == "instance"
        assert d.get_config() == {**ref.get_config(), "norm": "none"}
        assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in d.modules())
        assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in ref.modules())
        assert sum(p.numel() for p in d.parameters()) == sum(p.numel() for p in ref.parameters())
    # optimiser, losses, learning rates, pool and schedule are the reference's; no identity term
    assert spec.config == TrainConfig(lambda_identity=0.0)
    (ema,) = spec.callbacks
    assert isinstance(ema, EMA)
    assert (ema.decay, ema.warmup, ema.every_n_steps, ema.start_step) == (0.999, True, 1, 0)
    assert ema.warmup_power == 8.0  # EMA's default ramp (1 + n) / (10 + n) until 0.999
    assert dict(IMPROVED_RECIPE) == {
        "ema": 0.999,
        "ema_warmup": True,
        "ema_warmup_power": 8.0,
        "residual": True,
        "local_affine": True,
        "local_affine_detail": 7,
        "lambda_identity": 0.0,
        "d_norm": "none",
    }
    # each part can be taken back by name; a part that needs another goes with it
    no_matrix = resnet(recipe("improved", n_blocks=6, local_affine=False).model.g_xy).get_config()
    assert no_matrix == {**resnet(reference.model.g_xy).get_config(), "residual": True}
    full_matrix = resnet(recipe("improved", local_affine_detail=None).model.g_yx).get_config()
    assert full_matrix["local_affine"] and full_matrix["local_affine_detail"] is None
    wider = resnet(recipe("improved", local_affine_detail=3).model.g_xy).get_config()
    assert wider["local_affine"] and wider["local_affine_detail"] == 3
    plain = resnet(recipe("improved", n_blocks=6, residual=False).model.g_xy).get_config()
    assert plain == resnet(reference.model.g_xy).get_config()
    with pytest.raises(ValueError, match="local_affine=True .*needs residual=True"):
        recipe("improved", residual=False, local_affine=True)
    with pytest.raises(ValueError, match="local_affine_detail .*needs local_affine=True"):
        recipe("improved", local_affine=False, local_affine_detail=7)
    # the matrix is an option of the reference's generators too, off there
    assert not resnet(reference.model.g_xy).local_affine
    assert resnet(recipe("reference", residual=True, local_affine=True).model.g_xy).local_affine
    assert recipe("improved", lambda_identity=0.5).config == TrainConfig()
    assert patch_gan(recipe("improved", d_norm="instance").model.d_x).get_config()["norm"] == (
        "instance"
    )
    # a caller's discriminator_overrides beat the recipe's shorthand, the caller's own
    # shorthand beats both, and other discriminator options leave the recipe's norm alone
    for over, norm in (
        ({"discriminator_overrides": {"norm": "instance"}}, "instance"),
        ({"discriminator_overrides": {"norm": "instance"}, "d_norm": "batch"}, "batch"),
        ({"discriminator_overrides": {"n_layers": 2}}, "none"),
        ({"d_base_channels": 8}, "none"),
    ):
        for d in (recipe("improved", **over).model.d_x, recipe("improved", **over).model.d_y):
            assert patch_gan(d).get_config()["norm"] == norm, over
    assert patch_gan(recipe("reference", d_norm="none").model.d_y).get_config()["norm"] == "none"


def test_overrides_reach_the_generators_discriminators_config_and_callbacks() -> None:
    spec = recipe(
        "improved",
        n_blocks=2,
        base_channels=8,
        d_base_channels=16,
        spectral_norm=True,
        upsampling="transpose",
        lr=1e-4,
        lr_d=4e-4,
        gan_mode="hinge",
        pool_size=0,
        seed=5,
        ema=0.99,
        ema_warmup=False,
        zero_init_output=True,
    )
    g = resnet(spec.model.g_xy).get_config()
    assert (g["n_blocks"], g["base_channels"], g["upsampling"]) == (2, 8, "transpose")
    for gen in (resnet(spec.model.g_xy), resnet(spec.model.g_yx)):
        assert gen.get_config()["zero_init_output"] is True
        assert gen.get_parameter("head.conv.weight").abs().max() == 0
    d = patch_gan(spec.model.d_y).get_config()
    assert (d["base_channels"], d["spectral_norm"]) == (16, True)
    assert spec.config == TrainConfig(
        lr=1e-4, lr_d=4e-4, gan_mode="hinge", pool_size=0, seed=5, lambda_identity=0.0
    )
    (ema,) = spec.callbacks
    assert isinstance(ema, EMA) and (ema.decay, ema.warmup) == (0.99, False)
    assert recipe("improved", ema=None).callbacks == []
    assert recipe("improved", ema=0).callbacks == []
    (added,) = recipe("reference", ema=0.9).callbacks
    assert isinstance(added, EMA) and added.decay == 0.9
    (ramped,) = recipe("reference", ema=0.9, ema_warmup=True, ema_warmup_power=2).callbacks
    assert isinstance(ramped, EMA) and (ramped.warmup, ramped.warmup_power) == (True, 2.0)
    basic = recipe("reference", preset="basic", discriminator_overrides={"n_layers": 2})
    assert patch_gan(basic.model.d_x).get_config()["n_layers"] == 2
    assert resnet(basic.model.g_xy).get_config()["norm"] == "batch"


def test_bad_names_and_options_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"recipe name must be one of .*'improved'.*'fancy'"):
        recipe("fancy")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['n_block'\].*'n_blocks'"):
        recipe("reference", n_block=6)
    with pytest.raises(ValueError, match="lr_d"):
        recipe("improved", lr_d=-1.0)
    with pytest.raises(ValueError, match="upsampling"):
        recipe("improved", upsampling="bilinear")


def test_spec_trainer_adds_callbacks_after_the_recipes() -> None:
    spec = recipe("improved", **TINY)

    class Mark(Callback):
        pass

    mark = Mark()
    trainer = spec.trainer(device="cpu", callbacks=[mark])
    assert trainer.model is spec.model and trainer.config is spec.config
    assert trainer.callbacks.index(spec.callbacks[0]) < trainer.callbacks.index(mark)


# ------------------------------------------------------------------ inference_generator
def test_inference_generator_is_the_trained_one_without_ema() -> None:
    spec = recipe("reference", **TINY)
    trainer = spec.trainer(device="cpu")
    assert trainer.inference_generator("xy") is spec.model.g_xy
    assert trainer.inference_generator("yx") is spec.model.g_yx
    with pytest.raises(ValueError, match=r"direction must be one of 'xy', 'yx'; got 'x2y'"):
        trainer.inference_generator("x2y")


def test_inference_generator_picks_the_ema_weights_once_averaged() -> None:
    spec = recipe("improved", **TINY)
    trainer = spec.trainer(device="cpu")
    (ema,) = spec.callbacks
    assert isinstance(ema, EMA)
    assert trainer.inference_generator("xy") is spec.model.g_xy  # nothing averaged yet
    trainer.fit(batches(3), max_steps=3)
    xy, yx = trainer.inference_generator("xy"), trainer.inference_generator("yx")
    assert xy is ema.generator_xy and yx is ema.generator_yx
    assert xy is not spec.model.g_xy
    averaged, trained = xy.state_dict(), spec.model.g_xy.state_dict()
    assert not same_state(averaged, trained)  # an average of three steps, not the last one


def test_a_custom_callback_can_offer_the_inference_generator() -> None:
    other = nn.Identity()

    class Offer(Callback):
        def inference_generator(self, trainer: Any, direction: str) -> nn.Module | None:
            return other if direction == "yx" else None

    spec = recipe("reference", **TINY)
    trainer = spec.trainer(device="cpu", callbacks=[Offer()])
    assert trainer.inference_generator("yx") is other
    assert trainer.inference_generator("xy") is spec.model.g_xy


def test_inference_generator_is_unwrapped_when_compiled() -> None:
    spec = recipe("reference", compile=True, compile_backend="eager", **TINY)
    trainer = spec.trainer(device="cpu")
    assert trainer.inference_generator("xy") is spec.model.g_xy


# --------------------------------------------------------------------------- EMA warm-up
def test_ema_warmup_follows_the_decay_schedule() -> None:
    spec = recipe("reference", **TINY)
    trainer = spec.trainer(device="cpu")
    ema = EMA(0.9, warmup=True)
    ema.on_fit_start(trainer)
    param = next(spec.model.g_xy.parameters())
    expected = None
    for n, value in enumerate([1.0, 3.0, -2.0, 5.0, 0.5]):
        with torch.no_grad():
            param.fill_(value)
        ema.update()
        if expected is None:
            expected = value  # the first update copies
        else:
            decay = min(0.9, (1 + n) / (10 + n))
            expected = decay * expected + (1 - decay) * value
        averaged = next(ema.generator_xy.parameters())
        torch.testing.assert_close(averaged, torch.full_like(averaged, expected))
    assert ema.n_averaged == 5
    assert ema.state_dict()["warmup"] is True
    assert repr(ema) == "EMA(decay=0.9, every_n_steps=1, start_step=0, warmup=True)"


@pytest.mark.parametrize("power", [0.0, 1.0, 2.5])
def test_ema_warmup_power_sets_the_ramp(power: float) -> None:
    spec = recipe("reference", **TINY)
    trainer = spec.trainer(device="cpu")
    ema = EMA(0.999, warmup=True, warmup_power=power)
    ema.on_fit_start(trainer)
    param = next(spec.model.g_xy.parameters())
    values = [1.0, 3.0, -2.0, 5.0, 0.5, 2.0]
    for value in values:
        with torch.no_grad():
            param.fill_(value)
        ema.update()
    averaged = next(ema.generator_xy.parameters()).double()
    # the n-th update (n before it) uses (1 + n) / (2 + power + n)
    expected = values[0]
    for n, value in enumerate(values[1:], start=1):
        decay = (1 + n) / (2 + power + n)
        expected = decay * expected + (1 - decay) * value
    if power == 0.0:  # about the plain mean: the first weights count twice
        assert abs(expected - (sum(values) + values[0]) / (len(values) + 1)) < 1e-12
    torch.testing.assert_close(averaged, torch.full_like(averaged, expected), rtol=1e-6, atol=1e-6)
    assert ema.state_dict()["warmup_power"] == power
    assert repr(ema).endswith(f"warmup=True, warmup_power={power:g})")
    with pytest.raises(ValueError, match="EMA warmup_power must be a float >= 0; got -1"):
        EMA(0.9, warmup=True, warmup_power=-1)


def test_ema_without_warmup_keeps_the_fixed_decay() -> None:
    spec = recipe("reference", **TINY)
    trainer = spec.trainer(device="cpu")
    ema = EMA(0.5)
    ema.on_fit_start(trainer)
    param = next(spec.model.g_xy.parameters())
    for value in (4.0, 0.0):
        with torch.no_grad():
            param.fill_(value)
        ema.update()
    averaged = next(ema.generator_xy.parameters())
    torch.testing.assert_close(averaged, torch.full_like(averaged, 2.0))
    with pytest.raises(ValueError, match="EMA warmup"):
        EMA(0.9, warmup="yes")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- lr_d
def test_lr_d_sets_the_discriminators_learning_rate_only() -> None:
    config = TrainConfig(lr=1e-4, lr_d=4e-4)
    assert config.discriminator_lr == 4e-4 and TrainConfig().discriminator_lr == 2e-4
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert (
        TrainConfig.from_dict({k: v for k, v in config.to_dict().items() if k != "lr_d"}).lr_d
        is None
    )
    trainer = recipe("reference", lr=1e-4, lr_d=4e-4, **TINY).trainer(device="cpu")
    assert [g["lr"] for g in trainer.optimizer_g.param_groups] == [1e-4]
    assert [g["lr"] for g in trainer.optimizer_d.param_groups] == [4e-4]
    with pytest.raises(ValueError, match=r"TrainConfig.lr_d must be None or a finite float > 0"):
        TrainConfig(lr_d=0.0)


# ------------------------------------------------------------------- training and resume
@pytest.mark.parametrize(
    "extra",
    [{}, {"d_augment": ("translation", "cutout", "color")}],
    ids=["improved", "improved+d_augment"],  # the augmentations draw from the global RNG
)
def test_improved_trains_and_resumes_exactly(tmp_path: Path, extra: dict[str, Any]) -> None:
    data = batches(3, seed=1)
    config = {"epochs": 1, "decay_epochs": 1, "pool_size": 2, "seed": 7, **TINY, **extra}

    torch.manual_seed(0)
    straight_spec = recipe("improved", **config)
    straight = straight_spec.trainer(device="cpu")
    straight.fit(data, max_steps=5)

    torch.manual_seed(0)
    first_spec = recipe("improved", **config)
    first = first_spec.trainer(device="cpu")
    first.fit(data, max_steps=2)
    path = first.save_checkpoint(tmp_path / "ckpt.pt")

    torch.manual_seed(123)  # other initial weights: the checkpoint must restore everything
    second_spec = recipe("improved", **config)
    second = second_spec.trainer(device="cpu")
    second.load_checkpoint(path)
    second.fit(data, max_steps=5)

    assert second.state.step == straight.state.step == 5
    assert same_state(second.model.state_dict(), straight.model.state_dict())
    a, b = straight.inference_generator("xy"), second.inference_generator("xy")
    assert a is straight_spec.callbacks[0].generator_xy  # type: ignore[attr-defined]
    assert same_state(a.state_dict(), b.state_dict())
    assert straight_spec.callbacks[0].n_averaged == second_spec.callbacks[0].n_averaged == 5  # type: ignore[attr-defined]
    # the step-2 checkpoint loads as that run's averaged generators
    model = load_cyclegan(path)
    assert same_state(model.g_xy.state_dict(), first.inference_generator("xy").state_dict())


# --------------------------------------------------------------------------------- CLI
CLI_TINY = [
    "--size", "32", "--base-channels", "4", "--d-base-channels", "4", "--n-blocks", "1",
    "--n-train", "3", "--n-test", "2", "--epochs", "1", "--decay-epochs", "0",
    "--log-every", "1", "--sample-every", "3", "--checkpoint-every", "3", "--pool-size", "2",
    "--no-progress",
]  # fmt: skip


def test_cli_default_recipe_is_documented_and_used_by_the_demo() -> None:
    assert DEFAULT_RECIPE in RECIPES
    assert DEMO_DEFAULTS["recipe"] == DATA_DEFAULTS["recipe"] == DEFAULT_RECIPE


@pytest.mark.parametrize("name", ["reference", "improved"])
def test_cli_recipe_flag_builds_the_recipe(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    assert main(["train", "--demo", "--out", str(out), "--recipe", name, *CLI_TINY]) == 0
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["recipe"] == name
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    generator = checkpoint["meta"]["model_config"]["g_xy"]
    assert generator["upsampling"] == "transpose"
    assert generator["residual"] is (name == "improved")
    assert checkpoint["config"]["lambda_identity"] == (0.0 if name == "improved" else 0.5)
    assert checkpoint["config"]["r1_gamma"] == 0.0
    callbacks = checkpoint.get("callbacks", {})
    if name == "improved":
        assert callbacks["EMA"]["warmup"] is True and callbacks["EMA"]["n_averaged"] == 3
    else:
        assert "EMA" not in callbacks


def test_cli_ema_identity_and_r1_flags_override_the_recipe(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["train", "--demo", "--out", str(out), "--recipe", "improved", "--ema", "0"]
    assert main([*args, "--lambda-identity", "0.25", "--r1-gamma", "0.5", *CLI_TINY]) == 0
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert "EMA" not in checkpoint.get("callbacks", {})
    assert checkpoint["config"]["lambda_identity"] == 0.25
    assert checkpoint["config"]["r1_gamma"] == 0.5
    out = tmp_path / "reference_r1"
    args = ["train", "--demo", "--out", str(out), "--recipe", "reference", "--r1-gamma", "2.5"]
    assert main([*args, *CLI_TINY]) == 0
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["config"]["r1_gamma"] == 2.5
