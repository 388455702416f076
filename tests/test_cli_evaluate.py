"""Tests of ``unpaired-i2i evaluate`` on a tiny run folder and checkpoint: paired scores when
the test folders hold true pairs, FID / KID when weights or a feature extractor are available,
notes and errors otherwise, JSON output."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from _tiny import tiny_model
from unpaired_i2i import (
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_FILE,
    CycleTrainer,
    TrainConfig,
    make_season_dataset,
)
from unpaired_i2i.cli import build_parser, main

HAS_TORCHMETRICS = importlib.util.find_spec("torchmetrics") is not None
needs_torchmetrics = pytest.mark.skipif(
    not HAS_TORCHMETRICS, reason="needs torchmetrics (the optional extra 'metrics')"
)


class TinyFeatures(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([nn.functional.adaptive_avg_pool2d(x, 2).flatten(1), x.std((2, 3))], 1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run folder (untrained tiny model, run.json with its size), its data and a feature net."""
    base = tmp_path_factory.mktemp("evaluate")
    data = make_season_dataset(base / "data", n_train=2, n_test=5, size=32, seed=1)
    model = tiny_model(0)
    run = base / "run"
    trainer = CycleTrainer(model, TrainConfig(epochs=1, decay_epochs=0), device="cpu")
    trainer.save_checkpoint(run / "checkpoints" / "last.pt")
    (run / "run.json").write_text(json.dumps({"settings": {"size": 32}}))
    # The feature extractor as a torch.export program (batch size free, 32x32 images) ...
    features = base / "features.pt2"
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(
        TinyFeatures(), (torch.rand(4, 3, 32, 32),), dynamic_shapes=({0: batch},)
    )
    torch.export.save(program, str(features))
    # ... and as TorchScript.
    scripted = base / "features.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(TinyFeatures()).save(str(scripted))  # type: ignore[no-untyped-call]
    return {"run": run, "data": data, "features": features, "scripted": scripted, "base": base}


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_paired_scores_and_a_note_without_weights(
    tiny: dict[str, Path], no_weights: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["evaluate", str(tiny["run"]), "--data", str(tiny["data"])], capsys)
    assert code == 0, err
    assert "evaluating the xy generator" in out and "testA, 5 images -> testB, 5 images" in out
    assert "32x32" in out  # the run's size, from run.json
    assert "paired (5 true pairs): L1 " in out and "SSIM" in out and "PSNR" in out
    assert "note: no FID / KID:" in out
    assert (FID_WEIGHTS_FILE in out) if HAS_TORCHMETRICS else ("unpaired-i2i[metrics]" in out)


@needs_torchmetrics
def test_fid_kid_with_a_feature_extractor_as_json(
    tiny: dict[str, Path], no_weights: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", str(tiny["run"]), "--data", str(tiny["data"])]
    code, out, err = run([*args, "--feature-extractor", str(tiny["features"]), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)  # --json alone: only JSON on stdout
    assert report["direction"] == "xy" and report["domains"] == ["testA", "testB"]
    assert report["size"] == 32 and (report["n_source"], report["n_target"]) == (5, 5)
    assert report["paired"]["n_pairs"] == 5
    for key in ("l1", "psnr", "ssim", "identity_l1"):
        assert isinstance(report["paired"][key], float)
    scores = report["fid_kid"]
    assert scores["n_translated"] == scores["n_real"] == scores["kid_subset_size"] == 5
    assert scores["fid"] > 0 and isinstance(scores["kid_mean"], float)
    assert any("biased" in note for note in report["notes"])
    # The same as text, and the reverse direction written to a file.
    code, text, err = run([*args, "--feature-extractor", str(tiny["features"])], capsys)
    assert code == 0, err
    assert f"FID {scores['fid']:.3f} | KID" in text and "5 translated vs 5 real images" in text
    path = tiny["base"] / "yx.json"
    code, text, err = run(
        [
            *args,
            "--direction",
            "yx",
            "--feature-extractor",
            str(tiny["features"]),
            "--json",
            str(path),
        ],
        capsys,
    )
    assert code == 0, err
    assert f"wrote {path}" in text and "testB, 5 images -> testA, 5 images" in text
    reverse = json.loads(path.read_text())
    assert reverse["direction"] == "yx" and reverse["domains"] == ["testB", "testA"]
    assert reverse["fid_kid"]["fid"] != scores["fid"]


@needs_torchmetrics
def test_weights_from_the_option_or_the_environment(
    tiny: dict[str, Path],
    no_weights: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import unpaired_i2i.metrics as metrics

    seen: list[Any] = []

    def fake_inception(weights_path: Any = None, **kwargs: Any) -> nn.Module:
        seen.append(metrics.resolve_inception_weights(weights_path))
        return TinyFeatures()  # stands in for the 2048-feature Inception

    monkeypatch.setattr(metrics, "inception_feature_extractor", fake_inception)
    weights = tmp_path / FID_WEIGHTS_FILE
    weights.write_bytes(b"stand-in")
    checkpoint = tmp_path / "copy.pt"  # a checkpoint file outside its run folder
    shutil.copy(tiny["run"] / "checkpoints" / "last.pt", checkpoint)
    base = ["evaluate", str(checkpoint), "--data", str(tiny["data"]), "--size", "32"]
    code, out, err = run([*base, "--weights", str(weights)], capsys)
    assert code == 0, err
    assert "FID " in out and "Inception" in out and seen == [weights]
    monkeypatch.setenv(FID_WEIGHTS_ENV, str(weights))
    code, out, err = run(base, capsys)
    assert code == 0, err
    assert "FID " in out and seen == [weights, weights]


def test_unpaired_folders_without_extractor_fail_clearly(
    tiny: dict[str, Path], no_weights: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny["data"], data)
    for image in (data / "testB").iterdir():
        image.rename(image.with_name("w" + image.name))  # other names: no true pairs
    code, out, err = run(["evaluate", str(tiny["run"]), "--data", str(data)], capsys)
    assert code == 1
    assert "note: no paired scores: testA and testB do not hold the same file names" in out
    assert "unpaired-i2i evaluate: error: nothing to evaluate" in err
    assert (FID_WEIGHTS_FILE in err) if HAS_TORCHMETRICS else ("unpaired-i2i[metrics]" in err)
    if HAS_TORCHMETRICS:
        code, out, err = run(
            [
                "evaluate",
                str(tiny["run"]),
                "--data",
                str(data),
                "--feature-extractor",
                str(tiny["features"]),
            ],
            capsys,
        )
        assert code == 0, err
        assert "FID " in out and "paired (" not in out
        code, again, err = run(
            [
                "evaluate",
                str(tiny["run"]),
                "--data",
                str(data),
                "--feature-extractor",
                str(tiny["scripted"]),
            ],
            capsys,
        )
        assert code == 0, err
        assert again.split("(5 translated")[0] == out.split("(5 translated")[0]  # same scores


def test_argument_errors(
    tiny: dict[str, Path], no_weights: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["evaluate", str(tiny["run"]), "--data", str(tiny["data"])]
    cases = [
        (
            ["evaluate", str(tiny["run"]), "--data", str(tmp_path / "none")],
            "argument --data: folder not found",
        ),
        (
            ["evaluate", str(tmp_path / "none.pt"), "--data", str(tiny["data"])],
            "argument RUN_OR_CKPT: not found",
        ),
        ([*base, "--weights", str(tmp_path / "w.pth")], "argument --weights: file not found"),
        (
            [*base, "--feature-extractor", str(tmp_path / "f.pt")],
            "argument --feature-extractor: file not found",
        ),
        (["evaluate", str(tiny["run"])], "the following arguments are required: --data"),
        ([*base, "--batch-size", "0"], "expected a positive integer"),
    ]
    for args, message in cases:
        code, _, err = run(args, capsys)
        assert code == 2, (args, err)
        assert message in err and err.startswith("unpaired-i2i evaluate: error:")
    code, _, err = run([*base, "--split", "val"], capsys)
    assert code == 1 and "no 'val' split" in err


def test_every_option_has_help_and_shows_its_default() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    evaluate = sub.choices["evaluate"]
    formatter = evaluate._get_formatter()
    for action in evaluate._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), action.dest
        is_flag = isinstance(action, argparse._StoreTrueAction)
        if action.option_strings and not action.required and not is_flag:
            text = formatter._expand_help(action)
            assert "default" in text and "(default: None)" not in text, action.dest
    assert evaluate.epilog and "unpaired-i2i evaluate " in evaluate.epilog


def test_evaluate_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "evaluate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for option in ("--data", "--direction", "--weights", "--feature-extractor", "--json"):
        assert option in text
