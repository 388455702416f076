"""Run-state persistence: all-or-nothing loading, config warnings, exception hooks."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch

from _tiny import tiny_model
from unpaired_i2i import Callback, CheckpointError, CycleGAN, CycleTrainer, TrainConfig
from unpaired_i2i.training.run_state import OPERATIONAL_FIELDS

SIZE = 8
CONFIG = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=1, lr=1e-3)


def make_model(seed: int = 0) -> CycleGAN:
    return tiny_model(seed)


def batches(n: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1,
            torch.rand(1, 3, SIZE, SIZE, generator=g),
        )
        for _ in range(n)
    ]


class Counter(Callback):
    def __init__(self, *, fail_on_load: bool = False) -> None:
        self.count = 0
        self.fail_on_load = fail_on_load

    def on_step_end(self, trainer: Any, batch: Any, losses: Any) -> None:
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: Any) -> None:
        if self.fail_on_load and int(state["count"]) > 2:
            self.count = -1  # half-loaded, as a real failure may leave it
            raise ValueError("Counter cannot take this state")
        self.count = int(state["count"])


def snapshot(trainer: CycleTrainer) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "model": trainer.model.state_dict(),
            "optimizer_g": trainer.optimizer_g.state_dict(),
            "optimizer_d": trainer.optimizer_d.state_dict(),
            "scheduler_g": trainer.scheduler_g.state_dict(),
            "pool_x": trainer.pool_x.state_dict(),
            "state": trainer.state.state_dict(),
        }
    )


def assert_same(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}.{i}")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def saved() -> dict[str, Any]:
    trainer = CycleTrainer(make_model(1), CONFIG, callbacks=[Counter()], device="cpu")
    trainer.fit(batches(), max_steps=3)
    return copy.deepcopy(trainer.state_dict())


def fresh_trained(**kw: Any) -> CycleTrainer:
    trainer = CycleTrainer(make_model(2), CONFIG, callbacks=[Counter(**kw)], device="cpu")
    trainer.fit(batches(), max_steps=1)
    return trainer


def test_a_failing_optimizer_state_loads_nothing(saved: dict[str, Any]) -> None:
    trainer = fresh_trained()
    before = snapshot(trainer)
    bad = copy.deepcopy(saved)
    bad["optimizer_d"]["param_groups"] = []  # loads after the weights, and fails
    with pytest.raises(CheckpointError, match=r"optimizer_d: ValueError: .*nothing was loaded"):
        trainer.load_state_dict(bad, source="bad.pt")
    assert_same(snapshot(trainer), before)
    assert trainer.callbacks[0].count == 1  # type: ignore[attr-defined]


def test_a_failing_callback_state_is_a_checkpoint_error_and_loads_nothing(
    saved: dict[str, Any],
) -> None:
    trainer = fresh_trained(fail_on_load=True)
    before = snapshot(trainer)
    with pytest.raises(
        CheckpointError, match=r"bad\.pt .*callback 'Counter': ValueError: Counter cannot take"
    ):
        trainer.load_state_dict(saved, source="bad.pt")
    assert_same(snapshot(trainer), before)
    counter = trainer.callbacks[0]
    assert counter.count == 1  # type: ignore[attr-defined]  # rolled back, not 3
    # The trainer still trains from where it was, as if the load was never tried.
    counter.fail_on_load = False  # type: ignore[attr-defined]
    trainer.fit(batches(), max_steps=2)
    assert trainer.state.step == 2


def test_a_good_checkpoint_still_loads_everything(saved: dict[str, Any]) -> None:
    trainer = fresh_trained()
    trainer.load_state_dict(saved)
    assert trainer.state.step == 3 and trainer.callbacks[0].count == 3  # type: ignore[attr-defined]
    for name in ("g_xy", "d_y"):
        assert_same(getattr(trainer.model, name).state_dict(), saved["model"][name], name)


def test_seed_is_operational_and_changing_it_on_resume_does_not_warn(
    saved: dict[str, Any],
) -> None:
    assert "seed" in OPERATIONAL_FIELDS
    trainer = CycleTrainer(
        make_model(2),
        TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=1, lr=1e-3, seed=99),
        callbacks=[Counter()],
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.load_state_dict(saved)
    changed = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=1, lr=5e-4)
    other = CycleTrainer(make_model(2), changed, callbacks=[Counter()], device="cpu")
    with pytest.warns(UserWarning, match=r"lr: 0\.001 -> 0\.0005"):
        other.load_state_dict(saved)


class Boom(Callback):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    @property
    def state_key(self) -> str:
        return f"Boom[{self.name}]"

    def on_exception(self, trainer: Any, exc: BaseException) -> None:
        self.log.append(self.name)
        if self.name == "first":
            raise OSError("handler failed too")


class Fail(Callback):
    def on_step_end(self, trainer: Any, batch: Any, losses: Any) -> None:
        raise KeyError("the original error")


def test_on_exception_reaches_every_callback_and_keeps_the_original_error() -> None:
    log: list[str] = []
    trainer = CycleTrainer(
        make_model(),
        CONFIG,
        callbacks=[Fail(), Boom("first", log), Boom("second", log)],
        device="cpu",
    )
    with pytest.warns(RuntimeWarning, match="Boom.on_exception raised OSError: handler failed"):
        with pytest.raises(KeyError, match="the original error") as info:
            trainer.fit(batches())
    assert log == ["first", "second"]
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:  # Python 3.11+
        assert any("handler failed too" in n for n in notes)
