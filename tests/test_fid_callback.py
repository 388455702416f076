"""Tests of FIDCallback: its rows (every N epochs, on a held-out set) in the history, the file
and TensorBoard, its state through checkpoints and resume, and that training is unchanged."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

pytest.importorskip("torchmetrics", reason="FIDCallback needs the extra 'metrics'")

from _tiny import Crash, random_batches, tiny_model
from unpaired_i2i import (
    EMA,
    FID_WEIGHTS_ENV,
    Callback,
    CycleGAN,
    CycleTrainer,
    FIDCallback,
    InceptionWeightsError,
    ModelCheckpoint,
    TrainConfig,
    evaluate_fid_kid,
)

SIZE = 16
# 3 batches per epoch, 1 + 2 epochs = 9 steps; epochs end at steps 3, 6 and 9.
CONFIG = TrainConfig(epochs=1, decay_epochs=2, pool_size=3, log_every=1, lr=1e-3)
KEYS = ("fid_x2y", "kid_mean_x2y", "kid_std_x2y", "fid_y2x", "kid_mean_y2x", "kid_std_y2x")


class TinyFeatures(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([nn.functional.adaptive_avg_pool2d(x, 2).flatten(1), x.std((2, 3))], 1)


def make_model(seed: int = 0) -> CycleGAN:
    return tiny_model(seed, dropout=0.5)  # the generators draw from torch's global RNG


def make_batches(n: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE, seed=seed)


def held_out(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(6, 3, SIZE, SIZE, generator=g) * 2 - 1


def make_fid(path: Path | None = None, **kwargs: Any) -> FIDCallback:
    options: dict[str, Any] = {"feature_extractor": TinyFeatures(), "kid_subset_size": 4}
    options.update(kwargs)
    return FIDCallback(held_out(10), held_out(11), path=path, **options)


def weights(trainer: CycleTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_rows_every_n_epochs_in_history_and_file(tmp_path: Path) -> None:
    every = make_fid(tmp_path / "fid.csv")
    second = make_fid(tmp_path / "fid2.jsonl", every_n_epochs=2, directions=("y2x",))
    CycleTrainer(make_model(), CONFIG, callbacks=[every, second], device="cpu").fit(make_batches())
    assert [(r["step"], r["epoch"]) for r in every.history] == [(3, 0), (6, 1), (9, 2)]
    assert [(r["step"], r["epoch"]) for r in second.history] == [(6, 1)]
    for row in every.history:
        assert set(row) == {"step", "epoch", *KEYS}
        assert all(isinstance(row[k], float) and row[k] == row[k] for k in KEYS)
        assert row["fid_x2y"] > 0 and row["fid_y2x"] > 0
    assert set(second.history[0]) == {"step", "epoch", "fid_y2x", "kid_mean_y2x", "kid_std_y2x"}
    rows = read_csv(tmp_path / "fid.csv")
    assert [int(r["step"]) for r in rows] == [3, 6, 9]
    for row, kept in zip(rows, every.history, strict=True):
        assert float(row["fid_x2y"]) == pytest.approx(kept["fid_x2y"])
    lines = (tmp_path / "fid2.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == second.history
    assert every.latest == every.history[-1]
    assert every.state_key == f"FIDCallback[{tmp_path / 'fid.csv'}]"
    assert make_fid().state_key == "FIDCallback"


def test_scores_are_those_of_evaluate_fid_kid_with_the_ema_generators(tmp_path: Path) -> None:
    ema = EMA(0.5)
    fid = make_fid(every_n_epochs=3)
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[ema, fid], device="cpu")
    trainer.fit(make_batches())
    (row,) = fid.history
    for direction, generator, data in (
        ("x2y", ema.generator_xy, (held_out(10), held_out(11))),
        ("y2x", ema.generator_yx, (held_out(10), held_out(11))),
    ):
        expected = evaluate_fid_kid(
            generator,
            *data,
            direction=direction,  # type: ignore[arg-type]
            feature_extractor=TinyFeatures(),
            kid_subset_size=4,
        )
        assert row[f"fid_{direction}"] == pytest.approx(expected["fid"])
        assert row[f"kid_mean_{direction}"] == pytest.approx(expected["kid_mean"])
    plain = make_fid(every_n_epochs=3, use_ema=False)
    other = plain.evaluate(trainer)
    assert other["fid_x2y"] != pytest.approx(row["fid_x2y"])


@pytest.mark.parametrize("checkpoint_first", [True, False])
def test_state_travels_in_checkpoints_whatever_the_callback_order(
    tmp_path: Path, checkpoint_first: bool
) -> None:
    fid = make_fid()
    checkpoints = ModelCheckpoint(tmp_path / "ckpt", every_n_epochs=1)
    callbacks: list[Callback] = [checkpoints, fid] if checkpoint_first else [fid, checkpoints]
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=callbacks, device="cpu")
    trainer.fit(make_batches(), epochs=2)
    assert [r["step"] for r in fid.history] == [3, 6]
    saved = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert saved["trainer"]["step"] == 6
    # The checkpoint written at the end of epoch 1 holds that epoch's row, either way.
    assert saved["callbacks"]["FIDCallback"] == {"history": fid.history}
    restored = make_fid()
    CycleTrainer(
        make_model(1),
        CONFIG,
        callbacks=[restored, ModelCheckpoint(tmp_path / "ckpt", every_n_epochs=1)],
        device="cpu",
    ).load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert restored.history == fid.history


def test_resume_keeps_the_rows_and_training_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "fid.csv"
    reference = CycleTrainer(make_model(), CONFIG, device="cpu")  # no callback at all
    reference.fit(make_batches())

    first = make_fid(path)
    crashing = CycleTrainer(
        make_model(),
        CONFIG,
        callbacks=[
            first,
            ModelCheckpoint(tmp_path / "ckpt", every_n_steps=4, every_n_epochs=0),
            Crash(7),
        ],
        device="cpu",
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(make_batches())
    assert [r["step"] for r in first.history] == [3, 6]  # the file has step 6, after the checkpoint
    assert [int(r["step"]) for r in read_csv(path)] == [3, 6]
    torch.manual_seed(1234)
    random.seed(1234)
    second = make_fid(path)
    resumed = CycleTrainer(
        make_model(seed=5),
        CONFIG,
        callbacks=[second, ModelCheckpoint(tmp_path / "ckpt", every_n_steps=4, every_n_epochs=0)],
        device="cpu",
    )
    resumed.load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert resumed.state.step == 4
    assert [r["step"] for r in second.history] == [3]
    resumed.fit(make_batches())
    assert [r["step"] for r in second.history] == [3, 6, 9]
    assert [int(r["step"]) for r in read_csv(path)] == [3, 6, 9]  # step 6 once
    assert second.history[:2] == first.history  # step 6 scored again, with the same result
    # Evaluating never touched the run's random stream: the same weights as without it.
    for key, value in weights(reference).items():
        assert torch.equal(value, weights(resumed)[key]), key


def test_scores_reach_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from unpaired_i2i import TensorBoardLogger

    fid = make_fid(directions=("x2y",))
    trainer = CycleTrainer(
        make_model(), CONFIG, callbacks=[TensorBoardLogger(tmp_path / "tb"), fid], device="cpu"
    )
    trainer.fit(make_batches())
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    assert {"fid/x2y", "kid/x2y", "kid_std/x2y"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("fid/x2y")] == [3, 6, 9]
    assert [e.value for e in events.Scalars("fid/x2y")] == pytest.approx(
        [r["fid_x2y"] for r in fid.history], rel=1e-6
    )


def test_checks_at_construction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)
    with pytest.raises(InceptionWeightsError, match="weights-inception-2015-12-05-6726825d.pth"):
        FIDCallback(held_out(1), held_out(2))  # before any training, not after an epoch
    with pytest.raises(ValueError, match="directions must be a non-empty sequence"):
        make_fid(directions=("xy",))
    with pytest.raises(ValueError, match="directions must be a non-empty sequence"):
        make_fid(directions="x2y")
    with pytest.raises(ValueError, match="every_n_epochs must be an int >= 1; got 0"):
        make_fid(every_n_epochs=0)
    with pytest.raises(ValueError, match="cannot tell the format"):
        make_fid(tmp_path / "fid.txt")
    with pytest.raises(FileNotFoundError, match="data_x folder not found"):
        FIDCallback(tmp_path / "missing", held_out(2), feature_extractor=TinyFeatures())
    with pytest.raises(ValueError, match=r"values in \[-1, 1\]"):
        FIDCallback(held_out(1) * 3, held_out(2), feature_extractor=TinyFeatures())
