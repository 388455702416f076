"""Tests for the Callback hooks (order, arguments, stopping, exceptions) and ModelCheckpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from _tiny import tiny_model
from unpaired_i2i import (
    LOSS_KEYS,
    Callback,
    CycleGAN,
    CycleTrainer,
    ModelCheckpoint,
    TrainConfig,
    load_checkpoint_file,
)

SIZE = 8


def make_model() -> CycleGAN:
    return tiny_model()


def make_batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (torch.rand(1, 3, SIZE, SIZE, generator=g), torch.rand(1, 3, SIZE, SIZE, generator=g))
        for _ in range(n)
    ]


CONFIG = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=1)


class Recorder(Callback):
    """Records every hook with the trainer state it saw."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.batches: list[Any] = []
        self.losses: list[Any] = []

    def _log(self, trainer: CycleTrainer, hook: str) -> None:
        s = trainer.state
        self.events.append((hook, s.epoch, s.step, s.batch_in_epoch))

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        self._log(trainer, "fit_start")

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        self._log(trainer, "fit_end")

    def on_epoch_start(self, trainer: CycleTrainer) -> None:
        self._log(trainer, "epoch_start")

    def on_epoch_end(self, trainer: CycleTrainer) -> None:
        self._log(trainer, "epoch_end")
        self.events[-1] += (trainer.state.epoch_complete,)

    def on_step_start(self, trainer: CycleTrainer, batch: Any) -> None:
        self._log(trainer, "step_start")
        self.batches.append(batch)

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        self._log(trainer, "step_end")
        assert batch is self.batches[-1]
        self.losses.append(losses)

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        self._log(trainer, "exception")
        self.events[-1] += (type(exc).__name__,)


def test_hook_order_and_arguments() -> None:
    rec = Recorder()
    data = make_batches(2)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[rec], device="cpu")
    trainer.fit(data)
    assert rec.events == [
        ("fit_start", 0, 0, 0),
        ("epoch_start", 0, 0, 0),
        ("step_start", 0, 0, 0), ("step_end", 0, 1, 1),
        ("step_start", 0, 1, 1), ("step_end", 0, 2, 2),
        ("epoch_end", 0, 2, 2, True),
        ("epoch_start", 1, 2, 0),
        ("step_start", 1, 2, 0), ("step_end", 1, 3, 1),
        ("step_start", 1, 3, 1), ("step_end", 1, 4, 2),
        ("epoch_end", 1, 4, 2, True),
        ("fit_end", 2, 4, 0),
    ]  # fmt: skip
    assert rec.batches == [data[0], data[1], data[0], data[1]]
    assert all(b is d for b, d in zip(rec.batches, data * 2, strict=True))
    for losses in rec.losses:
        assert tuple(losses) == LOSS_KEYS
        assert all(v.dim() == 0 and not v.requires_grad for v in losses.values())


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        if trainer.state.step == self.step:
            trainer.state.should_stop = True


def test_should_stop_ends_after_the_current_step() -> None:
    rec = Recorder()
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[StopAt(3), rec], device="cpu")
    state = trainer.fit(make_batches(2))
    assert rec.events[-4:] == [
        ("step_start", 1, 2, 0),
        ("step_end", 1, 3, 1),
        ("epoch_end", 1, 3, 1, False),
        ("fit_end", 1, 3, 1),
    ]
    assert state.should_stop and state.step == 3
    assert trainer.scheduler_g.last_epoch == 1  # the stopped epoch took no LR step
    trainer.fit(make_batches(2))  # a new fit resets should_stop and finishes the run
    assert (trainer.state.step, trainer.state.epoch, trainer.state.should_stop) == (4, 2, False)


class StopAtEpochEnd(Callback):
    def on_epoch_end(self, trainer: CycleTrainer) -> None:
        trainer.state.should_stop = True


def test_should_stop_in_epoch_end_prevents_the_next_epoch() -> None:
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[StopAtEpochEnd()], device="cpu")
    state = trainer.fit(make_batches(2))
    assert (state.epoch, state.step) == (1, 2)


class Interrupt(Callback):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        raise self.exc


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom")])
def test_on_exception_runs_then_the_exception_propagates(exc: BaseException) -> None:
    rec = Recorder()
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[rec, Interrupt(exc)], device="cpu")
    with pytest.raises(type(exc)):
        trainer.fit(make_batches(2))
    assert rec.events[-1] == ("exception", 0, 1, 1, type(exc).__name__)
    assert "fit_end" not in [e[0] for e in rec.events]


def test_on_exception_sees_data_errors() -> None:
    rec = Recorder()
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[rec], device="cpu")
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit([])
    assert rec.events[-1][0] == "exception" and rec.events[-1][-1] == "ValueError"


def test_callback_base_is_a_no_op_with_empty_state() -> None:
    class Plain(Callback):
        pass

    cb = Plain()
    assert cb.state_key == "test_callback_base_is_a_no_op_with_empty_state.<locals>.Plain"
    assert cb.state_dict() == {}
    cb.load_state_dict({})
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu")
    trainer.fit(make_batches(1), max_steps=1)
    cb.on_checkpoint_save(trainer, {})
    cb.on_checkpoint_load(trainer, {})
    cb.on_exception(trainer, RuntimeError())


def test_duplicate_state_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"duplicated: \['Recorder'\]"):
        CycleTrainer(make_model(), CONFIG, callbacks=[Recorder(), Recorder()], device="cpu")
    with pytest.raises(ValueError, match=r"ModelCheckpoint\[a\]"):
        CycleTrainer(
            make_model(),
            CONFIG,
            callbacks=[ModelCheckpoint("a"), ModelCheckpoint("a")],
            device="cpu",
        )
    CycleTrainer(
        make_model(), CONFIG, callbacks=[ModelCheckpoint("a"), ModelCheckpoint("b")], device="cpu"
    )
    with pytest.raises(TypeError, match="Callback"):
        CycleTrainer(make_model(), CONFIG, callbacks=[object()], device="cpu")  # type: ignore[list-item]


class Keyed(Callback):
    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0

    @property
    def state_key(self) -> str:
        return f"Keyed[{self.name}]"

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        self.value += 1 if self.name == "a" else 10

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value}

    def load_state_dict(self, state: Any) -> None:
        self.value = int(state["value"])


def test_callback_states_round_trip_by_state_key(tmp_path: Path) -> None:
    a, b = Keyed("a"), Keyed("b")
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[a, b], device="cpu")
    trainer.fit(make_batches(3), max_steps=3)
    trainer.save_checkpoint(tmp_path / "c.pt")
    b2, a2 = Keyed("b"), Keyed("a")  # order does not matter, keys do
    CycleTrainer(make_model(), CONFIG, callbacks=[b2, a2], device="cpu").load_checkpoint(
        tmp_path / "c.pt"
    )
    assert (a2.value, b2.value) == (3, 30)


# ----------------------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_rotates_files_and_keeps_last(tmp_path: Path) -> None:
    cb = ModelCheckpoint(tmp_path / "ck", every_n_steps=2, keep_last=2)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu")
    trainer.fit(make_batches(3))  # 6 steps: saves at 2, 3 (epoch end), 4, 6 (step + epoch end)
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["last.pt", "step-00000004.pt", "step-00000006.pt"]
    assert cb.saved_paths == [
        tmp_path / "ck" / "step-00000004.pt",
        tmp_path / "ck" / "step-00000006.pt",
    ]
    last = load_checkpoint_file(cb.last_path)
    assert (tmp_path / "ck" / "last.pt").read_bytes() == (
        tmp_path / "ck" / "step-00000006.pt"
    ).read_bytes()
    assert last["trainer"]["step"] == 6 and last["trainer"]["epoch"] == 2
    assert last["trainer"]["batch_in_epoch"] == 0  # the epoch-end save replaced the step save
    assert last["callbacks"][cb.state_key]["saved"] == ["step-00000004.pt", "step-00000006.pt"]


def test_model_checkpoint_state_round_trips(tmp_path: Path) -> None:
    cb = ModelCheckpoint(tmp_path, every_n_steps=1, keep_last=2)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu")
    trainer.fit(make_batches(2), max_steps=3)
    state = cb.state_dict()
    assert state == {
        "dirpath": str(tmp_path),
        "saved": ["step-00000002.pt", "step-00000003.pt"],
        "last_saved": [3, 1],
    }
    other = ModelCheckpoint(tmp_path, every_n_steps=1, keep_last=2)
    other.load_state_dict(state)
    assert other.state_dict() == state
    resumed = ModelCheckpoint(tmp_path, every_n_steps=1, keep_last=2)
    trainer2 = CycleTrainer(make_model(), CONFIG, callbacks=[resumed], device="cpu")
    trainer2.load_checkpoint(cb.last_path)
    assert resumed.state_dict() == state
    trainer2.fit(make_batches(2))  # keeps rotating the files of the first run
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.pt",
        "step-00000003.pt",
        "step-00000004.pt",
    ]


def test_model_checkpoint_saves_at_fit_end_and_only_last(tmp_path: Path) -> None:
    cb = ModelCheckpoint(tmp_path, every_n_epochs=0, keep_last=0)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu")
    trainer.fit(make_batches(3), max_steps=2)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    assert load_checkpoint_file(tmp_path / "last.pt")["trainer"]["step"] == 2


def test_model_checkpoint_deletes_what_a_killed_write_left(tmp_path: Path) -> None:
    from unpaired_i2i._io import temp_path

    folder = tmp_path / "ck"
    folder.mkdir()
    left = temp_path(folder / "last.pt")  # the name an interrupted atomic write leaves
    left.write_bytes(b"x" * 2048)
    (folder / "step-00000001.pt").write_bytes(b"keep")  # not ours to judge: kept
    for other in (
        ".notes.tmp",
        ".last.pt.1234.tmp",
        "last.pt.0123456789abcdef0123456789abcdef.tmp",
    ):
        (folder / other).write_bytes(b"keep")
    trainer = CycleTrainer(
        make_model(), CONFIG, callbacks=[ModelCheckpoint(folder, keep_last=0)], device="cpu"
    )
    with pytest.warns(UserWarning, match=r"deleted 1 unfinished checkpoint file\(s\) \(0\.0 MiB\)"):
        trainer.fit(make_batches(1), max_steps=1)
    assert not left.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            ".last.pt.1234.tmp",
            ".notes.tmp",
            "last.pt",
            "last.pt.0123456789abcdef0123456789abcdef.tmp",
            "step-00000001.pt",
        ]
    )


def test_failed_save_rolls_back_model_checkpoint_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cb = ModelCheckpoint(tmp_path, every_n_steps=1)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[cb], device="cpu")
    trainer.fit(make_batches(2), max_steps=1)
    before = cb.state_dict()

    def fail(path: Any) -> Path:
        raise OSError("no space")

    monkeypatch.setattr(trainer, "save_checkpoint", fail)
    with pytest.raises(OSError, match="no space"):
        trainer.fit(make_batches(2), max_steps=2)
    assert cb.state_dict() == before


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"every_n_steps": -1}, "every_n_steps must be an int >= 0; got -1"),
        ({"every_n_epochs": 1.5}, "every_n_epochs"),
        ({"keep_last": True}, "keep_last"),
        ({"keep_last": 0, "save_last": False}, "would save nothing"),
        ({"save_last": "yes"}, "save_last must be a bool"),
    ],
)
def test_model_checkpoint_validation(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        ModelCheckpoint("x", **kwargs)


def test_config_checkpoint_dir_adds_a_model_checkpoint(tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=1,
        decay_epochs=0,
        pool_size=2,
        checkpoint_dir=str(tmp_path),
        checkpoint_every=2,
        keep_last=1,
    )
    trainer = CycleTrainer(make_model(), config, device="cpu")
    (cb,) = trainer.callbacks
    assert isinstance(cb, ModelCheckpoint)
    assert (cb.dirpath, cb.every_n_steps, cb.every_n_epochs, cb.keep_last) == (tmp_path, 2, 1, 1)
    trainer.fit(make_batches(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step-00000003.pt"]
    mine = ModelCheckpoint(tmp_path, every_n_steps=5)
    assert CycleTrainer(make_model(), config, callbacks=[mine], device="cpu").callbacks == [mine]
