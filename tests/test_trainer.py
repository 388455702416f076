"""Tests for CycleTrainer, TrainConfig, TrainerState and the LR schedule."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from _tiny import random_batches, tiny_model
from unpaired_i2i import (
    LOSS_KEYS,
    Callback,
    CycleGAN,
    CycleTrainer,
    ModelCheckpoint,
    NonFiniteLossError,
    TrainConfig,
    TrainerState,
    linear_decay_factor,
)
from unpaired_i2i.training.schedules import linear_decay_lambda

SIZE = 8


def make_model(seed: int = 0, **overrides: Any) -> CycleGAN:
    return tiny_model(seed, **overrides)


def make_batches(
    n: int, batch_size: int = 2, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE, batch_size=batch_size, seed=seed)


def small_config(**overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {"epochs": 1, "decay_epochs": 1, "pool_size": 3, "log_every": 1}
    base.update(overrides)
    return TrainConfig(**base)


def make_trainer(config: TrainConfig | None = None, **kwargs: Any) -> CycleTrainer:
    return CycleTrainer(make_model(), config or small_config(), device="cpu", **kwargs)


# ----------------------------------------------------------------------------- TrainConfig
def test_config_reference_defaults() -> None:
    cfg = TrainConfig()
    assert cfg.lr == 2e-4
    assert cfg.betas == (0.5, 0.999)
    assert cfg.lambda_cycle == 10.0
    assert cfg.lambda_identity == 0.5
    assert cfg.identity_weight == 5.0
    assert cfg.gan_mode == "lsgan"
    assert cfg.pool_size == 50
    assert (cfg.epochs, cfg.decay_epochs, cfg.total_epochs) == (100, 100, 200)
    assert (cfg.seed, cfg.log_every) == (0, 100)
    assert (cfg.checkpoint_dir, cfg.checkpoint_every, cfg.keep_last) == (None, 0, 3)
    assert (cfg.amp, cfg.channels_last) == ("off", False)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("lr", 0.0, "> 0"),
        ("lr", -1e-3, "> 0"),
        ("lr", float("nan"), "finite"),
        ("lr", "0.1", "float"),
        ("betas", (0.5,), "pair"),
        ("betas", (0.5, 1.0), "[0, 1)"),
        ("betas", "ab", "pair"),
        ("lambda_cycle", -1.0, ">= 0"),
        ("lambda_identity", float("inf"), "finite"),
        ("gan_mode", "wgan", "'lsgan', 'vanilla', 'hinge'"),
        ("pool_size", -1, "int >= 0"),
        ("epochs", 1.5, "int >= 0"),
        ("decay_epochs", True, "int >= 0"),
        ("seed", -3, "int >= 0"),
        ("log_every", 0, "int >= 1"),
        ("checkpoint_dir", "", "non-empty"),
        ("checkpoint_every", -1, "int >= 0"),
        ("keep_last", -2, "int >= 0"),
        ("amp", "fp8", "'off', 'bf16', 'fp16'"),
        ("channels_last", 1, "bool"),
    ],
)
def test_config_validation_names_field_expected_and_received(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ValueError) as info:
        TrainConfig(**{field: value})
    message = str(info.value)
    assert f"TrainConfig.{field}" in message
    assert expected in message
    assert repr(value) in message


def test_config_normalises_types() -> None:
    cfg = TrainConfig(lr=1, betas=[0, 0.9], checkpoint_dir=Path("runs"))  # type: ignore[arg-type]
    assert isinstance(cfg.lr, float) and cfg.betas == (0.0, 0.9)
    assert cfg.checkpoint_dir == "runs"


def test_config_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"unknown fields \['bogus'\]"):
        TrainConfig.from_dict({"bogus": 1, "lr": 0.1})
    assert TrainConfig.from_dict({"betas": [0.1, 0.2]}).betas == (0.1, 0.2)


@given(
    lr=st.floats(1e-6, 1.0),
    beta1=st.floats(0.0, 0.99),
    lambda_identity=st.floats(0.0, 5.0),
    gan_mode=st.sampled_from(["lsgan", "vanilla", "hinge"]),
    epochs=st.integers(0, 500),
    amp=st.sampled_from(["off", "bf16", "fp16"]),
    checkpoint_dir=st.none() | st.just("ckpt"),
)
def test_config_dict_round_trip_is_plain(
    lr: float,
    beta1: float,
    lambda_identity: float,
    gan_mode: Any,
    epochs: int,
    amp: Any,
    checkpoint_dir: str | None,
) -> None:
    cfg = TrainConfig(
        lr=lr,
        betas=(beta1, 0.999),
        lambda_identity=lambda_identity,
        gan_mode=gan_mode,
        epochs=epochs,
        amp=amp,
        checkpoint_dir=checkpoint_dir,
    )
    data = cfg.to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(TrainConfig)}
    plain = (str, int, float, bool, type(None), tuple)
    assert all(isinstance(v, plain) for v in data.values())
    assert TrainConfig.from_dict(data) == cfg


# ----------------------------------------------------------------------------- schedule
def test_linear_decay_reference_values() -> None:
    f = linear_decay_lambda(100, 100)
    assert [f(e) for e in (0, 50, 99)] == [1.0, 1.0, 1.0]
    assert f(100) == pytest.approx(1 - 1 / 101)
    assert f(150) == pytest.approx(1 - 51 / 101)
    assert f(199) == pytest.approx(1 / 101)
    with pytest.raises(ValueError, match="epochs"):
        linear_decay_factor(0, epochs=-1, decay_epochs=1)


@given(epochs=st.integers(0, 50), decay=st.integers(0, 50), e=st.integers(0, 120))
def test_linear_decay_factor_matches_formula(epochs: int, decay: int, e: int) -> None:
    value = linear_decay_factor(e, epochs=epochs, decay_epochs=decay)
    expected = 1 - max(0, e + 1 - epochs) / (decay + 1)
    assert value == pytest.approx(max(0.0, expected))
    assert 0.0 <= value <= 1.0
    assert linear_decay_factor(e + 1, epochs=epochs, decay_epochs=decay) <= value


class LRRecorder(Callback):
    def __init__(self) -> None:
        self.lrs: list[tuple[float, float]] = []

    def on_epoch_start(self, trainer: CycleTrainer) -> None:
        self.lrs.append(
            (trainer.optimizer_g.param_groups[0]["lr"], trainer.optimizer_d.param_groups[0]["lr"])
        )


def test_lr_at_epoch_boundaries_follows_reference_formula() -> None:
    rec = LRRecorder()
    trainer = make_trainer(small_config(epochs=2, decay_epochs=3, lr=1e-3), callbacks=[rec])
    trainer.fit(make_batches(1))
    assert len(rec.lrs) == 5
    for e, (lr_g, lr_d) in enumerate(rec.lrs):
        expected = 1e-3 * (1 - max(0, e + 1 - 2) / 4)
        assert lr_g == pytest.approx(expected) and lr_d == pytest.approx(expected)
    assert trainer.scheduler_g.last_epoch == 5 == trainer.scheduler_d.last_epoch


def test_schedulers_step_only_after_completed_epochs() -> None:
    trainer = make_trainer(small_config(epochs=0, decay_epochs=3))
    trainer.fit(make_batches(3), max_steps=2)  # stops inside epoch 0
    assert trainer.scheduler_g.last_epoch == 0
    trainer.fit(make_batches(3), max_steps=3)  # finishes the 3-batch epoch 0 exactly
    assert trainer.scheduler_g.last_epoch == 0  # end of data not yet seen
    trainer.fit(make_batches(3), max_steps=4)
    assert trainer.scheduler_g.last_epoch == 1 and trainer.state.epoch == 1


# ----------------------------------------------------------------------------- train_step
def test_train_step_losses_are_detached_0d_with_stable_keys() -> None:
    trainer = make_trainer()
    x, y = make_batches(1)[0]
    losses = trainer.train_step(x, y)
    assert tuple(losses) == LOSS_KEYS
    for key, value in losses.items():
        assert value.dim() == 0, key
        assert not value.requires_grad and value.grad_fn is None, key
        assert value.dtype == torch.float32 and math.isfinite(float(value)), key
    total = sum(float(losses[k]) for k in LOSS_KEYS[1:7])
    assert float(losses["g_total"]) == pytest.approx(total, rel=1e-5)
    assert float(losses["identity_x"]) > 0


def test_train_step_updates_generators_and_discriminators() -> None:
    trainer = make_trainer()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train_step(*make_batches(1)[0])
    after = trainer.model.state_dict()
    for net in ("g_xy", "g_yx", "d_x", "d_y"):
        changed = [
            k for k in before if k.startswith(net + ".") and not torch.equal(before[k], after[k])
        ]
        assert changed, f"{net} was not updated"
    assert all(p.requires_grad for p in trainer.model.d_x.parameters())
    assert all(p.requires_grad for p in trainer.model.d_y.parameters())


def record_calls(model: CycleGAN) -> list[tuple[str, int]]:
    """``(network, batch size)`` of every forward call, in order."""
    calls: list[tuple[str, int]] = []
    for name in ("g_xy", "g_yx", "d_x", "d_y"):
        net = getattr(model, name)
        net.register_forward_hook(lambda m, i, o, name=name: calls.append((name, len(i[0]))))
    return calls


def test_train_step_follows_reference_order_with_batched_shared_calls() -> None:
    trainer = make_trainer()  # InstanceNorm everywhere: every network is per-sample
    calls = record_calls(trainer.model)
    trainer.train_step(*make_batches(1, batch_size=2)[0])
    assert calls == [
        ("g_xy", 4), ("g_yx", 4),  # [fake_y; idt_y] = g_xy([x; y]), [fake_x; idt_x] = g_yx([y; x])
        ("g_yx", 2), ("g_xy", 2),  # rec_x = g_yx(fake_y), rec_y = g_xy(fake_x)
        ("d_y", 2), ("d_x", 2),  # adversarial terms of the generators
        ("d_y", 4), ("d_x", 4),  # D_y([real; fake]), D_x([real; fake])
    ]  # fmt: skip


def test_batchnorm_networks_keep_the_reference_calls() -> None:
    # BatchNorm normalises with the batch's statistics: batching calls would change the math.
    torch.manual_seed(0)
    model = CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        norm="batch",
        discriminator_overrides={"base_channels": 4, "n_layers": 1, "norm": "batch"},
    )
    trainer = CycleTrainer(model, small_config(), device="cpu")
    calls = record_calls(trainer.model)
    trainer.train_step(*make_batches(1, batch_size=2)[0])
    assert calls == [
        ("g_xy", 2), ("g_yx", 2), ("g_yx", 2), ("g_xy", 2),  # fake_y, rec_x, fake_x, rec_y
        ("g_xy", 2), ("g_yx", 2),  # identity: g_xy(y), g_yx(x)
        ("d_y", 2), ("d_x", 2),  # adversarial terms of the generators
        ("d_y", 2), ("d_y", 2), ("d_x", 2), ("d_x", 2),  # D_y(real), D_y(fake), D_x(...)
    ]  # fmt: skip


def test_batched_calls_give_the_losses_and_gradients_of_separate_calls() -> None:
    batched, separate = make_trainer(), make_trainer()
    separate._batch_generators = separate._batch_discriminators = False
    batch = make_batches(1, batch_size=2)[0]
    a, b = batched.train_step(*batch), separate.train_step(*batch)
    for key in LOSS_KEYS:
        assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-5, abs=1e-7), key
    # The gradients of this step are still in .grad (the next step clears them). Conv biases
    # in front of an InstanceNorm get only rounding noise (~1e-7), hence the absolute
    # tolerance; the weights' gradients are of order 1 to 30.
    for (name, p), q in zip(
        batched.model.named_parameters(), separate.model.parameters(), strict=True
    ):
        assert p.grad is not None and q.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_identity_disabled_skips_forwards_and_returns_zeros() -> None:
    trainer = make_trainer(small_config(lambda_identity=0.0))
    calls = record_calls(trainer.model)
    losses = trainer.train_step(*make_batches(1)[0])
    assert [name for name, _ in calls].count("g_xy") == 2
    assert [name for name, _ in calls].count("g_yx") == 2
    assert float(losses["identity_x"]) == 0.0 == float(losses["identity_y"])


def test_discriminators_are_frozen_during_generator_update() -> None:
    trainer = make_trainer()
    seen: list[bool] = []
    trainer.model.d_y.register_forward_pre_hook(
        lambda m, i: seen.append(any(p.requires_grad for p in m.parameters()))
    )
    frozen = next(trainer.model.d_x.parameters())
    frozen.requires_grad_(False)
    trainer = CycleTrainer(trainer.model, small_config(), device="cpu")
    trainer.train_step(*make_batches(1)[0])
    # G loss, then D_y on real and on fake (separate calls: a hooked network is never batched)
    assert seen == [False, True, True]
    assert not frozen.requires_grad  # a user-frozen parameter stays frozen


@pytest.mark.parametrize("gan_mode", ["vanilla", "hinge"])
def test_other_gan_modes_run(gan_mode: Any) -> None:
    trainer = make_trainer(small_config(gan_mode=gan_mode))
    losses = trainer.train_step(*make_batches(1)[0])
    assert all(math.isfinite(float(v)) for v in losses.values())


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_and_channels_last(amp: Any) -> None:
    trainer = make_trainer(small_config(amp=amp, channels_last=True))
    assert (trainer.scaler is not None) == (amp == "fp16")
    weight = trainer.model.g_xy.get_parameter("stem.conv.weight")
    assert weight.is_contiguous(memory_format=torch.channels_last)
    state = trainer.fit(make_batches(2), max_steps=2)
    assert state.step == 2
    assert all(math.isfinite(v) for v in state.last_losses.values())
    checkpoint = trainer.state_dict()
    assert (checkpoint["grad_scaler"] is not None) == (amp == "fp16")


def test_train_step_rejects_non_tensors() -> None:
    with pytest.raises(TypeError, match="real_x must be a torch.Tensor"):
        make_trainer().train_step([1.0], torch.zeros(1, 3, SIZE, SIZE))  # type: ignore[arg-type]


class GeneratorLossOverride(CycleTrainer):
    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Any
    ) -> dict[str, torch.Tensor]:
        terms = super().compute_generator_loss(real_x, real_y, outputs)
        terms["g_total"] = terms["g_total"] * 0  # generators get zero gradients
        return terms


def test_subclass_can_override_generator_loss() -> None:
    trainer = GeneratorLossOverride(make_model(), small_config(), device="cpu")
    before = [p.clone() for p in trainer.model.g_xy.parameters()]
    trainer.train_step(*make_batches(1)[0])
    # Adam with zero gradients leaves the weights unchanged.
    assert all(
        torch.equal(a, b) for a, b in zip(before, trainer.model.g_xy.parameters(), strict=True)
    )


# ----------------------------------------------------------------------------- fit
def test_construction_wires_optimisers_schedulers_pools() -> None:
    trainer = make_trainer(small_config(lr=1e-3, betas=(0.1, 0.2), seed=5))
    model = trainer.model
    g_params = [*model.g_xy.parameters(), *model.g_yx.parameters()]
    d_params = [*model.d_x.parameters(), *model.d_y.parameters()]
    assert trainer.optimizer_g.param_groups[0]["params"] == g_params
    assert trainer.optimizer_d.param_groups[0]["params"] == d_params
    assert trainer.optimizer_g.param_groups[0]["betas"] == (0.1, 0.2)
    assert trainer.optimizer_d.param_groups[0]["lr"] == 1e-3
    assert trainer.pool_x.size == 3 == trainer.pool_y.size
    assert trainer.scaler is None and trainer.device == torch.device("cpu")
    assert isinstance(trainer.state, TrainerState)
    with pytest.raises(TypeError, match="CycleGAN"):
        CycleTrainer(torch.nn.Linear(1, 1), device="cpu")  # type: ignore[arg-type]


def test_fit_counts_epochs_and_steps_as_totals() -> None:
    trainer = make_trainer(small_config(epochs=2, decay_epochs=2))
    data = make_batches(3)
    trainer.fit(data, max_steps=4)
    assert (trainer.state.epoch, trainer.state.step, trainer.state.batch_in_epoch) == (1, 4, 1)
    trainer.fit(data, max_steps=4)  # already there: nothing to do
    assert trainer.state.step == 4
    trainer.fit(data, epochs=2)
    assert (trainer.state.epoch, trainer.state.step, trainer.state.batch_in_epoch) == (2, 6, 0)
    trainer.fit(data)  # default: epochs + decay_epochs = 4 in total
    assert (trainer.state.epoch, trainer.state.step) == (4, 12)
    assert trainer.state.max_epochs == 4


def test_fit_is_reproducible_from_config_seed() -> None:
    def run() -> dict[str, torch.Tensor]:
        trainer = CycleTrainer(make_model(dropout=0.5), small_config(seed=3), device="cpu")
        torch.manual_seed(999)  # the fresh fit re-seeds from config.seed
        trainer.fit(make_batches(2), epochs=1)
        return trainer.model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_in_memory_continuation_matches_a_straight_run() -> None:
    data = make_batches(3)
    straight = CycleTrainer(make_model(dropout=0.5), small_config(), device="cpu")
    straight.fit(data)
    split = CycleTrainer(make_model(dropout=0.5), small_config(), device="cpu")
    split.fit(data, max_steps=2)  # stops inside epoch 0
    split.fit(data, max_steps=4)  # replays epoch 0's first two batches, stops inside epoch 1
    split.fit(data)
    assert split.state.step == straight.state.step == 6
    a, b = straight.model.state_dict(), split.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fit_rejects_iterators_and_empty_data() -> None:
    trainer = make_trainer()
    with pytest.raises(TypeError, match="re-iterable"):
        trainer.fit(iter(make_batches(2)))
    with pytest.raises(ValueError, match="no batches in epoch 0"):
        trainer.fit([])
    with pytest.raises(ValueError, match="max_steps"):
        trainer.fit(make_batches(1), max_steps=-1)
    with pytest.raises(TypeError, match=r"\(real_x, real_y\)"):
        trainer.fit([(torch.zeros(1, 3, SIZE, SIZE),)])


class EpochAware:
    """Re-iterable data with set_epoch on itself, its dataset and its sampler."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches
        self.calls: list[tuple[str, int]] = []
        outer = self

        class Part:
            def __init__(self, name: str) -> None:
                self.name = name

            def set_epoch(self, epoch: int) -> None:
                outer.calls.append((self.name, epoch))

        self.dataset = Part("dataset")
        self.sampler = Part("sampler")

    def set_epoch(self, epoch: int) -> None:
        self.calls.append(("data", epoch))

    def __iter__(self) -> Any:
        return iter(self.batches)


def test_fit_calls_set_epoch_on_data_dataset_and_sampler() -> None:
    data = EpochAware(make_batches(1))
    make_trainer().fit(data, epochs=2)
    assert data.calls == [
        ("data", 0), ("dataset", 0), ("sampler", 0),
        ("data", 1), ("dataset", 1), ("sampler", 1),
    ]  # fmt: skip


class LossReader(Callback):
    def __init__(self) -> None:
        self.seen: list[tuple[int, bool, dict[str, float]]] = []

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        self.seen.append((trainer.state.step, trainer.is_log_step, dict(trainer.state.last_losses)))


def test_losses_reach_the_host_only_at_log_steps() -> None:
    reader = LossReader()
    trainer = make_trainer(small_config(log_every=2), callbacks=[reader])
    trainer.fit(make_batches(5), epochs=1)
    steps = [(s, log, bool(losses)) for s, log, losses in reader.seen]
    assert steps == [
        (1, False, False),
        (2, True, True),
        (3, False, True),
        (4, True, True),
        (5, False, True),
    ]
    assert set(reader.seen[1][2]) == set(LOSS_KEYS)
    assert reader.seen[2][2] == reader.seen[1][2]  # unchanged between log steps


# ----------------------------------------------------------------------------- non-finite
def nan_batches(n_good: int, n_total: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    batches = make_batches(n_total)
    for i in range(n_good, n_total):
        batches[i] = (torch.full_like(batches[i][0], float("nan")), batches[i][1])
    return batches


def test_nan_is_reported_at_the_next_log_step_with_step_and_key() -> None:
    reader = LossReader()
    trainer = make_trainer(small_config(log_every=3), callbacks=[reader])
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(nan_batches(1, 5), epochs=1)
    err = info.value
    assert isinstance(err, FloatingPointError) and isinstance(err, RuntimeError)
    assert err.step == 2 and err.key == "g_adv_xy"
    assert "step 2" in str(err) and "'g_adv_xy'" in str(err)
    # x is NaN: the X->Y side and both discriminators (d_x sees the NaN real x) go bad.
    assert {"g_adv_xy", "cycle_x", "identity_x", "g_total", "d_x"} <= set(err.keys)
    assert "cycle_y" not in err.keys
    assert trainer.state.step == 3  # detected at the log step 3, not at step 2
    assert len(reader.seen) == 2  # on_step_end of step 3 did not run


def test_nan_is_reported_at_the_end_of_fit() -> None:
    trainer = make_trainer(small_config(log_every=1000))
    with pytest.raises(NonFiniteLossError, match="step 3"):
        trainer.fit(nan_batches(2, 3), epochs=1)
    assert trainer.state.epoch == 1


class CorruptWeight(Callback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        if trainer.state.step == self.at_step:
            with torch.no_grad():
                next(trainer.model.g_xy.parameters()).fill_(float("inf"))


class Snapshot(Callback):
    """Records the bytes of last.pt after each step (runs after ModelCheckpoint)."""

    def __init__(self, path: Any) -> None:
        self.path = path
        self.data: bytes | None = None

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        if self.path.exists():
            self.data = self.path.read_bytes()


def test_corrupted_weight_never_reaches_a_checkpoint(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(tmp_path, every_n_steps=1)
    snap = Snapshot(tmp_path / "last.pt")
    trainer = make_trainer(small_config(log_every=1000), callbacks=[CorruptWeight(2), ckpt, snap])
    with pytest.raises(NonFiniteLossError, match=r"model\.g_xy\..*step 2"):
        trainer.fit(make_batches(4), epochs=1)
    assert snap.data is not None
    assert (tmp_path / "last.pt").read_bytes() == snap.data  # the step-1 checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step-00000001.pt"]


def test_nan_loss_stops_before_the_next_checkpoint(tmp_path: Any) -> None:
    ckpt = ModelCheckpoint(tmp_path, every_n_steps=2)
    snap = Snapshot(tmp_path / "last.pt")
    trainer = make_trainer(small_config(log_every=1000), callbacks=[ckpt, snap])
    with pytest.raises(NonFiniteLossError, match="step 3"):
        trainer.fit(nan_batches(2, 6), epochs=1)
    assert trainer.state.step == 4  # the save at step 4 found the NaN of step 3
    assert (tmp_path / "last.pt").read_bytes() == snap.data
    assert not (tmp_path / "step-00000004.pt").exists()
    with pytest.raises(NonFiniteLossError):
        trainer.save_checkpoint(tmp_path / "manual.pt")
    assert not (tmp_path / "manual.pt").exists()


def test_train_config_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        TrainConfig(2e-4)  # type: ignore[call-arg]
    assert TrainConfig(lr=1e-3).lr == 1e-3
