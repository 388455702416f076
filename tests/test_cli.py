"""End-to-end tests of the ``unpaired-i2i`` command line on tiny settings."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from unpaired_i2i import load_cyclegan, load_generator_file, translate
from unpaired_i2i.cli import DEMO_DEFAULTS, build_parser, main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None

TINY = [
    "--size", "32", "--base-channels", "4", "--d-base-channels", "4", "--n-blocks", "1",
    "--n-train", "6", "--n-test", "2", "--epochs", "1", "--decay-epochs", "1",
    "--log-every", "1", "--sample-every", "4", "--checkpoint-every", "4", "--pool-size", "3",
    "--no-progress", "--seed", "3",
]  # fmt: skip


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--demo", "--out", str(out), *TINY]) == 0
    return out


def test_demo_run_leaves_every_artifact(demo_run: Path) -> None:
    out = demo_run
    assert (out / "checkpoints" / "last.pt").is_file()
    assert (out / "samples" / "latest.png").is_file()
    assert (out / "loss_plot.png").is_file() == HAS_MATPLOTLIB  # the plot extra draws it
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))  # 6 images x 2 epochs, log_every 1
    report = json.loads((out / "eval.json").read_text())
    for key in ("l1", "psnr", "ssim", "identity_l1", "color_transfer_l1"):
        assert isinstance(report[key], float)
    assert report["step"] == 12
    with Image.open(out / "samples" / "latest.png") as grid:
        assert grid.width > 3 * 32 and grid.height > 2 * 32
    model = load_cyclegan(out / "checkpoints" / "last.pt")
    assert model.g_xy(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_demo_prints_where_things_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["train", "--demo", "--out", str(tmp_path / "r"), *TINY, "--max-steps", "2"], capsys
    )
    assert code == 0, err
    for word in (
        "run folder",
        "checkpoints",
        "samples",
        "loss plot",
        "metrics",
        "evaluation",
        "paired test L1",
    ):
        assert word in out
    # The README's name for the sample grid, as a path.
    assert f"samples:     {tmp_path / 'r' / 'samples' / 'latest.png'}" in out
    if not HAS_MATPLOTLIB:
        assert "note: no loss plot" in out and "unpaired-i2i[plot]" in out


def test_resume_auto_after_interruption_matches_straight_run(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "interrupted"
    # Interrupted mid-epoch after 5 steps (the process "dies" after its last checkpoint) ...
    assert main(["train", "--demo", "--out", str(out), *TINY, "--max-steps", "5"]) == 0
    # ... and continued with --resume auto up to the same total as the straight run.
    code, stdout, err = run(
        ["train", "--demo", "--out", str(out), *TINY, "--resume", "auto"], capsys
    )
    assert code == 0, err
    assert "resumed from" in stdout
    straight = torch.load(demo_run / "checkpoints" / "last.pt", weights_only=True)
    resumed = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert straight["trainer"]["step"] == resumed["trainer"]["step"] == 12
    for net in ("g_xy", "g_yx", "d_x", "d_y"):
        for key, value in straight["model"][net].items():
            assert torch.equal(value, resumed["model"][net][key]), f"{net}.{key}"
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))


def test_resume_auto_after_ctrl_c_matches_straight_run(
    demo_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unpaired_i2i.training import trainer as trainer_module

    real_step = trainer_module.CycleTrainer.train_step
    calls = {"n": 0}

    def interrupted_step(self: object, real_x: torch.Tensor, real_y: torch.Tensor) -> object:
        calls["n"] += 1
        if calls["n"] == 7:  # Ctrl-C during step 7: the last checkpoint is the one at step 4
            raise KeyboardInterrupt
        return real_step(self, real_x, real_y)  # type: ignore[arg-type]

    out = tmp_path / "ctrl-c"
    monkeypatch.setattr(trainer_module.CycleTrainer, "train_step", interrupted_step)
    code, _, err = run(["train", "--demo", "--out", str(out), *TINY], capsys)
    assert code == 130 and "--resume auto" in err and len(err.strip().splitlines()) == 1
    saved = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert saved["trainer"]["step"] < 7
    monkeypatch.setattr(trainer_module.CycleTrainer, "train_step", real_step)

    code, stdout, err = run(
        ["train", "--demo", "--out", str(out), *TINY, "--resume", "auto"], capsys
    )
    assert code == 0, err
    assert f"at step {saved['trainer']['step']}" in stdout
    straight = torch.load(demo_run / "checkpoints" / "last.pt", weights_only=True)
    resumed = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    for net in ("g_xy", "g_yx", "d_x", "d_y"):
        for key, value in straight["model"][net].items():
            assert torch.equal(value, resumed["model"][net][key]), f"{net}.{key}"


def test_resume_auto_without_checkpoint_starts_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        [
            "train",
            "--demo",
            "--out",
            str(tmp_path / "r"),
            *TINY,
            "--max-steps",
            "1",
            "--resume",
            "auto",
        ],
        capsys,
    )
    assert code == 0 and "starting a new run" in out


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # TorchScript's deprecation
def test_translate_and_export(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "in"
    images.mkdir()
    Image.new("RGB", (40, 28), (10, 120, 30)).save(images / "a.png")
    Image.new("L", (32, 32), 200).save(images / "b.jpg")
    code, out, err = run(
        ["translate", str(demo_run), str(images), "--out", str(tmp_path / "out")], capsys
    )
    assert code == 0, err
    assert str(tmp_path / "out") in out
    with Image.open(tmp_path / "out" / "a.png") as a:
        assert a.size == (40, 28)
    assert (tmp_path / "out" / "b.png").exists()
    target = tmp_path / "g.pt"
    code, _out, err = run(
        [
            "export",
            str(demo_run / "checkpoints" / "last.pt"),
            "--out",
            str(target),
            "--size",
            "32",
            "--direction",
            "yx",
        ],
        capsys,
    )
    assert code == 0, err
    scripted = torch.jit.load(str(target))  # type: ignore[no-untyped-call]
    model = load_cyclegan(demo_run / "checkpoints" / "last.pt")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(scripted(x), model.g_yx(x))


def test_translate_self_ensemble(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "in"
    images.mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, size=(28, 36, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(images / "a.png")
    for flag, folder in (([], "plain"), (["--self-ensemble"], "mirrored")):
        out = tmp_path / folder
        code, _out, err = run(
            ["translate", str(demo_run), str(images), "--out", str(out), *flag], capsys
        )
        assert code == 0, err
    generator = load_generator_file(demo_run / "checkpoints" / "last.pt", direction="xy")
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    for folder, ensemble in (("plain", False), ("mirrored", True)):
        expected = translate(generator, x, self_ensemble=ensemble)[0]
        expected_png = ((expected.clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()
        with Image.open(tmp_path / folder / "a.png") as saved:
            got = np.asarray(saved, dtype=np.float64)
        assert np.abs(got - expected_png).max() <= 1.0  # PNG rounding
    with (
        Image.open(tmp_path / "plain" / "a.png") as p,
        Image.open(tmp_path / "mirrored" / "a.png") as m,
    ):
        assert np.asarray(p).tolist() != np.asarray(m).tolist()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train"], "one of the arguments --data --demo is required"),
        (
            ["train", "--demo", "--size", "abc"],
            "argument --size: expected a positive integer, got 'abc'",
        ),
        (["train", "--demo", "--size", "30"], "needs a multiple of 4"),
        (["train", "--demo", "--ema", "2"], "argument --ema: expected a number in [0, 1)"),
        (["train", "--demo", "--r1-gamma", "-1"], "argument --r1-gamma: expected a number >= 0"),
        (["train", "--data", "/nonexistent/folder"], "argument --data: folder not found"),
        (
            ["train", "--demo", "--device", "cuda:9"]
            if not torch.cuda.is_available()
            else ["train", "--demo", "--device", "tpu"],
            "argument --device",
        ),
        (
            ["train", "--demo", "--resume", "/nonexistent.pt"],
            "argument --resume: checkpoint not found",
        ),
        (["translate", "/nonexistent.pt", "x.png", "--out", "o"], "argument checkpoint: not found"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_get_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("unpaired-i2i") and message in lines[0]
    assert "Traceback" not in err


def test_runtime_errors_get_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    code, _, err = run(["export", str(bad), "--out", str(tmp_path / "g.pt")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "bad.pt" in err
    code, _, err = run(["download", "not_a_dataset", "--root", str(tmp_path)], capsys)
    assert code == 1 and "not_a_dataset" in err and len(err.strip().splitlines()) == 1


def test_resume_with_other_architecture_is_refused(
    demo_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--demo", "--out", str(demo_run), *TINY, "--resume", "auto"]
    args[args.index("--base-channels") + 1] = "8"
    code, _, err = run(args, capsys)
    assert code == 1 and "does not fit" in err and len(err.strip().splitlines()) == 1


def _as_an_older_improved_run(path: Path, *, matrix: bool) -> None:
    """Rewrite a checkpoint of today's improved recipe as an older recipe would have saved it.

    ``matrix=False``: before the colour matrix (the heads' 3 image channels only: weights,
    averages and Adam moments; ``local_affine`` and ``local_affine_detail`` absent from the
    configs). ``matrix=True``: the day the matrix multiplied the whole input (same tensors,
    ``local_affine_detail`` absent).
    """
    checkpoint = torch.load(path, weights_only=True)
    sliced: list[str] = []

    def drop_matrix(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            return {k: drop_matrix(v, f"{where}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [drop_matrix(v, where) for v in node]
        if isinstance(node, torch.Tensor) and node.dim() >= 1 and node.shape[0] == 12:
            sliced.append(where)
            return node[:3].clone()
        return node

    if not matrix:
        for part in ("model", "callbacks", "optimizer_g"):
            checkpoint[part] = drop_matrix(checkpoint[part], part)
        # weight and bias of two heads, in the model, the average and both of Adam's moments
        assert len(sliced) == 2 * 2 * 4
    for name in ("g_xy", "g_yx"):
        config = checkpoint["meta"]["model_config"][name]
        assert config.pop("local_affine_detail") == 7
        if not matrix:
            assert config.pop("local_affine") is True
    torch.save(checkpoint, path)


@pytest.mark.parametrize("matrix", [False, True], ids=["no-matrix", "whole-input-matrix"])
def test_an_improved_run_of_an_earlier_recipe_resumes_as_it_was_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], matrix: bool
) -> None:
    """Runs of the improved recipe saved before its detail matrix (2026-12-04) resume."""
    out = tmp_path / "old"
    assert main(["train", "--demo", "--out", str(out), *TINY, "--max-steps", "4"]) == 0
    path = out / "checkpoints" / "last.pt"
    _as_an_older_improved_run(path, matrix=matrix)
    code, stdout, err = run(
        ["train", "--demo", "--out", str(out), *TINY, "--max-steps", "8", "--resume", "auto"],
        capsys,
    )
    assert code == 0, err
    kept = {"local_affine": matrix, "local_affine_detail": None}
    assert f"resuming with {kept}" in stdout and "resumed from" in stdout
    after = torch.load(path, weights_only=True)
    assert after["trainer"]["step"] == 8
    assert after["model"]["g_xy"]["head.conv.weight"].shape[0] == (12 if matrix else 3)
    config = after["meta"]["model_config"]["g_xy"]
    assert (config["local_affine"], config["local_affine_detail"]) == (matrix, None)


def test_an_improved_run_with_the_earlier_average_keeps_its_warmup_power(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs saved while the improved recipe's average used warm-up power 2 resume with it."""
    out = tmp_path / "p2"
    assert main(["train", "--demo", "--out", str(out), *TINY, "--max-steps", "4"]) == 0
    path = out / "checkpoints" / "last.pt"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["callbacks"]["EMA"]["warmup_power"] == 8.0  # today's recipe
    checkpoint["callbacks"]["EMA"]["warmup_power"] = 2.0  # as the recipe saved it until 12-05
    torch.save(checkpoint, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # EMA warns when a state's settings are not its own
        code, stdout, err = run(
            ["train", "--demo", "--out", str(out), *TINY, "--max-steps", "8", "--resume", "auto"],
            capsys,
        )
    assert code == 0, err
    assert "resuming with {'ema_warmup_power': 2.0}" in stdout and "resumed from" in stdout
    after = torch.load(path, weights_only=True)
    assert after["trainer"]["step"] == 8 and after["callbacks"]["EMA"]["warmup_power"] == 2.0


def test_an_improved_run_of_todays_recipe_resumes_without_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new"
    assert main(["train", "--demo", "--out", str(out), *TINY, "--max-steps", "4"]) == 0
    code, stdout, err = run(
        ["train", "--demo", "--out", str(out), *TINY, "--max-steps", "8", "--resume", "auto"],
        capsys,
    )
    assert code == 0, err
    assert "resumed from" in stdout and "resuming with" not in stdout
    config = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["meta"]
    assert config["model_config"]["g_xy"]["local_affine_detail"] == 7


def test_bench_command_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "bench.json"
    code, out, err = run(
        [
            "bench",
            "--size",
            "32",
            "--n-blocks",
            "1",
            "--base-channels",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--repeats",
            "2",
            "--variants",
            "eager-fp32",
            "channels_last",
            "--json",
            str(target),
            "--markdown",
            str(tmp_path / "bench.md"),
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(target.read_text())
    results = report["results"]
    names = ["plain-eager-fp32", "eager-fp32", "channels_last"]
    assert [r["variant"]["name"] for r in results] == names
    assert results[0]["speedup_vs_eager_fp32"] == 1.0
    assert all(r["median_s"] > 0 and r["finite"] for r in results)
    assert all(len(r["repeat_medians_s"]) == 2 for r in results)
    assert report["settings"]["kind"] == "train" and report["machine"]["device"] == "cpu"
    assert "vs plain eager fp32" in out and "train: cyclegan 32x32" in out
    table = (tmp_path / "bench.md").read_text().splitlines()
    assert table[2].startswith("| variant |") and len(table) == 4 + len(names)


def test_bench_inference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "--inference", "--size", "32", "--n-blocks", "1", "--base-channels", "4"]
    args += ["--steps", "2", "--warmup", "0", "--repeats", "1", "--variants", "channels_last"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "inference: cyclegan 32x32" in out and "channels_last" in out


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "unpaired_i2i", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("unpaired-i2i ")


def test_demo_defaults_are_small_enough_for_a_cpu() -> None:
    assert DEMO_DEFAULTS["size"] <= 128 and DEMO_DEFAULTS["base_channels"] <= 32


# ------------------------------------------------------------------------------------- help
def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("name", ["train", "translate", "export", "download", "bench"])
def test_every_option_has_help_and_shows_its_default(name: str) -> None:
    parser = subcommands()[name]
    formatter = parser._get_formatter()
    # One of a required group (train --data | --demo) is required: it has no default either.
    required = {
        id(action)
        for group in parser._mutually_exclusive_groups
        if group.required
        for action in group._group_actions
    }
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{name} {label} has no help"
        is_flag = isinstance(action, argparse._StoreTrueAction)
        optional = not action.required and id(action) not in required
        if action.option_strings and optional and not is_flag:
            text = formatter._expand_help(action)
            assert "default" in text, f"{name} {label}: the help does not show the default"
            assert "(default: None)" not in text, f"{name} {label}"
    assert parser.description and parser.description.strip()
    assert parser.epilog and f"unpaired-i2i {name} " in parser.epilog  # an example


def test_train_help_shows_both_sets_of_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 64 with --demo, 256 with --data)" in text
    assert "(default: 7 with --demo, 100 with --data)" in text  # --epochs
    assert "--data the reference settings: 256x256" in text and "200 in all" in text


def test_train_help_explains_torchrun(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "torchrun --nproc_per_node=2 -m unpaired_i2i train --data" in text
    assert "--nnodes, --node_rank and --rdzv_endpoint" in text
    assert "images per training step in each process" in text
    assert "the global batch is this x the number of processes" in text


def test_errors_of_other_ranks_name_the_rank(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As torchrun starts rank 1 of 2; the bad argument stops it before it joins the group.
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    code, _, err = run(["train", "--demo", "--size", "30"], capsys)
    assert code == 2
    assert err.startswith("unpaired-i2i train (rank 1): error: argument --size")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    code, _, err = run(["train", "--demo", "--size", "30"], capsys)
    assert code == 2 and err.startswith("unpaired-i2i train: error: argument --size")


def test_translate_help_says_which_way_is_summer_to_winter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["translate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "trainA to trainB: summer to winter" in text


# ------------------------------------------------------------- training data that cannot be read
def write_domains(root: Path, n: int = 4) -> None:
    for domain, colour in (("trainA", (200, 40, 40)), ("trainB", (40, 40, 200))):
        (root / domain).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (36, 36), (colour[0], colour[1] + 10 * i, colour[2])).save(
                root / domain / f"{i:04d}.png"
            )


def corrupt_dataset(root: Path) -> tuple[Path, Path]:
    write_domains(root)
    truncated = root / "trainB" / "0002.png"
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    not_an_image = root / "trainA" / "notes.jpg"
    not_an_image.write_text("meeting notes, not a photo\n")
    return truncated, not_an_image


DATA_TINY = [
    "--size", "32", "--base-channels", "4", "--d-base-channels", "4", "--n-blocks", "1",
    "--epochs", "1", "--decay-epochs", "0", "--max-steps", "2", "--no-progress",
]  # fmt: skip


def test_unreadable_training_images_are_all_reported_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from unpaired_i2i.training import CycleTrainer

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(CycleTrainer, "fit", no_training)
    truncated, not_an_image = corrupt_dataset(tmp_path / "data")
    run_dir = tmp_path / "runs" / "r"
    code, out, err = run(
        ["train", "--data", str(tmp_path / "data"), "--out", str(run_dir), *DATA_TINY], capsys
    )
    assert code == 1
    assert str(truncated) in err and str(not_an_image) in err
    assert err.startswith("unpaired-i2i train: error: 2 of 9 images") and err.count("error:") == 1
    assert "fix or delete these files, or pass --skip-corrupt" in err
    assert "Traceback" not in err and "training" not in out
    assert not run_dir.exists() and not run_dir.parent.exists()  # no empty run folder left


def test_skip_corrupt_trains_without_the_unreadable_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated, not_an_image = corrupt_dataset(tmp_path / "data")
    run_dir = tmp_path / "r"
    code, out, err = run(
        ["train", "--data", str(tmp_path / "data"), "--out", str(run_dir), *DATA_TINY,
         "--skip-corrupt"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "skipping 2 of 9 images that cannot be read" in out
    assert str(truncated) in out and str(not_an_image) in out
    assert "on 4 images/epoch" in out  # trainA: 4 readable, trainB: 3
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert json.loads((run_dir / "run.json").read_text())["data"] == str(tmp_path / "data")


def test_data_without_a_train_split_leaves_no_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data" / "only_one").mkdir(parents=True)
    run_dir = tmp_path / "runs" / "x"
    code, _, err = run(["train", "--data", str(tmp_path / "data"), "--out", str(run_dir)], capsys)
    assert code == 1 and "no 'train' split" in err and len(err.strip().splitlines()) == 1
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------- translate failures
def test_translate_writes_every_readable_image_and_reports_each_bad_one(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "in"
    images.mkdir()
    for name in ("a.png", "c.png"):
        Image.new("RGB", (20, 16), (10, 120, 30)).save(images / name)
    (images / "b.jpg").write_text("not an image")
    truncated = images / "d.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    out_dir = tmp_path / "out"
    code, out, err = run(["translate", str(demo_run), str(images), "--out", str(out_dir)], capsys)
    assert code == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "c.png"]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("unpaired-i2i translate: error: cannot read image ")
    assert "b.jpg" in lines[0] and "d.png" in lines[1]
    assert f"translated 2 of 4 images into {out_dir}" in out


def test_translate_with_no_readable_image_leaves_no_output_folder(
    demo_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out_dir = tmp_path / "new" / "out"
    code, out, err = run(["translate", str(demo_run), str(bad), "--out", str(out_dir)], capsys)
    assert code == 1 and "bad.png" in err and len(err.strip().splitlines()) == 1
    assert "nothing written" in out
    assert not out_dir.exists() and not out_dir.parent.exists()


def test_an_image_given_as_checkpoint_says_what_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(photo)
    code, _, err = run(["translate", str(photo), str(photo), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{photo} is not a PyTorch checkpoint (it looks like a PNG image)" in err
    assert "expected a training checkpoint (.pt)" in err and "run folder" in err
    assert "weights_only" not in err
    assert not (tmp_path / "o").exists()


def test_train_speed_options_reach_the_trainer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from unpaired_i2i.training import trainer as trainer_module

    seen: list[Any] = []

    def compile_cheaply(network: torch.nn.Module, config: Any) -> torch.nn.Module:
        seen.append((config.compile, config.compile_mode, config.amp, config.cudnn_benchmark))
        return torch.compile(network, backend="aot_eager", dynamic=False)  # type: ignore[return-value]

    monkeypatch.setattr(trainer_module, "compile_network", compile_cheaply)
    args = ["train", "--demo", "--out", str(tmp_path / "r"), *TINY, "--max-steps", "2"]
    args += ["--compile", "--compile-mode", "max-autotune", "--amp", "auto", "--cudnn-benchmark"]
    code, _, err = run(args, capsys)
    assert code == 0, err
    assert seen == [(True, "max-autotune", "auto", True)] * 6  # 4 networks + 2 frozen views
    saved = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)
    assert saved["config"]["compile"] is True and saved["config"]["amp"] == "auto"
