"""Tests for the built-in callbacks on ranks other than 0 of a ``torchrun`` run.

Single process, no process group: a :class:`CycleTrainer` subclass says it is rank 1 of 2 and,
like the real collective on such a rank, takes part in ``save_checkpoint`` (builds the
checkpoint) without writing it. On that rank the callbacks must create, change and print
nothing and run no sample forward, while ModelCheckpoint saves at the same steps as on rank 0
and every callback's state still round-trips.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest
import torch

import unpaired_i2i.training.callbacks.images as images_module
import unpaired_i2i.training.callbacks.logging as logging_module
from _tiny import random_batches, tiny_model
from unpaired_i2i import (
    EMA,
    Callback,
    CycleGAN,
    CycleTrainer,
    LossPlot,
    MetricsLogger,
    ModelCheckpoint,
    ProgressBar,
    SampleGrid,
    TensorBoardLogger,
    TrainConfig,
)
from unpaired_i2i._io import StrPath

SIZE = 8
# 3 batches per epoch, 2 epochs: 6 steps, a log step each.
CONFIG = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=1)


def make_model() -> CycleGAN:
    return tiny_model()


def make_batches(n: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE)


def fixed_images() -> torch.Tensor:
    return torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)) * 2 - 1


class RankZero(CycleTrainer):
    """Rank 0 (as in one process); records the ``save_checkpoint`` calls."""

    def __init__(self, callbacks: list[Callback]) -> None:
        super().__init__(make_model(), CONFIG, callbacks=callbacks, device="cpu")
        self.saves: list[tuple[int, Path]] = []

    def save_checkpoint(self, path: StrPath) -> Path:
        self.saves.append((self.state.step, Path(path)))
        return super().save_checkpoint(path)


class OtherRank(RankZero):
    """Rank 1 of 2: takes part in ``save_checkpoint`` (builds the checkpoint), writes nothing."""

    @property
    def is_global_zero(self) -> bool:
        return False

    @property
    def global_rank(self) -> int:
        return 1

    @property
    def world_size(self) -> int:
        return 2

    def save_checkpoint(self, path: StrPath) -> Path:
        self.saves.append((self.state.step, Path(path)))
        self.state_dict()  # every rank builds the checkpoint; only rank 0 writes it
        return Path(os.fspath(path))


# ------------------------------------------------------------ stand-ins for optional extras
class FakeFigure:
    """Enough of matplotlib's ``Figure`` for :meth:`LossPlot.draw`."""

    def __init__(self, **kwargs: Any) -> None:
        pass

    def subplots(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return mock.MagicMock(), mock.MagicMock()

    def savefig(self, buffer: io.BytesIO, **kwargs: Any) -> None:
        buffer.write(b"\x89PNG fake")


class FakeWriter:
    """Enough of ``SummaryWriter``: creates its folder (as the real one does), records adds."""

    opened: ClassVar[list[FakeWriter]] = []  # reset by the fixture

    def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.added: list[tuple[str, int]] = []
        FakeWriter.opened.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.added.append((tag, step))

    def add_image(self, tag: str, image: torch.Tensor, step: int) -> None:
        self.added.append((tag, step))

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fake_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run LossPlot and TensorBoardLogger without matplotlib / tensorboard installed."""
    monkeypatch.setattr(images_module, "_require_matplotlib", lambda: (FakeFigure, lambda f: f))
    monkeypatch.setattr(logging_module, "_require_tensorboard", lambda: FakeWriter)
    monkeypatch.setattr(FakeWriter, "opened", [])


def count_sample_forwards(model: CycleGAN) -> list[int]:
    """Count generator forwards under inference mode (the sample grids'; training has none)."""
    calls = [0]

    def hook(module: Any, args: Any, output: Any) -> None:
        if torch.is_inference_mode_enabled():
            calls[0] += 1

    for g in (model.g_xy, model.g_yx):
        g.register_forward_hook(hook)
    return calls


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


# name -> (factory of the callback writing under a folder, what rank 0 makes: files, output)
CALLBACKS: dict[str, tuple[Callable[[Path], Callback], bool, bool]] = {
    "checkpoint": (lambda d: ModelCheckpoint(d / "ck", every_n_steps=2, keep_last=1), True, False),
    "bar": (lambda d: ProgressBar(disable=False), False, True),
    "plain-lines": (lambda d: ProgressBar(every_n_steps=1), False, True),
    "metrics-csv": (lambda d: MetricsLogger(d / "logs" / "metrics.csv"), True, False),
    "metrics-jsonl": (lambda d: MetricsLogger(d / "metrics.jsonl"), True, False),
    "sample-grid": (
        lambda d: SampleGrid(d / "samples", fixed_images(), fixed_images(), every_n_steps=1),
        True,
        False,
    ),
    "loss-plot": (
        lambda d: LossPlot(d / "plots" / "losses.png", keys=["g_total", "nope"], every_n_steps=2),
        True,
        False,
    ),
    "tensorboard": (
        lambda d: TensorBoardLogger(d / "tb", log_images_every=1),
        True,
        False,
    ),
    "ema": (lambda d: EMA(0.5), False, False),
}


def with_ema(callback: Callback) -> list[Callback]:
    """The callback after an EMA (whose generators sample grids then use)."""
    return [callback] if isinstance(callback, EMA) else [EMA(0.5), callback]


@pytest.mark.parametrize("name", list(CALLBACKS))
def test_other_ranks_create_and_print_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    factory, makes_files, prints = CALLBACKS[name]
    folder = tmp_path / "rank1"
    folder.mkdir()
    trainer = OtherRank(with_ema(factory(folder)))
    forwards = count_sample_forwards(trainer.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(make_batches())
    assert trainer.state.step == 6
    assert list(folder.iterdir()) == []
    assert capsys.readouterr() == ("", "")
    assert [str(w.message) for w in caught] == []
    assert forwards[0] == 0
    assert FakeWriter.opened == []
    # Rank 0 does make the output, so the checks above are not vacuous.
    zero_folder = tmp_path / "rank0"
    zero_folder.mkdir()
    zero = RankZero(with_ema(factory(zero_folder)))
    zero_forwards = count_sample_forwards(zero.model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zero.fit(make_batches())
    assert bool(list(zero_folder.iterdir())) == makes_files
    out, err = capsys.readouterr()
    assert bool(out or err) == prints
    assert bool(zero_forwards[0]) == (name in ("sample-grid", "tensorboard"))


def test_hooks_on_other_ranks_leave_no_bar_and_no_writer(tmp_path: Path) -> None:
    bar = ProgressBar(disable=False)
    tb = TensorBoardLogger(tmp_path / "tb")
    seen: list[tuple[object, object]] = []

    class Spy(Callback):
        def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
            seen.append((bar.bar, tb.writer))

    OtherRank([bar, tb, Spy()]).fit(make_batches(), max_steps=2)
    assert seen == [(None, None), (None, None)]


@pytest.mark.parametrize(
    ("every_n_steps", "keep_last", "save_last"),
    [(2, 1, True), (1, 2, False), (0, 0, True), (4, 3, True)],
)
def test_model_checkpoint_saves_at_the_same_steps_on_every_rank(
    tmp_path: Path, every_n_steps: int, keep_last: int, save_last: bool
) -> None:
    folder = tmp_path / "ck"
    kwargs: dict[str, Any] = {
        "every_n_steps": every_n_steps,
        "keep_last": keep_last,
        "save_last": save_last,
    }
    zero_cb, other_cb = ModelCheckpoint(folder, **kwargs), ModelCheckpoint(folder, **kwargs)
    zero, other = RankZero([zero_cb]), OtherRank([other_cb])
    zero.fit(make_batches())
    written = snapshot(folder)
    other.fit(make_batches())  # on the same (shared) folder: rank 0's files stay as they are
    assert snapshot(folder) == written
    assert other.saves == zero.saves and zero.saves
    assert other_cb.state_dict() == zero_cb.state_dict()
    assert other_cb.saved_paths == zero_cb.saved_paths


def test_model_checkpoint_save_returns_the_path_on_other_ranks(tmp_path: Path) -> None:
    cb = ModelCheckpoint(tmp_path / "ck", every_n_epochs=0, keep_last=2)
    trainer = OtherRank([cb])
    trainer.fit(make_batches(), max_steps=1)
    assert cb.save(trainer) == tmp_path / "ck" / "step-00000001.pt"
    assert not (tmp_path / "ck").exists()


def test_model_checkpoint_leaves_temporary_files_to_rank_zero(tmp_path: Path) -> None:
    from unpaired_i2i._io import temp_path

    folder = tmp_path / "ck"
    folder.mkdir()
    left = temp_path(folder / "last.pt")
    left.write_bytes(b"unfinished")  # rank 0 may be writing it right now
    OtherRank([ModelCheckpoint(folder, keep_last=0)]).fit(make_batches(), max_steps=1)
    assert [p.name for p in folder.iterdir()] == [left.name]


def test_metrics_logger_on_other_ranks_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("step,epoch\n1,0\n7,2\n", encoding="utf-8")  # a fresh run drops these on rank 0
    OtherRank([MetricsLogger(path)]).fit(make_batches())
    assert path.read_text(encoding="utf-8") == "step,epoch\n1,0\n7,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def all_callbacks(folder: Path) -> list[Callback]:
    return [
        EMA(0.5),
        ProgressBar(disable=True),
        MetricsLogger(folder / "metrics.jsonl"),
        SampleGrid(folder / "samples", fixed_images(), fixed_images(), every_n_steps=2),
        LossPlot(folder / "losses.png", every_n_steps=2),
        TensorBoardLogger(folder / "tb", log_images_every=2),
        ModelCheckpoint(folder / "ck", every_n_steps=2),
    ]


def same(a: Any, b: Any) -> bool:
    """Equality of nested states holding tensors (compared exactly)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def test_every_rank_keeps_the_same_state_and_resumes_from_rank_zeros_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zero_cbs, other_cbs = all_callbacks(tmp_path), all_callbacks(tmp_path)
    zero, other = RankZero(zero_cbs), OtherRank(other_cbs)
    zero.fit(make_batches(), max_steps=4)
    written = snapshot(tmp_path)
    other.fit(make_batches(), max_steps=4)
    assert snapshot(tmp_path) == written
    for a, b in zip(zero_cbs, other_cbs, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        for state in (sa, sb):
            state.pop("time", None)  # MetricsLogger's wall clock differs between any two runs
        assert same(sa, sb), a.state_key
    # A fresh process on rank 1 loads rank 0's checkpoint and finishes the run, writing nothing.
    resumed_cbs = all_callbacks(tmp_path)
    resumed = OtherRank(resumed_cbs)
    resumed.load_checkpoint(tmp_path / "ck" / "last.pt")
    assert resumed.state.step == 4
    ema, plot = resumed_cbs[0], resumed_cbs[4]
    assert isinstance(ema, EMA) and isinstance(plot, LossPlot)
    assert ema.n_averaged == 4 and plot.steps == [1, 2, 3, 4]
    resumed.fit(make_batches())
    assert resumed.state.step == 6
    assert plot.steps == [1, 2, 3, 4, 5, 6]
    assert [step for step, _ in resumed.saves] == [6, 6]  # step 6, then the end of epoch 2
    assert snapshot(tmp_path) == written
    capsys.readouterr()
