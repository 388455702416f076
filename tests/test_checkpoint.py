"""Tests for checkpoint files and exact (bitwise) resume of CycleTrainer."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import unpaired_i2i
from _tiny import Crash, random_batches, tiny_model
from unpaired_i2i import (
    Callback,
    CheckpointError,
    CycleGAN,
    CycleTrainer,
    ModelCheckpoint,
    TrainConfig,
    load_checkpoint_file,
    load_cyclegan,
    save_checkpoint_file,
)
from unpaired_i2i.training.checkpoint import CHECKPOINT_KEYS, FORMAT_VERSION

SIZE = 8


def make_model(seed: int = 0) -> CycleGAN:
    return tiny_model(seed, dropout=0.5)  # the generators draw from torch's global RNG


def make_batches(
    n: int, batch_size: int = 2, seed: int = 0
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE, batch_size=batch_size, seed=seed)


# 3 batches per epoch, 1 constant + 2 decay epochs = 9 steps; the pools (3 images) fill at step 2.
CONFIG = TrainConfig(epochs=1, decay_epochs=2, pool_size=3, log_every=2, lr=1e-3)


class AugmentedPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Random crop + flip and a random y partner, all from torch's global RNG."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(7)
        self.x = torch.rand(6, 3, SIZE + 4, SIZE + 4, generator=g) * 2 - 1
        self.y = torch.rand(5, 3, SIZE + 4, SIZE + 4, generator=g) * 2 - 1

    def __len__(self) -> int:
        return len(self.x)

    @staticmethod
    def _augment(image: torch.Tensor) -> torch.Tensor:
        top, left = torch.randint(0, 5, (2,)).tolist()
        out = image[:, top : top + SIZE, left : left + SIZE]
        if float(torch.rand(())) < 0.5:
            out = out.flip(-1)
        return out.clone()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = int(torch.randint(len(self.y), ()))
        return self._augment(self.x[index]), self._augment(self.y[j])


def list_data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return make_batches(3)


def loader_data() -> DataLoader[Any]:
    return DataLoader(AugmentedPairs(), batch_size=2, shuffle=True, num_workers=2)


class StepCounter(Callback):
    def __init__(self) -> None:
        self.count = 0

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: Any) -> None:
        self.count = int(state["count"])


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"differ: {different}"


def straight_run(make_data: Any) -> CycleTrainer:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    trainer.fit(make_data())
    return trainer


def crash_and_resume(
    make_data: Any, folder: Path, *, save_every: int, crash_at: int
) -> CycleTrainer:
    counter = StepCounter()
    first = CycleTrainer(
        make_model(),
        CONFIG,
        callbacks=[counter, ModelCheckpoint(folder, every_n_steps=save_every), Crash(crash_at)],
        device="cpu",
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(make_data())
    # A new process would start from scratch: another model init, another global RNG state.
    torch.manual_seed(4321)
    random.seed(4321)
    resumed_counter = StepCounter()
    resumed = CycleTrainer(
        make_model(seed=99),
        CONFIG,
        callbacks=[resumed_counter, ModelCheckpoint(folder, every_n_steps=save_every)],
        device="cpu",
    )
    resumed.load_checkpoint(folder / "last.pt")
    saved_step = (crash_at // save_every) * save_every
    assert resumed.state.step == saved_step == resumed_counter.count
    assert resumed.state.batch_in_epoch > 0  # resumes inside an epoch
    assert len(resumed.pool_x) == CONFIG.pool_size  # the pools had filled
    resumed.fit(make_data())
    assert resumed_counter.count == resumed.state.step
    return resumed


@pytest.mark.parametrize(
    ("make_data", "save_every", "crash_at"),
    [
        (list_data, 2, 5),  # saved at step 4 = epoch 1 (LR decaying), batch 1
        (loader_data, 2, 5),
        (loader_data, 4, 8),  # saved at step 8 = epoch 2, batch 2
    ],
    ids=["list", "dataloader-workers", "dataloader-late"],
)
def test_resume_mid_epoch_is_bitwise_identical(
    make_data: Any, save_every: int, crash_at: int, tmp_path: Path
) -> None:
    straight = straight_run(make_data)
    resumed = crash_and_resume(make_data, tmp_path, save_every=save_every, crash_at=crash_at)
    assert resumed.state.step == straight.state.step == 9
    assert resumed.state.epoch == straight.state.epoch == 3
    assert_same_weights(straight.model, resumed.model)
    assert resumed.scheduler_g.get_last_lr() == straight.scheduler_g.get_last_lr()
    for opt_a, opt_b in (
        (straight.optimizer_g, resumed.optimizer_g),
        (straight.optimizer_d, resumed.optimizer_d),
    ):
        for sa, sb in zip(opt_a.state.values(), opt_b.state.values(), strict=True):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)


def write_pngs(folder: Path, count: int, seed: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        pixels = torch.randint(0, 256, (12, 12, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(folder / f"{i}.png")


@pytest.mark.parametrize("seed", [None, 5], ids=["global-rng", "seeded"])
def test_resume_is_bitwise_identical_with_unpaired_image_dataset(
    tmp_path: Path, seed: int | None
) -> None:
    data_mod = pytest.importorskip("unpaired_i2i.data")
    dataset_cls = getattr(data_mod, "UnpairedImageDataset", None)
    if dataset_cls is None:
        pytest.skip("UnpairedImageDataset is not available")
    write_pngs(tmp_path / "A", 6, 1)
    write_pngs(tmp_path / "B", 4, 2)

    def make_data() -> DataLoader[Any]:
        dataset = dataset_cls(tmp_path / "A", tmp_path / "B", size=SIZE, load_size=10, seed=seed)
        return DataLoader(dataset, batch_size=2, shuffle=True, num_workers=2)

    straight = straight_run(make_data)
    resumed = crash_and_resume(make_data, tmp_path / "ckpt", save_every=2, crash_at=5)
    assert_same_weights(straight.model, resumed.model)


def test_loader_generator_is_checkpointed(tmp_path: Path) -> None:
    def make_data() -> DataLoader[Any]:
        g = torch.Generator().manual_seed(11)
        return DataLoader(AugmentedPairs(), batch_size=2, shuffle=True, generator=g)

    straight = straight_run(make_data)
    resumed = crash_and_resume(make_data, tmp_path, save_every=2, crash_at=5)
    assert_same_weights(straight.model, resumed.model)
    checkpoint = load_checkpoint_file(tmp_path / "last.pt")
    assert set(checkpoint["rng"]["current"]["data"]) == {"loader"}


def test_resume_at_epoch_end_and_totals(tmp_path: Path) -> None:
    data = make_batches(3)
    straight = CycleTrainer(make_model(), CONFIG, device="cpu")
    straight.fit(data)
    first = CycleTrainer(make_model(), CONFIG, callbacks=[ModelCheckpoint(tmp_path)], device="cpu")
    first.fit(data, epochs=2)  # stops after two full epochs
    checkpoint = load_checkpoint_file(tmp_path / "last.pt")
    assert checkpoint["trainer"]["epoch"] == 2 and checkpoint["trainer"]["batch_in_epoch"] == 0
    assert checkpoint["rng"]["epoch_start"] is None
    resumed = CycleTrainer(make_model(seed=3), CONFIG, device="cpu")
    with pytest.warns(UserWarning, match="no callback claims"):
        resumed.load_checkpoint(tmp_path / "last.pt")
    resumed.fit(data, epochs=2)  # epochs is a total: nothing left to do
    assert resumed.state.step == 6
    resumed.fit(data, max_steps=7)
    assert (resumed.state.step, resumed.state.epoch) == (7, 2)
    resumed.fit(data)  # default total: 3 epochs
    assert resumed.state.step == 9
    assert_same_weights(straight.model, resumed.model)


# ----------------------------------------------------------------------------- round trip
def test_checkpoint_round_trip_restores_every_component(tmp_path: Path) -> None:
    np.random.seed(1)
    counter = StepCounter()
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[counter], device="cpu")
    trainer.fit(make_batches(3), max_steps=4)
    path = trainer.save_checkpoint(tmp_path / "sub" / "a.pt")
    expected_rng = (torch.get_rng_state(), random.getstate(), np.random.get_state())

    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(CHECKPOINT_KEYS) <= set(raw)
    meta = raw["meta"]
    assert meta == {
        "library_version": unpaired_i2i.__version__,
        "torch_version": str(torch.__version__),
        "world_size": 1,
        "format_version": FORMAT_VERSION,
        "model_config": trainer.model.get_config(),
    }
    assert type(meta["torch_version"]) is str
    assert raw["config"] == CONFIG.to_dict()
    assert set(raw["model"]) == {"g_xy", "g_yx", "d_x", "d_y"}
    assert raw["trainer"]["step"] == 4 and raw["trainer"]["batch_in_epoch"] == 1
    assert raw["callbacks"] == {"StepCounter": {"count": 4}}
    assert raw["rng"]["epoch_start"] is not None

    torch.manual_seed(77)
    random.seed(77)
    np.random.seed(77)
    other_counter = StepCounter()
    other = CycleTrainer(make_model(seed=5), CONFIG, callbacks=[other_counter], device="cpu")
    other.load_checkpoint(path)

    assert_same_weights(trainer.model, other.model)
    for a, b in (
        (trainer.optimizer_g, other.optimizer_g),
        (trainer.optimizer_d, other.optimizer_d),
    ):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        for key in sa["state"]:
            assert all(
                torch.equal(sa["state"][key][k], sb["state"][key][k]) for k in sa["state"][key]
            )
    for sched_a, sched_b in (
        (trainer.scheduler_g, other.scheduler_g),
        (trainer.scheduler_d, other.scheduler_d),
    ):
        assert sched_a.last_epoch == sched_b.last_epoch == 1
        assert sched_a.get_last_lr() == sched_b.get_last_lr() == [pytest.approx(1e-3 * 2 / 3)]
    for pool_a, pool_b in ((trainer.pool_x, other.pool_x), (trainer.pool_y, other.pool_y)):
        sa, sb = pool_a.state_dict(), pool_b.state_dict()
        assert len(sa["images"]) == len(sb["images"]) == 3
        assert all(torch.equal(i, j) for i, j in zip(sa["images"], sb["images"], strict=True))
        assert torch.equal(sa["rng_state"], sb["rng_state"])
    assert other.state == trainer.state
    assert other_counter.count == 4
    assert torch.equal(torch.get_rng_state(), expected_rng[0])
    assert random.getstate() == expected_rng[1]
    np_state, expected_np_state = np.random.get_state(), expected_rng[2]
    assert isinstance(np_state, tuple) and isinstance(expected_np_state, tuple)
    assert np.array_equal(np_state[1], expected_np_state[1]) and np_state[2] == expected_np_state[2]


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
def test_grad_scaler_state_is_checkpointed(tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, decay_epochs=0, pool_size=2, amp="fp16")
    trainer = CycleTrainer(make_model(), config, device="cpu")
    trainer.fit(make_batches(2))
    assert trainer.scaler is not None
    trainer.scaler.update(1234.0)
    trainer.save_checkpoint(tmp_path / "a.pt")
    other = CycleTrainer(make_model(), config, device="cpu")
    other.load_checkpoint(tmp_path / "a.pt")
    assert other.scaler is not None and other.scaler.get_scale() == 1234.0


def test_config_mismatch_warns_and_unknown_callback_state_warns(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[StepCounter()], device="cpu")
    trainer.fit(make_batches(1), max_steps=1)
    trainer.save_checkpoint(tmp_path / "a.pt")
    changed = TrainConfig(**{**CONFIG.to_dict(), "lr": 5e-4, "log_every": 7})
    other = CycleTrainer(make_model(), changed, device="cpu")
    with pytest.warns(UserWarning) as record:
        other.load_checkpoint(tmp_path / "a.pt")
    messages = " ".join(str(w.message) for w in record)
    assert "lr: 0.001 -> 0.0005" in messages and "log_every" not in messages
    assert "StepCounter" in messages


# ----------------------------------------------------------------------------- failures
def test_failed_write_keeps_previous_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint_file({"w": torch.ones(3)}, path)
    before = path.read_bytes()

    def broken_save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="disk full") as info:
        save_checkpoint_file({"w": torch.zeros(3)}, path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_interrupted_write_propagates_keyboard_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint_file({"w": torch.zeros(1)}, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_trainer_save_failure_leaves_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    trainer.fit(make_batches(1), max_steps=1)
    path = trainer.save_checkpoint(tmp_path / "last.pt")
    before = path.read_bytes()
    trainer.fit(make_batches(1), max_steps=2)
    real_save = torch.save

    def half(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        real_save(obj, f, *args, **kwargs)
        f.truncate(100)
        raise RuntimeError("interrupted")

    monkeypatch.setattr(torch, "save", half)
    with pytest.raises(CheckpointError, match="last.pt"):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


class Marker:
    """Unpickling this creates a marker file: a stand-in for arbitrary code execution."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (str(self.path), "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_hostile_pickle_is_refused_without_running_code(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"meta": {"format_version": FORMAT_VERSION}, "model": Marker(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    with pytest.raises(CheckpointError) as info:
        trainer.load_checkpoint(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def _write_foreign(kind: str, path: Path) -> None:
    if kind == "random-bytes":
        path.write_bytes(os.urandom(256))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "json":
        path.write_text(json.dumps({"meta": {"format_version": 1}}))
    elif kind == "truncated":
        trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
        trainer.save_checkpoint(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "missing-keys":
        torch.save({"meta": {"format_version": FORMAT_VERSION}, "model": {}}, path)
    elif kind == "wrong-version":
        trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
        checkpoint = trainer.state_dict()
        checkpoint["meta"]["format_version"] = 99
        torch.save(checkpoint, path)
    elif kind == "state-dict-only":
        torch.save(make_model().state_dict(), path)
    elif kind == "list":
        torch.save([1, 2, 3], path)


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("random-bytes", "refused|cannot read"),
        ("empty", r"is not a PyTorch checkpoint \(the file is empty\)"),
        ("json", r"is not a PyTorch checkpoint \(it looks like a text file\)"),
        ("truncated", "cannot read checkpoint .* truncated or damaged"),
        ("missing-keys", r"lacks the keys \['config'"),
        ("wrong-version", "format version 99"),
        ("state-dict-only", "format version None"),
        ("list", "holds a list"),
    ],
)
def test_foreign_or_broken_files_raise_checkpoint_error(
    tmp_path: Path, kind: str, pattern: str
) -> None:
    path = tmp_path / f"{kind}.pt"
    _write_foreign(kind, path)
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    with pytest.raises(CheckpointError, match=pattern) as info:
        trainer.load_checkpoint(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "weights_only" not in str(info.value)


# What a file that is not a checkpoint is said to be; never advice to load it unsafely.
EXPECTED = "expected a training checkpoint (.pt) written by `unpaired-i2i train` or"


def _write_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, format="PNG")


@pytest.mark.parametrize(
    ("name", "write", "says"),
    [
        ("photo.png", _write_png, "it looks like a PNG image"),
        ("notes.txt", lambda p: p.write_text("step 1000: loss 0.3\n"), "it looks like a text file"),
        ("empty.pt", lambda p: p.write_bytes(b""), "the file is empty"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_named_as_such(
    tmp_path: Path, name: str, write: Any, says: str
) -> None:
    path = tmp_path / name
    write(path)
    for load in (load_checkpoint_file, load_cyclegan):
        with pytest.raises(CheckpointError) as info:
            load(path)
        message = str(info.value)
        assert message.startswith(f"{path} is not a PyTorch checkpoint ({says}); {EXPECTED}")
        assert "run folder" in message
        assert "weights_only" not in message and "\n" not in message
        assert info.value.__cause__ is None  # torch's message (with its advice) is not chained


class Opaque:
    """An ordinary class: its instances are not among the globals weights_only allows."""

    def __init__(self) -> None:
        self.value = 1


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_with_a_disallowed_global_is_refused_naming_the_type(
    tmp_path: Path, writer: str
) -> None:
    path = tmp_path / "other.pt"
    payload = {"meta": {"format_version": FORMAT_VERSION}, "model": Opaque()}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert message.startswith(f"refused to load checkpoint {path}: it holds a Python object")
    assert f"{Opaque.__module__}.Opaque" in message and "nothing in it was run" in message
    assert EXPECTED in message
    assert "weights_only" not in message and "\n" not in message


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")
def test_a_folder_or_an_exported_model_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint file.*last\.pt"):
        load_checkpoint_file(tmp_path)
    traced = torch.jit.trace(torch.nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 4, 4))  # type: ignore[no-untyped-call]
    path = tmp_path / "g_xy.pt"
    torch.jit.save(traced, str(path))
    with pytest.raises(CheckpointError, match="looks like an exported TorchScript model") as info:
        load_checkpoint_file(path)
    assert "weights_only" not in str(info.value)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint_file(tmp_path / "nope.pt")


def test_checkpoint_of_another_layout_raises_naming_the_file(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    trainer.save_checkpoint(tmp_path / "a.pt")
    torch.manual_seed(0)
    wider = CycleGAN.from_preset(
        "cyclegan",
        base_channels=8,
        n_blocks=1,
        discriminator_overrides={"base_channels": 4, "n_layers": 1},
    )
    other = CycleTrainer(wider, CONFIG, device="cpu")
    with pytest.raises(CheckpointError, match=r"a\.pt does not fit this trainer"):
        other.load_checkpoint(tmp_path / "a.pt")
    smaller_pool = CycleTrainer(
        make_model(), TrainConfig(**{**CONFIG.to_dict(), "pool_size": 2}), device="cpu"
    )
    before = {k: v.clone() for k, v in smaller_pool.model.state_dict().items()}
    with pytest.raises(CheckpointError, match="pool_x has size 3; this trainer's pool has size 2"):
        smaller_pool.load_checkpoint(tmp_path / "a.pt")
    after = smaller_pool.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing half-loaded


class AddsObject(Callback):
    def on_checkpoint_save(self, trainer: CycleTrainer, checkpoint: dict[str, Any]) -> None:
        checkpoint["extra"] = {"ok": torch.ones(1), "bad": Marker(Path("x"))}


def test_unsafe_values_are_refused_before_writing(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[AddsObject()], device="cpu")
    with pytest.raises(CheckpointError, match=r"checkpoint\['extra'\]\['bad'\] is a .*Marker"):
        trainer.save_checkpoint(tmp_path / "a.pt")
    assert list(tmp_path.iterdir()) == []


class AddsTensor(Callback):
    def on_checkpoint_save(self, trainer: CycleTrainer, checkpoint: dict[str, Any]) -> None:
        checkpoint["ema"] = {"w": torch.arange(3.0)}

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Any) -> None:
        self.loaded = checkpoint["ema"]["w"]


def test_callbacks_can_add_entries(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[AddsTensor()], device="cpu")
    trainer.save_checkpoint(tmp_path / "a.pt")
    cb = AddsTensor()
    CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu").load_checkpoint(
        tmp_path / "a.pt"
    )
    assert torch.equal(cb.loaded, torch.arange(3.0))


# ----------------------------------------------------------------------------- load_cyclegan
def test_load_cyclegan_rebuilds_architecture_and_weights(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    trainer.fit(make_batches(2), max_steps=2)
    path = trainer.save_checkpoint(tmp_path / "a.pt")

    model = load_cyclegan(path)
    assert isinstance(model, CycleGAN)
    assert not model.training
    assert model.get_config() == trainer.model.get_config()
    assert_same_weights(trainer.model, model)
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    trainer.model.eval()
    torch.testing.assert_close(model.g_xy(x), trainer.model.g_xy(x), rtol=0, atol=0)


def test_load_cyclegan_prefers_ema_weights(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    trainer.fit(make_batches(1), max_steps=1)
    checkpoint = trainer.state_dict()
    ema_g_xy = {k: torch.zeros_like(v) for k, v in checkpoint["model"]["g_xy"].items()}
    checkpoint["callbacks"]["EMA"] = {"g_xy": ema_g_xy, "g_yx": checkpoint["model"]["g_yx"]}
    path = tmp_path / "ema.pt"
    save_checkpoint_file(checkpoint, path)

    with_ema = load_cyclegan(path)
    assert all(float(p.detach().abs().sum()) == 0.0 for p in with_ema.g_xy.parameters())
    without = load_cyclegan(path, use_ema=False)
    assert_same_weights(trainer.model, without)


def test_load_cyclegan_refuses_checkpoint_without_architecture(tmp_path: Path) -> None:
    trainer = CycleTrainer(make_model(), CONFIG, device="cpu")
    checkpoint = trainer.state_dict()
    checkpoint["meta"]["model_config"] = None
    path = tmp_path / "custom.pt"
    save_checkpoint_file(checkpoint, path)
    with pytest.raises(CheckpointError, match="architecture"):
        load_cyclegan(path)
    with pytest.raises(FileNotFoundError):
        load_cyclegan(tmp_path / "missing.pt")
