"""``torchrun ... -m unpaired_i2i train``: two CPU processes (Gloo) on tiny settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # informational: these run in every suite run

TINY = [
    "--size", "32", "--base-channels", "4", "--d-base-channels", "4", "--n-blocks", "1",
    "--n-train", "6", "--n-test", "2", "--epochs", "1", "--decay-epochs", "1",
    "--log-every", "1", "--sample-every", "4", "--checkpoint-every", "4", "--pool-size", "3",
    "--no-progress", "--seed", "3", "--device", "cpu",
]  # fmt: skip

TIMEOUT_S = 240


def torchrun(*args: str, nproc: int = 2) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``python -m torch.distributed.run --standalone`` on the CPU; (result, seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)  # a launcher around pytest must not leak into the run
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--standalone",
        *args,
    ]
    t0 = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False
    )
    return result, time.perf_counter() - t0


def test_torchrun_demo_run_writes_one_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result, _ = torchrun(
        "-m", "unpaired_i2i", "train", "--demo", "--out", str(out), *TINY, "--max-steps", "4"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(out.rglob("last.pt")) == [out / "checkpoints" / "last.pt"]
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2
    report = json.loads((out / "eval.json").read_text())
    assert isinstance(report["l1"], float)
    # Rank 0 alone prints: one summary, one image check, one start line.
    assert result.stdout.count("run folder") == 1, result.stdout
    assert result.stdout.count("checked ") == 1, result.stdout
    assert "batch 1 per process (2 in all)" in result.stdout
    assert "2 processes (device cpu on rank 0)" in result.stdout
    assert (out / "samples" / "latest.png").is_file()
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["meta"]["world_size"] == 2
    assert checkpoint["trainer"]["step"] == 4

    # --resume auto: every rank continues from the checkpoint rank 0 found, to the end (6 steps:
    # 6 images over 2 ranks, 2 epochs).
    result, _ = torchrun(
        "-m", "unpaired_i2i", "train", "--demo", "--out", str(out), *TINY, "--resume", "auto"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("resumed from") == 1, result.stdout
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["trainer"]["step"] == 6


def test_torchrun_bad_data_fails_promptly_with_the_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "only_one").mkdir(parents=True)
    run_dir = tmp_path / "runs" / "x"
    result, took = torchrun(
        "-m", "unpaired_i2i", "train", "--data", str(data), "--out", str(run_dir), *TINY
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert took < TIMEOUT_S
    error = r"unpaired-i2i train( \(rank \d\))?: error: .*no 'train' split"
    assert re.search(error, output), output
    assert not re.search(r'File ".*unpaired_i2i', output), output  # no traceback of ours
    assert not run_dir.exists() and not run_dir.parent.exists()


FAIL_ON_RANK_1 = """\
import os

from unpaired_i2i.cli import main
from unpaired_i2i.training import CycleTrainer

real_step = CycleTrainer.train_step


def failing_step(self, real_x, real_y):
    if os.environ["RANK"] == "1" and self.state.step == 2:
        raise OSError("rank 1 lost its disk")
    return real_step(self, real_x, real_y)


CycleTrainer.train_step = failing_step
raise SystemExit(main())
"""


def test_torchrun_one_failing_rank_stops_the_run(tmp_path: Path) -> None:
    script = tmp_path / "fail_on_rank_1.py"
    script.write_text(FAIL_ON_RANK_1)
    out = tmp_path / "run"
    # Rank 0 waits for rank 1 in the gradient all-reduce of step 3; torchrun must stop it.
    result, took = torchrun(str(script), "train", "--demo", "--out", str(out), *TINY)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert took < TIMEOUT_S
    assert "unpaired-i2i train (rank 1): error: rank 1 lost its disk" in output, output
