"""Tests for the built-in callbacks MetricsLogger, SampleGrid (and its labels), LossPlot, EMA
(and its closed form) and TensorBoardLogger: output files, state across a resume, errors.
ProgressBar has its own file, test_progress_bar.py."""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import unpaired_i2i
from _tiny import Crash, random_batches, tiny_model
from unpaired_i2i import (
    EMA,
    LOSS_KEYS,
    Callback,
    CycleGAN,
    CycleTrainer,
    LossPlot,
    MetricsLogger,
    ModelCheckpoint,
    SampleGrid,
    ShapeError,
    TensorBoardLogger,
    TrainConfig,
    translation_grid,
)

SIZE = 16
BATCH = 2
# 3 batches per epoch, 1 constant + 2 decay epochs = 9 steps; the pools (3 images) fill at step 2.
CONFIG = TrainConfig(epochs=1, decay_epochs=2, pool_size=3, log_every=1, lr=1e-3)


def make_model(seed: int = 0) -> CycleGAN:
    return tiny_model(seed, dropout=0.5)  # the generators draw from torch's global RNG


def make_batches(n: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE, batch_size=BATCH, seed=seed)


def images(n: int, channels: int = 3, size: int = SIZE, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, size, size, generator=g) * 2 - 1


def make_trainer(callbacks: list[Callback], config: TrainConfig = CONFIG) -> CycleTrainer:
    return CycleTrainer(make_model(), config, callbacks=callbacks, device="cpu")


def crash_and_resume(
    make_callbacks: Any, folder: Path, *, save_every: int = 2, crash_at: int = 5
) -> tuple[CycleTrainer, list[Callback], list[Callback]]:
    """Run with ``make_callbacks()`` until a crash, then resume in a 'new process'."""
    first_cbs = make_callbacks()
    first = make_trainer(
        [*first_cbs, ModelCheckpoint(folder, every_n_steps=save_every), Crash(crash_at)]
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(make_batches())
    torch.manual_seed(4321)
    random.seed(4321)
    resumed_cbs = make_callbacks()
    resumed = CycleTrainer(
        make_model(seed=99),
        CONFIG,
        callbacks=[*resumed_cbs, ModelCheckpoint(folder, every_n_steps=save_every)],
        device="cpu",
    )
    resumed.load_checkpoint(folder / "last.pt")
    assert resumed.state.step == (crash_at // save_every) * save_every
    resumed.fit(make_batches())
    return resumed, first_cbs, resumed_cbs


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        size: tuple[int, int] = im.size
        return size


def test_builtin_callbacks_are_exported() -> None:
    for name in (
        "EMA",
        "LossPlot",
        "MetricsLogger",
        "ProgressBar",
        "SampleGrid",
        "TensorBoardLogger",
        "translation_grid",
    ):
        assert name in unpaired_i2i.__all__
        assert getattr(unpaired_i2i, name) is getattr(unpaired_i2i.training, name)


# ------------------------------------------------------------------------------ MetricsLogger
def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", ["metrics.csv", "metrics.jsonl", "metrics.json"])
def test_metrics_logger_writes_one_row_per_log_step(tmp_path: Path, name: str) -> None:
    path = tmp_path / "run" / name
    config = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=2, lr=1e-3)
    trainer = make_trainer([MetricsLogger(path)], config)
    trainer.fit(make_batches())  # 6 steps: rows at 2, 4, 6
    rows = read_rows(path)
    expected_columns = ["step", "epoch", "lr", "time", "images_per_s", *LOSS_KEYS]
    assert [list(row) for row in rows] == [expected_columns] * 3
    assert [int(row["step"]) for row in rows] == [2, 4, 6]
    assert [int(row["epoch"]) for row in rows] == [0, 1, 1]
    assert [float(row["lr"]) for row in rows] == [1e-3, 0.5e-3, 0.5e-3]
    times = [float(row["time"]) for row in rows]
    assert 0 <= times[0] <= times[1] <= times[2]
    assert all(float(row["images_per_s"]) > 0 for row in rows)
    last = {k: float(v) for k, v in rows[-1].items() if k in LOSS_KEYS}
    assert last == pytest.approx(trainer.state.last_losses, rel=1e-12)
    if path.suffix == ".csv":
        assert path.read_text().splitlines()[0] == ",".join(expected_columns)


def test_metrics_logger_format_option_and_errors(tmp_path: Path) -> None:
    logger = MetricsLogger(tmp_path / "metrics.log", format="csv")
    assert logger.format == "csv"
    with pytest.raises(ValueError, match=r"cannot tell the format of .*metrics\.txt .*'\.txt'"):
        MetricsLogger(tmp_path / "metrics.txt")
    with pytest.raises(
        ValueError, match=r"format must be one of 'csv', 'jsonl' or None; got 'xml'"
    ):
        MetricsLogger(tmp_path / "metrics.csv", format="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["metrics.csv", "metrics.jsonl"])
def test_metrics_logger_drops_rows_after_the_checkpoint_on_resume(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    torn = "6,1,0.0005,0." if path.suffix == ".csv" else '{"step": 6, "epo'

    class TearFile(Callback):  # a crash in the middle of writing a row
        def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
            with open(path, "a") as f:
                f.write(torn)

    class RecordingLogger(MetricsLogger):
        loaded: dict[str, Any] | None = None

        def load_state_dict(self, state: Any) -> None:
            self.loaded = dict(state)
            super().load_state_dict(state)

    made: list[Callback] = []

    def callbacks() -> list[Callback]:
        made.append(RecordingLogger(path))
        return [made[-1], TearFile()] if len(made) == 1 else [made[-1]]

    resumed, _, _ = crash_and_resume(callbacks, tmp_path / "ckpt", save_every=2, crash_at=5)
    assert resumed.state.step == 9
    rows = read_rows(path)
    assert [int(row["step"]) for row in rows] == list(range(1, 10))  # 5 was written twice
    loaded = made[1].loaded  # type: ignore[attr-defined]
    assert loaded is not None
    saved_time = float(loaded["time"])
    times = [float(row["time"]) for row in rows]
    assert times[3] <= saved_time + 1e-3 <= times[4] + 1e-3  # time continues from the checkpoint
    assert times == sorted(times)


def test_metrics_logger_fresh_run_starts_the_file_afresh(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("old,header\n1,2\n")
    make_trainer([MetricsLogger(path)]).fit(make_batches(), max_steps=2)
    assert [int(row["step"]) for row in read_rows(path)] == [1, 2]


# --------------------------------------------------------------------------------- SampleGrid
def test_translation_grid_layout_values_and_modes() -> None:
    identity = nn.Sequential(nn.Identity(), nn.Dropout(0.5))
    identity.train()
    identity[0].eval()  # a mixed-mode module gets exactly its modes back
    x, y = images(2), images(1, channels=1, seed=2)

    class Tile(nn.Module):  # 1 -> 3 and 3 -> 1 channels, no parameters
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.channels = channels

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return t.mean(1, keepdim=True).expand(-1, self.channels, -1, -1)

    grid = translation_grid(nn.Sequential(identity, Tile(1)), Tile(3), x, y)
    assert grid.shape == (3, 3 * (SIZE + 2) + 2, 3 * (SIZE + 2) + 2)
    assert grid.dtype == torch.float32 and 0 <= grid.min() and grid.max() <= 1
    assert torch.equal(grid[:, 2 : 2 + SIZE, 2 : 2 + SIZE], (x[0] + 1) / 2)
    y_tile = grid[:, 2 + 2 * (SIZE + 2) : 2 + 2 * (SIZE + 2) + SIZE, 2 : 2 + SIZE]
    assert torch.equal(y_tile, ((y[0] + 1) / 2).expand(3, -1, -1))  # grey to RGB
    assert identity.training and not identity[0].training and identity[1].training
    wide = translation_grid(nn.Identity(), nn.Identity(), x, images(1), nrow=6)
    assert wide.shape == (3, 2 * (SIZE + 2) + 2, 6 * (SIZE + 2) + 2)


def test_sample_grid_writes_numbered_and_latest_pngs(tmp_path: Path) -> None:
    grid = SampleGrid(
        tmp_path / "samples", images(2), images(1, seed=2), every_n_steps=2, labels=False
    )
    saves: list[int] = []
    original = grid.save

    def spy(trainer: CycleTrainer) -> Path:
        saves.append(trainer.state.step)
        return original(trainer)

    grid.save = spy  # type: ignore[method-assign]
    trainer = make_trainer([grid])
    trainer.fit(make_batches(), max_steps=4)  # steps 2 and 4; no duplicate at fit end
    assert saves == [2, 4]
    trainer.fit(make_batches(), max_steps=5)  # fit end at an odd step writes it
    assert saves == [2, 4, 5]
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["latest.png", "step-00000002.png", "step-00000004.png", "step-00000005.png"]
    side = 3 * (SIZE + 2) + 2  # 3 rows (2 x, 1 y) of 3 tiles
    assert png_size(tmp_path / "samples" / "step-00000002.png") == (side, side)
    assert grid.last_path == tmp_path / "samples" / "step-00000005.png"
    assert (tmp_path / "samples" / "latest.png").read_bytes() == grid.last_path.read_bytes()
    with Image.open(grid.last_path) as im:  # the first tile is real_x[0] in [0, 255]
        pixels = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).float()
    first = pixels.permute(2, 0, 1)[:, 2 : 2 + SIZE, 2 : 2 + SIZE] / 255
    assert torch.allclose(first, (images(2)[0] + 1) / 2, atol=1 / 255 + 1e-6)
    assert not list((tmp_path / "samples").glob(".*.tmp"))


def test_sample_grid_does_not_change_the_training_run(tmp_path: Path) -> None:
    plain = make_trainer([])
    plain.fit(make_batches(), max_steps=4)
    sampled = make_trainer([SampleGrid(tmp_path, images(1), images(1), every_n_steps=1)])
    sampled.fit(make_batches(), max_steps=4)
    a, b = plain.model.state_dict(), sampled.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sample_grid_fails_at_fit_start_on_images_the_generators_reject(tmp_path: Path) -> None:
    grid = SampleGrid(tmp_path, images(1, size=18), images(1, size=18), every_n_steps=100)
    trainer = make_trainer([grid])
    with pytest.raises(ShapeError, match="divisible by 4"):
        trainer.fit(make_batches())
    assert trainer.state.step == 0
    assert not list(tmp_path.iterdir())


def test_sample_grid_uses_ema_generators(tmp_path: Path) -> None:
    ema = EMA(0.5)
    grid = SampleGrid(tmp_path, images(2), images(2, seed=2), every_n_steps=100)
    trainer = make_trainer([ema, grid])
    pair = (grid.images_x, grid.images_y)
    assert torch.equal(  # before any average: the live generators (labelled, as written)
        grid.render(trainer),
        translation_grid(trainer.model.g_xy, trainer.model.g_yx, *pair, labels=True),
    )
    trainer.fit(make_batches(), max_steps=3)
    rendered = grid.render(trainer)
    assert torch.equal(rendered, translation_grid(*ema.generators, *pair, labels=True))
    live = translation_grid(trainer.model.g_xy, trainer.model.g_yx, *pair, labels=True)
    assert not torch.equal(rendered, live)


def png_pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        pixels: np.ndarray = np.asarray(im.convert("RGB")).copy()
        return pixels


def test_sample_grid_labels_columns_and_directions(tmp_path: Path) -> None:
    pair = (images(2), images(1, seed=2))
    labelled = SampleGrid(tmp_path / "labelled", *pair, every_n_steps=100)
    plain = SampleGrid(tmp_path / "plain", *pair, every_n_steps=100, labels=False)
    named = SampleGrid(tmp_path / "named", *pair, every_n_steps=100, names=("horse", "zebra"))
    assert labelled.labels and labelled.names == ("X", "Y")
    trainer = make_trainer([])
    a, b, c = (png_pixels(grid.save(trainer)) for grid in (labelled, plain, named))
    band, margin = a.shape[0] - b.shape[0], a.shape[1] - b.shape[1]
    assert band >= 8 and margin >= 8  # taller (header band) and wider (row labels)
    assert np.array_equal(a[band:, margin:], b)  # the images are the unlabelled grid's pixels
    assert len(np.unique(a[:band])) > 1  # text in the header band
    for r in range(3):  # a label beside every row of tiles
        row = slice(band + 2 + r * (SIZE + 2), band + 2 + r * (SIZE + 2) + SIZE)
        assert len(np.unique(a[row, :margin])) > 1
    assert c.shape[0] == a.shape[0] and c.shape[1] > a.shape[1]  # "horse->zebra" is wider
    assert np.array_equal(c[band:, c.shape[1] - b.shape[1] :], b)


def test_translation_grid_labels_keep_the_grid_pixels() -> None:
    identity, x, y = nn.Identity(), images(2, size=48), images(1, size=48, seed=2)
    for nrow in (None, 2, 6):
        grid = translation_grid(identity, identity, x, y, nrow=nrow)
        labelled = translation_grid(identity, identity, x, y, nrow=nrow, labels=True)
        h, w = grid.shape[1:]
        assert labelled.shape[1] > h and labelled.shape[2] > w
        assert torch.equal(labelled[:, -h:, -w:], grid)
        band = labelled[:, : labelled.shape[1] - h]
        assert band.min() == 0 and band.max() > 0.5  # white text on black
    with pytest.raises(ValueError, match=r"translation_grid names must be two non-empty strings"):
        translation_grid(identity, identity, x, y, labels=True, names=("X",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"translation_grid labels must be a bool; got 1"):
        translation_grid(identity, identity, x, y, labels=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "pattern"),
    [
        (
            (images(2)[0], images(1)),
            {},
            ShapeError,
            r"images_x of shape \(N, C, H, W\) with N >= 1; got \(3, 16, 16\)",
        ),
        ((images(2), images(1)[:0]), {}, ShapeError, r"images_y .*got \(0, 3, 16, 16\)"),
        (
            (images(2), images(1, size=8)),
            {},
            ShapeError,
            r"same H and W .*\(2, 3, 16, 16\) and \(1, 3, 8, 8\)",
        ),
        ((images(2, channels=2), images(1)), {}, ShapeError, r"same channel count .*got 2 and 3"),
        (
            (images(2) * 255, images(1)),
            {},
            ValueError,
            r"images_x must hold finite values in \[-1, 1\]",
        ),
        (
            (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), images(1)),
            {},
            TypeError,
            r"floating-point .*torch.uint8",
        ),
        (([1, 2], images(1)), {}, TypeError, r"images_x must be a torch.Tensor .*got list"),
        (
            (images(1), images(1)),
            {"every_n_steps": 0},
            ValueError,
            r"SampleGrid every_n_steps must be an int >= 1; got 0",
        ),
        (
            (images(1), images(1)),
            {"nrow": 0},
            ValueError,
            r"SampleGrid nrow must be None or an int >= 1; got 0",
        ),
        (
            (images(1), images(1)),
            {"labels": "yes"},
            ValueError,
            r"SampleGrid labels must be a bool; got 'yes'",
        ),
        (
            (images(1), images(1)),
            {"names": ("X", "")},
            ValueError,
            r"SampleGrid names must be two non-empty strings \(X, Y\); got \('X', ''\)",
        ),
    ],
)
def test_sample_grid_validation(
    tmp_path: Path, args: tuple[Any, ...], kwargs: dict[str, Any], error: type, pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        SampleGrid(tmp_path, *args, **kwargs)


# ----------------------------------------------------------------------------------- LossPlot
def test_loss_plot_records_history_and_draws_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pyplot_loaded = "matplotlib.pyplot" in sys.modules
    plot = LossPlot(tmp_path / "plots" / "losses.png", every_n_steps=2)
    draws: list[int] = []
    original = plot.draw

    def spy() -> Path:
        draws.append(trainer.state.step)
        return original()

    plot.draw = spy  # type: ignore[method-assign]
    trainer = make_trainer([plot], TrainConfig(epochs=2, decay_epochs=0, pool_size=2, log_every=1))
    trainer.fit(make_batches(2))
    assert draws == [2, 4]  # every 2 steps; fit end does not draw step 4 again
    assert plot.steps == [1, 2, 3, 4]
    assert list(plot.losses) == list(LOSS_KEYS)
    assert plot.losses["g_total"][-1] == trainer.state.last_losses["g_total"]
    assert png_size(plot.path) == (800, 600)
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_loaded  # pyplot is never imported
    assert not list(plot.path.parent.glob(".*.tmp"))


def test_loss_plot_history_continues_after_resume(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")

    def callbacks() -> list[Callback]:
        return [LossPlot(tmp_path / "losses.png", keys=["g_total", "d_x", "d_y"])]

    _, first, again = crash_and_resume(callbacks, tmp_path / "ckpt")
    before, after = first[0], again[0]
    assert isinstance(before, LossPlot) and isinstance(after, LossPlot)
    assert before.steps == [1, 2, 3, 4, 5]
    assert after.steps == list(range(1, 10))
    for key in LOSS_KEYS:  # points up to the checkpoint come from the first run
        assert after.losses[key][:4] == before.losses[key][:4]
    assert png_size(tmp_path / "losses.png") == (800, 600)


def test_loss_plot_record_gaps_and_state_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = LossPlot(tmp_path / "l.png")
    plot.record(1, {"g_total": 1.0})
    plot.record(2, {"g_total": 0.5, "d_x": 0.2})
    plot.record(3, {"d_x": 0.1})
    plot.record(2, {"g_total": 0.4})  # replaces step 2 and what followed
    assert plot.steps == [1, 2]
    assert plot.losses["g_total"] == [1.0, 0.4]
    assert math.isnan(plot.losses["d_x"][0]) and math.isnan(plot.losses["d_x"][1])
    other = LossPlot(tmp_path / "l.png")
    other.load_state_dict(plot.state_dict())
    assert other.steps == plot.steps
    with pytest.raises(ValueError, match=r"2 steps but other lengths for the losses \['d_x'\]"):
        other.load_state_dict({"steps": [1, 2], "losses": {"d_x": [0.1]}})
    plot.draw()
    assert png_size(tmp_path / "l.png") == (800, 600)


def test_loss_plot_warns_about_unknown_keys(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = LossPlot(tmp_path / "l.png", keys=["g_total", "nope"])
    with pytest.warns(UserWarning, match=r"LossPlot keys \['nope'\] are not among the losses"):
        make_trainer([plot]).fit(make_batches(), max_steps=2)


def test_loss_plot_needs_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    with pytest.raises(
        ImportError, match=r"LossPlot needs matplotlib: pip install 'unpaired-i2i\[plot\]'"
    ):
        LossPlot(tmp_path / "l.png")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"keys": "g_total"},
            r"LossPlot keys must be a non-empty sequence of loss names; got 'g_total'",
        ),
        ({"keys": []}, r"LossPlot keys must be a non-empty sequence"),
        ({"every_n_steps": 0}, r"LossPlot every_n_steps must be None or an int >= 1; got 0"),
    ],
)
def test_loss_plot_validation(tmp_path: Path, kwargs: dict[str, Any], pattern: str) -> None:
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=pattern):
        LossPlot(tmp_path / "l.png", **kwargs)


# ---------------------------------------------------------------------------------------- EMA
def test_ema_resume_is_bitwise_identical(tmp_path: Path) -> None:
    straight_ema = EMA(0.9, every_n_steps=2, start_step=1)
    straight = make_trainer([straight_ema])
    straight.fit(make_batches())

    def callbacks() -> list[Callback]:
        return [EMA(0.9, every_n_steps=2, start_step=1)]

    resumed, _, again = crash_and_resume(callbacks, tmp_path, save_every=2, crash_at=5)
    ema = again[0]
    assert isinstance(ema, EMA)
    assert ema.n_averaged == straight_ema.n_averaged == 4  # steps 2, 4, 6, 8
    for a, b in zip(straight_ema.generators, ema.generators, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    model_a, model_b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(model_a[k], model_b[k]) for k in model_a)


def test_ema_listed_after_the_checkpoint_still_resumes_bitwise(tmp_path: Path) -> None:
    # The checkpoint must hold the EMA after the step it is written at, although the EMA's
    # on_step_end comes later in the list: checkpoint writers are called after the others.
    straight_ema = EMA(0.9, warmup=True)
    make_trainer([straight_ema]).fit(make_batches())

    def run(callbacks: list[Callback], max_steps: int | None = None) -> CycleTrainer:
        trainer = make_trainer(callbacks)
        if (tmp_path / "last.pt").exists():
            trainer.load_checkpoint(tmp_path / "last.pt")
        trainer.fit(make_batches(), max_steps=max_steps)
        return trainer

    run([ModelCheckpoint(tmp_path, every_n_steps=2), EMA(0.9, warmup=True)], max_steps=4)
    ema = EMA(0.9, warmup=True)
    run([ModelCheckpoint(tmp_path, every_n_steps=2), ema])
    assert ema.n_averaged == straight_ema.n_averaged == 9
    for a, b in zip(straight_ema.generators, ema.generators, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_writers_are_called_after_the_other_callbacks() -> None:
    calls: list[str] = []

    class Record(Callback):
        def __init__(self, name: str, *, writes: bool = False) -> None:
            self.name = name
            self.writes_checkpoints = writes  # type: ignore[misc]

        @property
        def state_key(self) -> str:
            return self.name

        def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
            calls.append(self.name)

    trainer = make_trainer([Record("saver", writes=True), Record("a"), Record("b")])
    trainer.fit(make_batches(), max_steps=1)
    assert calls == ["a", "b", "saver"]
    assert [cb.state_key for cb in trainer.callbacks] == ["saver", "a", "b"]  # list untouched
    assert ModelCheckpoint.writes_checkpoints and not Callback.writes_checkpoints


def test_ema_checkpoint_layout_loads_into_plain_generators(tmp_path: Path) -> None:
    ema = EMA(0.8)
    trainer = make_trainer([ema, ModelCheckpoint(tmp_path, every_n_steps=0)])
    trainer.fit(make_batches(), max_steps=3)
    checkpoint = torch.load(tmp_path / "last.pt", weights_only=True)
    state = checkpoint["callbacks"]["EMA"]
    assert sorted(state) == [
        "decay",
        "every_n_steps",
        "g_xy",
        "g_yx",
        "n_averaged",
        "start_step",
        "warmup",
        "warmup_power",
    ]
    assert state["n_averaged"] == 3 and state["decay"] == 0.8
    for name in ("g_xy", "g_yx"):
        assert list(state[name]) == list(getattr(trainer.model, name).state_dict())
        fresh = make_model(seed=5)
        getattr(fresh, name).load_state_dict(state[name])  # strict: plain generator keys
        assert all(
            torch.equal(v, state[name][k]) for k, v in getattr(fresh, name).state_dict().items()
        )
    model = unpaired_i2i.load_cyclegan(tmp_path / "last.pt")
    assert all(
        torch.equal(v, ema.generator_xy.state_dict()[k]) for k, v in model.g_xy.state_dict().items()
    )


class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)  # float buffers and a long num_batches_tracked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(self.conv(x))
        return out


def test_ema_update_matches_averaged_model_update_parameters() -> None:
    torch.manual_seed(0)
    g_xy, g_yx = BNNet(), BNNet()
    fake: Any = SimpleNamespace(model=SimpleNamespace(g_xy=g_xy, g_yx=g_yx))
    ema = EMA(0.7)
    ema.on_fit_start(fake)
    ema_fn = get_ema_multi_avg_fn(0.7)  # type: ignore[no-untyped-call]
    reference = AveragedModel(g_xy, multi_avg_fn=ema_fn, use_buffers=True)
    for _ in range(4):
        g_xy(torch.randn(2, 3, 6, 6))  # updates the running stats
        with torch.no_grad():
            for p in g_xy.parameters():
                p.add_(torch.randn_like(p))
        ema.update()
        reference.update_parameters(g_xy)
    ours, theirs = ema.generator_xy.state_dict(), reference.module.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert ema.n_averaged == int(reference.n_averaged) == 4
    assert not ema.generator_xy.training
    assert not any(p.requires_grad for p in ema.generator_xy.parameters())


def float64_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A float64 snapshot of every parameter and buffer (integer buffers keep their dtype)."""
    return {
        k: v.detach().to(torch.float64, copy=True) if v.is_floating_point() else v.clone()
        for k, v in module.state_dict().items()
    }


def ema_closed_form(snapshots: list[dict[str, torch.Tensor]], decay: float) -> dict[str, Any]:
    """e_1 = w_1 and e_t = decay * e_(t-1) + (1 - decay) * w_t, in float64, tensor by tensor.

    Integer buffers (BatchNorm's num_batches_tracked) follow the same rule truncated to an int
    at every update, as writing a float result into an integer tensor does.
    """
    expected = dict(snapshots[0])
    for weights in snapshots[1:]:
        for k, w in weights.items():
            e = decay * expected[k] + (1 - decay) * w
            expected[k] = e if w.is_floating_point() else e.to(w.dtype)
    return expected


def assert_matches(module: nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = module.state_dict()
    assert state.keys() == expected.keys()
    for k, v in state.items():
        if v.is_floating_point():
            torch.testing.assert_close(v.double(), expected[k], rtol=1e-5, atol=1e-6)
        else:
            assert torch.equal(v, expected[k]), k


def test_ema_matches_the_closed_form_with_every_n_steps_and_start_step() -> None:
    decay, every, start = 0.6, 2, 3

    class Snapshots(Callback):  # listed after EMA: the live weights EMA has just read
        def __init__(self) -> None:
            self.by_step: dict[int, tuple[dict[str, torch.Tensor], ...]] = {}

        def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
            model = trainer.model
            self.by_step[trainer.state.step] = (
                float64_state(model.g_xy),
                float64_state(model.g_yx),
            )

    ema, snapshots = EMA(decay, every_n_steps=every, start_step=start), Snapshots()
    make_trainer([ema, snapshots]).fit(make_batches())  # steps 1..9
    updates = [step for step in sorted(snapshots.by_step) if step > start and step % every == 0]
    assert updates == [4, 6, 8] and ema.n_averaged == 3
    for i, generator in enumerate(ema.generators):
        expected = ema_closed_form([snapshots.by_step[step][i] for step in updates], decay)
        assert_matches(generator, expected)
        # and not, say, the weights of the steps that were skipped
        skipped = ema_closed_form([snapshots.by_step[step][i] for step in (4, 5, 6, 8)], decay)
        assert not all(torch.allclose(v, skipped[k]) for k, v in expected.items())


def test_ema_update_matches_the_closed_form_for_parameters_and_buffers() -> None:
    torch.manual_seed(1)
    g_xy, g_yx = BNNet(), BNNet()
    fake: Any = SimpleNamespace(model=SimpleNamespace(g_xy=g_xy, g_yx=g_yx))
    decay = 0.75
    ema = EMA(decay)
    ema.on_fit_start(fake)
    snapshots: list[tuple[dict[str, torch.Tensor], ...]] = []
    for _ in range(5):
        for g in (g_xy, g_yx):
            g(torch.randn(2, 3, 6, 6))  # new running statistics (float and integer buffers)
            with torch.no_grad():
                for p in g.parameters():
                    p.add_(torch.randn_like(p))
        snapshots.append((float64_state(g_xy), float64_state(g_yx)))
        ema.update()
    assert ema.n_averaged == 5
    for i, generator in enumerate(ema.generators):
        assert_matches(generator, ema_closed_form([s[i] for s in snapshots], decay))
    # num_batches_tracked 1..5 averages to int(0.75 * e + 0.25 * w): 1, 1, 1, 1, 2
    bn = ema.generator_xy.bn
    assert isinstance(bn, nn.BatchNorm2d) and bn.num_batches_tracked is not None
    assert int(bn.num_batches_tracked) == 2


def test_ema_schedule_and_state_before_fit() -> None:
    ema = EMA(0.99, every_n_steps=2, start_step=2)
    assert ema.state_dict() == {
        "n_averaged": 0,
        "decay": 0.99,
        "every_n_steps": 2,
        "start_step": 2,
        "warmup": False,
        "warmup_power": 8.0,
    }
    with pytest.raises(RuntimeError, match="EMA has no averaged generators yet"):
        ema.generator_xy  # noqa: B018
    trainer = make_trainer([ema])
    trainer.fit(make_batches(), max_steps=7)
    assert ema.n_averaged == 2  # steps 4 and 6 (not 2: start_step; not 7: every 2)
    other = EMA(0.5, every_n_steps=2, start_step=2)
    with pytest.warns(
        UserWarning, match=r"EMA state was written with other settings \{'decay': 0.99\}"
    ):
        other.load_state_dict(ema.state_dict())
    with pytest.raises(ValueError, match=r"n_averaged=2 but lacks the 'g_xy' / 'g_yx' weights"):
        EMA().load_state_dict({"n_averaged": 2})


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((1.0,), {}, r"EMA decay must be a float in \(0, 1\); got 1.0"),
        ((0,), {}, r"EMA decay must be a float in \(0, 1\); got 0"),
        ((float("nan"),), {}, r"EMA decay must be a float in \(0, 1\); got nan"),
        ((True,), {}, r"EMA decay must be a float in \(0, 1\); got True"),
        ((), {"every_n_steps": 0}, r"EMA every_n_steps must be an int >= 1; got 0"),
        ((), {"start_step": -1}, r"EMA start_step must be an int >= 0; got -1"),
    ],
)
def test_ema_validation(args: tuple[Any, ...], kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        EMA(*args, **kwargs)


# -------------------------------------------------------------------------- TensorBoardLogger
def test_tensorboard_logger_needs_tensorboard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(
        ImportError,
        match=r"TensorBoardLogger needs tensorboard: pip install 'unpaired-i2i\[tensorboard\]'",
    ):
        TensorBoardLogger(tmp_path)


def test_tensorboard_logger_writes_scalars_and_images(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path / "tb", log_images_every=2)
    config = TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=2)
    make_trainer([EMA(0.5), logger], config).fit(make_batches(2))
    assert logger.writer is None  # closed at fit end
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {f"loss/{k}" for k in LOSS_KEYS} | {"train/lr", "train/images_per_s"} <= set(
        tags["scalars"]
    )
    assert [e.step for e in events.Scalars("loss/g_total")] == [2, 4]
    assert [e.step for e in events.Images("samples")] == [2, 4]
    image = events.Images("samples")[0]
    assert (image.width, image.height) == (3 * (SIZE + 2) + 2, 4 * (SIZE + 2) + 2)


def test_tensorboard_logger_validation(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with pytest.raises(ValueError, match=r"log_images_every must be an int >= 0; got -1"):
        TensorBoardLogger(tmp_path, log_images_every=-1)
    with pytest.raises(ValueError, match=r"both images_x and images_y or neither"):
        TensorBoardLogger(tmp_path, images_x=images(1))
