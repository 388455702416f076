"""Two-process training on the CPU (Gloo), launched with torchrun as a user would.

Each run starts ``tests/distributed_worker.py`` on 2 ranks with tiny settings; see there for
what each rank does and writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from unpaired_i2i import load_checkpoint_file
from unpaired_i2i.training.distributed import DistributedEnv, detect

WORKER = Path(__file__).parent / "distributed_worker.py"

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed/gloo"
)


def torchrun(out: Path, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(WORKER), str(out), *args,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if expect_ok:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def rank_results(out: Path) -> list[dict[str, Any]]:
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ: {different[:5]}"


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp") / "straight"
    torchrun(out, "--steps", "8", "--save-at", "4")
    return out


def test_ranks_train_in_step_on_their_own_shards(straight: Path) -> None:
    first, second = rank_results(straight)
    # The ranks started from different random weights and flipped different images, yet DDP
    # made them start from rank 0's weights and average every gradient.
    assert_same_weights(first["weights"], second["weights"])
    assert_same_weights(first["ema_g_xy"], second["ema_g_xy"])  # EMA stays identical too
    assert (first["world_size"], second["world_size"]) == (2, 2)
    assert (first["is_global_zero"], second["is_global_zero"]) == (True, False)
    assert first["step"] == second["step"] == 8
    assert first["batches_per_epoch"] == 2  # 8 images / 2 ranks / batch 2: sharded
    assert first["last_losses"] == second["last_losses"]  # averaged across ranks


def test_r1_penalty_and_relativistic_losses_keep_the_ranks_in_step(
    straight: Path, tmp_path: Path
) -> None:
    # The R1 penalty takes a gradient with respect to the images inside the DDP-wrapped
    # discriminators' forward (a double backward); the relativistic terms score the real
    # images with the frozen discriminators as well.
    out = tmp_path / "r1"
    torchrun(out, "--steps", "8", "--save-at", "4", "--r1-gamma", "10", "--relativistic")
    first, second = rank_results(out)
    assert_same_weights(first["weights"], second["weights"])
    assert first["last_losses"] == second["last_losses"]
    plain = rank_results(straight)[0]["weights"]  # the same run without them
    assert any(not torch.equal(first["weights"][k], plain[k]) for k in plain if k.startswith("d_"))


def test_only_rank_zero_writes_and_the_checkpoint_holds_every_rank(straight: Path) -> None:
    assert (straight / "rank0" / "checkpoints" / "last.pt").is_file()
    assert (straight / "rank0" / "metrics.csv").is_file()
    assert not (straight / "rank1").exists()
    checkpoint = load_checkpoint_file(straight / "rank0" / "checkpoints" / "step-00000004.pt")
    assert checkpoint["meta"]["world_size"] == 2
    ranks = checkpoint["ranks"]
    assert len(ranks) == 2 and all({"pool_x", "pool_y", "rng"} <= set(r) for r in ranks)
    # Each rank's pool holds its own fakes.
    assert not torch.equal(ranks[0]["pool_x"]["images"][0], ranks[1]["pool_x"]["images"][0])


def test_resumed_two_process_run_matches_the_uninterrupted_one(
    straight: Path, tmp_path: Path
) -> None:
    checkpoint = straight / "rank0" / "checkpoints" / "step-00000004.pt"
    out = tmp_path / "resumed"
    torchrun(out, "--steps", "8", "--save-at", "4", "--resume", str(checkpoint))
    resumed, reference = rank_results(out), rank_results(straight)
    for rank in (0, 1):
        assert_same_weights(resumed[rank]["weights"], reference[rank]["weights"])


def test_a_nan_on_one_rank_stops_every_rank_with_a_clear_error(tmp_path: Path) -> None:
    result = torchrun(tmp_path / "nan", "--steps", "8", "--nan-on-rank", "1", expect_ok=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "NonFiniteLossError" in output
    assert "non-finite loss on rank 1" in output  # what rank 0 reports
    assert not (tmp_path / "nan" / "rank0.pt").exists()
    assert not (tmp_path / "nan" / "rank1.pt").exists()


def test_detect_reads_the_torchrun_environment() -> None:
    assert detect({}) == DistributedEnv()
    env = detect({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (env.rank, env.world_size, env.local_rank) == (3, 4, 1)
    assert env.is_distributed and not env.is_global_zero
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        detect({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="WORLD_SIZE must be an integer"):
        detect({"WORLD_SIZE": "two"})


def test_resuming_with_another_world_size_warns_once_and_trains(straight: Path) -> None:
    from unpaired_i2i import CycleGAN, CycleTrainer, TrainConfig

    model = CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        discriminator_overrides={"base_channels": 4, "n_layers": 1},
    )
    config = TrainConfig(epochs=2, decay_epochs=2, pool_size=3, log_every=2, lr=1e-3, seed=3)
    trainer = CycleTrainer(model, config, device="cpu")
    # This trainer has none of the run's callbacks, which is reported too.
    with (
        pytest.warns(UserWarning, match="no callback claims"),
        pytest.warns(UserWarning, match=r"written by 2 process\(es\), this run has 1") as record,
    ):
        trainer.load_checkpoint(straight / "rank0" / "checkpoints" / "step-00000004.pt")
    assert len([w for w in record if "process(es)" in str(w.message)]) == 1
    assert trainer.state.step == 4
    g = torch.Generator().manual_seed(0)
    data = [(torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, torch.rand(2, 3, 8, 8, generator=g))] * 2
    trainer.fit(data, max_steps=6)
    assert trainer.state.step == 6


@pytest.fixture
def fake_second_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a trainer believe it is rank 0 of 2 without a process group (DDP stubbed out)."""
    from unpaired_i2i.training import distributed, trainer

    monkeypatch.setattr(
        distributed,
        "init_from_env",
        lambda device: (DistributedEnv(rank=0, world_size=2), torch.device("cpu")),
    )
    monkeypatch.setattr(trainer, "DistributedDataParallel", lambda net, device_ids: net)


def tiny_trainer(**config: Any) -> Any:
    from unpaired_i2i import CycleGAN, CycleTrainer, TrainConfig

    model = CycleGAN.from_preset(
        "basic", base_channels=4, n_blocks=1, discriminator_overrides={"base_channels": 4}
    )
    return CycleTrainer(model, TrainConfig(pool_size=2, **config))


@pytest.mark.usefixtures("fake_second_rank")
def test_a_dataloader_is_sharded_unless_switched_off_and_other_iterables_are_kept() -> None:
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    data = TensorDataset(torch.zeros(10, 3, 8, 8), torch.zeros(10, 3, 8, 8))
    loader = DataLoader(data, batch_size=2, shuffle=True, drop_last=True)
    trainer = tiny_trainer(seed=7)
    assert (trainer.world_size, trainer.global_rank, trainer.is_global_zero) == (2, 0, True)
    sharded = trainer._distribute(loader)
    assert isinstance(sharded.sampler, DistributedSampler)
    assert (sharded.sampler.num_replicas, sharded.sampler.rank) == (2, 0)
    assert sharded.sampler.shuffle and sharded.sampler.seed == 7
    assert (sharded.batch_size, sharded.drop_last, len(sharded)) == (2, True, 2)
    assert trainer._distribute(sharded) is sharded  # already distributed
    batches = [(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))]
    assert trainer._distribute(batches) is batches  # plain iterables are used as given
    kept = tiny_trainer(use_distributed_sampler=False)
    assert kept._distribute(loader) is loader


@pytest.mark.usefixtures("fake_second_rank")
def test_sync_batchnorm_is_refused_early_off_cuda() -> None:
    with pytest.raises(ValueError, match=r"sync_batchnorm needs CUDA devices.*trains on cpu"):
        tiny_trainer(sync_batchnorm=True)


def test_compiled_networks_with_r1_keep_the_ranks_in_step_and_match_eager(tmp_path: Path) -> None:
    # Compiled networks have no double backward, so R1's gradient comes from a second,
    # uncompiled call of each DDP-wrapped discriminator on the real images: both calls'
    # gradients reach the parameters in one backward pass and are averaged across the ranks once.
    args = ("--steps", "4", "--save-at", "4", "--r1-gamma", "10")
    torchrun(tmp_path / "eager", *args)
    torchrun(tmp_path / "compiled", *args, "--compile-backend", "aot_eager")
    eager, compiled = rank_results(tmp_path / "eager"), rank_results(tmp_path / "compiled")
    assert_same_weights(compiled[0]["weights"], compiled[1]["weights"])
    # Weights, not biases: most biases here feed an InstanceNorm, which cancels them, so their
    # gradient is rounding noise that Adam scales up to a full step either way.
    weights = [key for key in eager[0]["weights"] if key.endswith(".weight")]
    assert len(weights) > 20
    for key in weights:
        torch.testing.assert_close(
            compiled[0]["weights"][key], eager[0]["weights"][key], rtol=1e-3, atol=1e-4
        )
    assert compiled[0]["last_losses"].keys() == eager[0]["last_losses"].keys()
    for name, loss in eager[0]["last_losses"].items():
        assert compiled[0]["last_losses"][name] == pytest.approx(loss, rel=1e-4)


def test_a_group_the_trainer_joins_is_left_at_exit_and_a_users_group_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import atexit

    import torch.distributed as dist

    from unpaired_i2i.training import distributed

    for key, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    joined: list[str] = []
    registered: list[Any] = []
    monkeypatch.setattr(dist, "is_initialized", lambda: bool(joined))
    monkeypatch.setattr(dist, "init_process_group", lambda backend, timeout: joined.append(backend))
    monkeypatch.setattr(dist, "get_rank", lambda: 0)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(atexit, "register", registered.append)
    env, device = distributed.init_from_env(None)
    assert (env.rank, env.world_size, device) == (0, 2, None)
    assert joined == ["gloo"] and registered == [distributed.destroy_group]
    # joined already (by the user, or by an earlier trainer): nothing more is registered
    distributed.init_from_env(None)
    assert joined == ["gloo"] and registered == [distributed.destroy_group]
