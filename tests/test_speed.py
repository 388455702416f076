"""The fast-path helpers (``unpaired_i2i.training.speed``) and the sync-free step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from unpaired_i2i import CycleGAN, CycleTrainer, TrainConfig
from unpaired_i2i.training import speed
from unpaired_i2i.training.speed import (
    apply_backend_flags,
    batch_independent,
    make_adam,
    resolve_amp,
)

DATA = Path(__file__).parent / "data"


def make_model(**overrides: Any) -> CycleGAN:
    torch.manual_seed(0)
    d_overrides = {"base_channels": 4, "n_layers": 1, **overrides.pop("d", {})}
    return CycleGAN.from_preset(
        "cyclegan", base_channels=4, n_blocks=1, discriminator_overrides=d_overrides, **overrides
    )


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(2, 3, 16, 16, generator=g) * 2 - 1 for _ in range(2))  # type: ignore[return-value]


# ----------------------------------------------------------------------------- amp="auto"
@pytest.fixture
def no_onednn_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run without an ``ONEDNN_MAX_CPU_ISA`` / ``DNNL_MAX_CPU_ISA`` from the environment."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)


@pytest.mark.usefixtures("no_onednn_cap")
@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"),
    [(True, True, "bf16"), (False, True, "bf16"), (False, False, "off")],
)
def test_auto_amp_on_cpu_follows_bf16_dot_products(
    monkeypatch: pytest.MonkeyPatch, amx: bool, avx512_bf16: bool, expected: str
) -> None:
    # AMX or AVX-512 BF16 (e.g. AMD Zen 4, bf16 measured 1.8x there): bf16; neither: fp32.
    speed.cpu_has_bf16_dot.cache_clear()
    monkeypatch.setattr(speed, "cpu_has_amx", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    try:
        assert speed.cpu_has_bf16_dot() is (expected == "bf16")
        assert resolve_amp("auto", "cpu") == expected
        trainer = CycleTrainer(make_model(), TrainConfig(amp="auto"), device="cpu")
        assert trainer.amp == expected
        assert trainer.scaler is None  # auto never picks float16
    finally:
        speed.cpu_has_bf16_dot.cache_clear()


@pytest.mark.parametrize("bf16", [True, False])
def test_auto_amp_on_cuda_follows_bf16_support(monkeypatch: pytest.MonkeyPatch, bf16: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_amp("auto", torch.device("cuda", 0)) == ("bf16" if bf16 else "off")


@pytest.mark.parametrize(
    ("variable", "cap", "amx_allowed", "bf16_allowed"),
    [
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", False, False),
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI", False, False),
        ("ONEDNN_MAX_CPU_ISA", "avx2", False, False),
        ("DNNL_MAX_CPU_ISA", "AVX512_CORE_BF16", False, True),
        ("ONEDNN_MAX_CPU_ISA", "AVX10_1_512", False, True),
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", True, True),
        ("ONEDNN_MAX_CPU_ISA", "AVX10_1_512_AMX_FP16", True, True),
        ("ONEDNN_MAX_CPU_ISA", "ALL", True, True),
        ("ONEDNN_MAX_CPU_ISA", "", True, True),
    ],
)
@pytest.mark.usefixtures("no_onednn_cap")
def test_auto_amp_on_cpu_respects_a_onednn_isa_cap(
    monkeypatch: pytest.MonkeyPatch, variable: str, cap: str, amx_allowed: bool, bf16_allowed: bool
) -> None:
    # With bf16 dot products in the CPU but oneDNN capped below them, bf16 convolutions are
    # slow: fp32.
    monkeypatch.setenv(variable, cap)
    monkeypatch.setattr(speed, "cpu_has_bf16_dot", lambda: True)
    assert speed.onednn_allows_amx() is amx_allowed
    assert speed.onednn_allows_bf16_dot() is bf16_allowed
    assert resolve_amp("auto", "cpu") == ("bf16" if bf16_allowed else "off")
    assert resolve_amp("bf16", "cpu") == "bf16"  # an explicit choice is never overridden


@pytest.mark.usefixtures("no_onednn_cap")
def test_machine_info_records_the_onednn_isa_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from unpaired_i2i.bench import machine_info

    assert machine_info("cpu")["onednn_max_cpu_isa"] is None
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    info = machine_info("cpu")
    assert info["onednn_max_cpu_isa"] == "AVX512_CORE" and isinstance(info["cpu_amx"], bool)
    # A table made from such a report says the figures were taken under the cap.
    from unpaired_i2i.bench import format_markdown

    result = {"variant": {"name": "eager-fp32"}, "median_s": 1.0, "iqr_s": 0.1}
    result |= {"images_per_s": 2.0, "warmup_s": 0.5, "peak_memory_mib": None}
    settings = {"kind": "train", "preset": "cyclegan", "size": 32, "n_blocks": 1}
    report = {"settings": settings | {"batch_size": 1}, "machine": info, "results": [result]}
    assert "oneDNN capped at AVX512_CORE" in format_markdown(report).splitlines()[0]


def test_explicit_amp_is_kept_and_other_devices_get_fp32() -> None:
    for amp in ("off", "bf16", "fp16"):
        assert resolve_amp(amp, "cpu") == amp
    assert resolve_amp("auto", "meta") == "off"


def test_cpu_has_amx_agrees_with_proc_cpuinfo() -> None:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert speed.cpu_has_amx() == ("amx_tile" in flags or "amx_bf16" in flags)
    assert speed.cpu_has_bf16_dot() == ("avx512_bf16" in flags or "amx_bf16" in flags)


# ----------------------------------------------------------------------------- CUDA flags
@pytest.fixture
def restore_flags() -> Iterator[None]:
    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32 = saved[:2]
    torch.set_float32_matmul_precision(saved[2])


def test_backend_flags_apply_on_cuda_only(restore_flags: None) -> None:
    torch.backends.cudnn.benchmark = False
    torch.set_float32_matmul_precision("highest")
    config = TrainConfig(cudnn_benchmark=True, tf32=True)
    assert apply_backend_flags(config, "cpu") == {}
    assert torch.backends.cudnn.benchmark is False
    assert apply_backend_flags(config, "cuda") == {"cudnn_benchmark": True, "tf32": True}
    assert torch.backends.cudnn.benchmark is True
    assert torch.get_float32_matmul_precision() == "high"
    assert torch.backends.cudnn.allow_tf32 is True


def test_backend_flags_off_change_nothing(restore_flags: None) -> None:
    torch.backends.cudnn.benchmark = False
    assert apply_backend_flags(TrainConfig(), "cuda") == {}
    assert torch.backends.cudnn.benchmark is False


# ----------------------------------------------------------------------------- Adam
def test_adam_is_fused_where_the_device_has_the_kernel() -> None:
    cpu = make_adam([nn.Parameter(torch.zeros(3))], lr=1e-3, betas=(0.5, 0.999))
    assert cpu.defaults["fused"] is True
    meta = make_adam([nn.Parameter(torch.zeros(3, device="meta"))], lr=1e-3, betas=(0.5, 0.999))
    assert not meta.defaults["fused"]


def test_trainer_optimisers_are_fused_and_stay_fused_after_loading_an_unfused_state() -> None:
    trainer = CycleTrainer(make_model(), TrainConfig(), device="cpu")
    assert trainer.optimizer_g.defaults["fused"] and trainer.optimizer_d.defaults["fused"]
    state = trainer.state_dict()
    for key in ("optimizer_g", "optimizer_d"):  # as written by a release without fused Adam
        for group in state[key]["param_groups"]:
            group["fused"] = None
    trainer.load_state_dict(state)
    for optim in (trainer.optimizer_g, trainer.optimizer_d):
        assert all(group["fused"] is True for group in optim.param_groups)


def test_fused_adam_matches_the_default_implementation() -> None:
    torch.manual_seed(0)
    a = nn.Parameter(torch.randn(50))
    b = nn.Parameter(a.detach().clone())
    fused = make_adam([a], lr=1e-2, betas=(0.5, 0.999))
    plain = torch.optim.Adam([b], lr=1e-2, betas=(0.5, 0.999), foreach=False)
    for step in range(5):
        grad = torch.randn(50, generator=torch.Generator().manual_seed(step))
        a.grad, b.grad = grad.clone(), grad.clone()
        fused.step()
        plain.step()
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- batching
class MinibatchMean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(0, keepdim=True)


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (lambda: make_model().g_xy, True),
        (lambda: make_model().d_x, True),
        (lambda: make_model(norm="batch").g_xy, False),
        (lambda: make_model(d={"norm": "batch"}).d_x, False),
        (lambda: make_model(d={"spectral_norm": True}).d_x, False),
        (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), MinibatchMean()), False),
        (lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.GroupNorm(1, 3), nn.Dropout(0.5)), True),
    ],
    ids=["instance-g", "instance-d", "batchnorm-g", "batchnorm-d", "spectral", "custom", "gn"],
)
def test_batch_independent(network: Any, expected: bool) -> None:
    assert batch_independent(network()) is expected


def test_hooks_make_a_network_batch_dependent() -> None:
    net = make_model().g_xy
    stem = net.stem
    assert isinstance(stem, nn.Module)
    stem.register_forward_hook(lambda m, i, o: None)
    assert not batch_independent(net)


def test_batch_independent_looks_through_wrappers() -> None:
    wrapper = nn.Module()
    wrapper.module = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))
    assert not batch_independent(wrapper)


# ----------------------------------------------------------------------------- no host sync
class HostSyncError(RuntimeError):
    pass


def _trainer(amp: str, *, fused: bool = True) -> CycleTrainer:
    # pool_size=0: the image pools draw from their own CPU generator, never from the device.
    trainer = CycleTrainer(make_model(), TrainConfig(amp=amp, pool_size=0), device="cpu")  # type: ignore[arg-type]
    if not fused:
        params_g = [p for group in trainer.optimizer_g.param_groups for p in group["params"]]
        params_d = [p for group in trainer.optimizer_d.param_groups for p in group["params"]]
        trainer.optimizer_g = torch.optim.Adam(params_g, foreach=False)
        trainer.optimizer_d = torch.optim.Adam(params_d, foreach=False)
    return trainer


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_train_step_never_reads_a_tensor_on_the_host(amp: str) -> None:
    trainer = _trainer(amp)
    x, y = batch()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.Tensor, "item", _refuse)
        patch.setattr(torch.Tensor, "__bool__", _refuse)
        patch.setattr(torch.Tensor, "__float__", _refuse)
        patch.setattr(torch.Tensor, "tolist", _refuse)
        for _ in range(2):
            losses = trainer.train_step(x, y)
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_host_read_check_catches_an_unfused_fp16_step() -> None:
    # Without the fused kernel, GradScaler.step reads its inf check with .item().
    trainer = _trainer("fp16", fused=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.Tensor, "item", _refuse)
        with pytest.raises(HostSyncError):
            trainer.train_step(*batch())


def _refuse(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
    raise HostSyncError(f"host read of a tensor of shape {tuple(self.shape)}")
