"""The fast paths of the training step, in one place.

Each helper decides one thing the trainer does for speed without changing the math:

- :func:`resolve_amp`: which autocast ``amp="auto"`` means on a device (bf16 where it is
  faster than float32: CUDA devices with bf16 support, CPUs with AMX or AVX-512 BF16;
  float32 elsewhere);
- :func:`apply_backend_flags`: cuDNN autotuning and TF32 on CUDA, when the config asks;
- :func:`make_adam`: Adam with the fused kernel where the device has one (no host sync under
  a :class:`~torch.amp.GradScaler`), else torch's default implementation;
- :func:`batch_independent`: whether a network treats each sample of a batch on its own, so
  that two calls sharing its weights can be made as one call on the concatenated batch;
- :func:`compile_network`: :func:`torch.compile` with the config's mode and backend.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import Literal, TypeAlias

import torch
from torch import nn

from unpaired_i2i.training.config import AmpMode, TrainConfig

__all__ = [
    "ResolvedAmp",
    "apply_backend_flags",
    "batch_independent",
    "compile_network",
    "cpu_has_amx",
    "cpu_has_bf16_dot",
    "implementation_flags",
    "make_adam",
    "onednn_allows_amx",
    "onednn_allows_bf16_dot",
    "onednn_isa_cap",
    "resolve_amp",
]

ResolvedAmp: TypeAlias = Literal["off", "bf16", "fp16"]
"""An :data:`AmpMode` with ``"auto"`` decided: the autocast the step runs under."""


def _cpu_feature(probe_name: str, flag: str) -> bool:
    """Whether the CPU has a feature: torch's probe ``torch.cpu.<probe_name>``, else ``flag``.

    The flag is looked for in ``/proc/cpuinfo``; ``False`` where neither answers.
    """
    probe = getattr(torch.cpu, probe_name, None)
    if callable(probe):
        try:
            return bool(probe())
        except RuntimeError:  # pragma: no cover - builds without the probe compiled in
            pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            return any(flag in line for line in info if line.startswith("flags"))
    except OSError:  # pragma: no cover - not Linux
        return False


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (Intel Sapphire Rapids and later), where bf16 is fast.

    Asks torch first (``torch.cpu._is_amx_tile_supported``), else reads ``/proc/cpuinfo``.
    """
    return _cpu_feature("_is_amx_tile_supported", "amx_bf16")


@functools.cache
def cpu_has_bf16_dot() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware: AMX tiles or AVX-512 BF16.

    AVX-512 BF16 (``avx512_bf16``: Intel Cooper Lake and Sapphire Rapids on, AMD Zen 4 on)
    has a bfloat16 dot-product instruction that oneDNN's convolutions use; every CPU with AMX
    has it too. Without it (AVX2 only, or AVX-512 as in Skylake to Ice Lake) bfloat16 is
    converted to float32 and back around float32 arithmetic, which is slower than float32
    alone. Asks torch (``torch.cpu._is_avx512_bf16_supported``), else reads
    ``/proc/cpuinfo``.
    """
    return cpu_has_amx() or _cpu_feature("_is_avx512_bf16_supported", "avx512_bf16")


def onednn_isa_cap() -> str | None:
    """The instruction-set cap set for oneDNN in the environment, as written; ``None`` if unset.

    ``ONEDNN_MAX_CPU_ISA``, else its older name ``DNNL_MAX_CPU_ISA``.
    """
    return os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")


def onednn_allows_amx() -> bool:
    """Whether oneDNN, torch's CPU convolution library, may use AMX in this process.

    ``ONEDNN_MAX_CPU_ISA`` (or its older name ``DNNL_MAX_CPU_ISA``) caps the instruction set
    oneDNN dispatches to; a cap below AMX (``AVX512_CORE``, ``AVX2``, ...) makes bfloat16
    convolutions as slow as on a CPU without AMX even when the CPU has it (measured on an
    Intel Xeon with AMX: a 256-channel 3x3 convolution in bfloat16 ran 3.5x faster than in
    float32, and 0.28x as fast under ``ONEDNN_MAX_CPU_ISA=AVX512_CORE``). Unset, ``ALL``,
    ``DEFAULT`` or an ISA name with ``AMX`` in it allow AMX.
    """
    return _onednn_cap_admits("AMX")


def onednn_allows_bf16_dot() -> bool:
    """Whether oneDNN may use the CPU's bfloat16 dot products (AVX-512 BF16 or AMX).

    Like :func:`onednn_allows_amx`, for the lower bar: unset, ``ALL``, ``DEFAULT``, or a cap
    at or above ``AVX512_CORE_BF16`` (a name with ``BF16``, ``AMX`` or ``AVX10`` in it)
    allows them; ``AVX512_CORE``, ``AVX512_CORE_VNNI``, ``AVX2`` and the like do not.
    """
    return _onednn_cap_admits("BF16", "AMX", "AVX10")


def _onednn_cap_admits(*markers: str) -> bool:
    """Whether the oneDNN ISA cap is unset, ``ALL``, ``DEFAULT`` or names one of ``markers``."""
    cap = (onednn_isa_cap() or "").strip().upper()
    return cap in ("", "ALL", "DEFAULT") or any(marker in cap for marker in markers)


def resolve_amp(amp: AmpMode, device: torch.device | str) -> ResolvedAmp:
    """Decide the autocast of ``amp`` on ``device`` (``"auto"`` is decided; others pass).

    ``"auto"`` picks bfloat16 where it runs the CycleGAN step faster than float32 and float32
    elsewhere, never float16 (which needs a gradient scaler):

    - CUDA: ``"bf16"`` when :func:`torch.cuda.is_bf16_supported` (Ampere and later), else
      ``"off"``;
    - CPU: ``"bf16"`` with bfloat16 dot products in hardware (:func:`cpu_has_bf16_dot`: AMX,
      measured 1.7-2.3x the float32 step; AVX-512 BF16 without AMX, measured 1.8x on an AMD
      EPYC), else ``"off"`` (AVX-512 without BF16 measured 0.7x; AVX2 has no bf16
      arithmetic at all); also ``"off"`` when ``ONEDNN_MAX_CPU_ISA`` keeps oneDNN from using
      them (:func:`onednn_allows_bf16_dot`);
    - other devices: ``"off"``.

    Args:
        amp: ``"off"``, ``"bf16"``, ``"fp16"`` or ``"auto"``.
        device: The device the step runs on.

    Returns:
        ``"off"``, ``"bf16"`` or ``"fp16"``.

    Example:
        >>> resolve_amp("fp16", "cpu"), resolve_amp("off", "cuda")
        ('fp16', 'off')
    """
    if amp != "auto":
        return amp
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "off"
    if kind == "cpu":
        return "bf16" if cpu_has_bf16_dot() and onednn_allows_bf16_dot() else "off"
    return "off"


def apply_backend_flags(config: TrainConfig, device: torch.device | str) -> dict[str, bool]:
    """Switch on the process-wide CUDA speed flags that ``config`` asks for.

    On a CUDA device, ``config.cudnn_benchmark`` sets ``torch.backends.cudnn.benchmark``
    (cuDNN times its convolution algorithms for each new input shape and keeps the fastest)
    and ``config.tf32`` lets float32 matrix multiplications and convolutions use TF32 tensor
    cores (``torch.set_float32_matmul_precision("high")`` and
    ``torch.backends.cudnn.allow_tf32``). These are global settings of the process; flags
    that are off are left as they are, and nothing changes on other devices.

    Args:
        config: The run's config.
        device: The device the step runs on.

    Returns:
        The flags that were set, by name (empty off CUDA).
    """
    if torch.device(device).type != "cuda":
        return {}
    applied: dict[str, bool] = {}
    if config.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
        applied["cudnn_benchmark"] = True
    if config.tf32:
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True
        applied["tf32"] = True
    return applied


def _fused_supported(params: list[nn.Parameter]) -> bool:
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # pragma: no cover - older torch
        return False
    devices = set(_get_fused_kernels_supported_devices())
    return bool(params) and all(
        p.device.type in devices and p.dtype in (torch.float32, torch.float16, torch.bfloat16)
        for p in params
    )


def make_adam(
    params: Iterable[nn.Parameter], *, lr: float, betas: tuple[float, float]
) -> torch.optim.Adam:
    """Adam over ``params``, with the fused kernel when every parameter's device has one.

    The fused implementation updates all parameters in one kernel per device and takes the
    :class:`~torch.amp.GradScaler`'s inf check and scale as tensors, so a float16 step never
    copies them to the host. Same update rule as the default implementation, equal up to
    floating-point rounding. Devices without a fused kernel get torch's default choice
    (``foreach`` on CUDA).

    Args:
        params: The parameters to optimise (all on their final device).
        lr: Learning rate.
        betas: Adam's ``(beta1, beta2)``.

    Returns:
        The optimiser; ``optimizer.defaults["fused"]`` says which implementation it uses.
    """
    params = list(params)
    if _fused_supported(params):
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    return torch.optim.Adam(params, lr=lr, betas=betas)


def implementation_flags(optimizer: torch.optim.Optimizer) -> dict[str, object]:
    """The implementation switches of an optimiser (``fused``, ``foreach``, ...).

    Loading an optimiser state copies the saved hyper-parameter groups wholesale, including
    these switches; putting the live values back after a load keeps the implementation this
    trainer chose (a checkpoint from a fused run loads on a device without the fused kernel,
    and the other way round). They do not change the update rule.
    """
    keys = ("fused", "foreach", "capturable", "differentiable")
    return {k: optimizer.defaults[k] for k in keys if k in optimizer.defaults}


#: Module types known to treat every sample of a batch on its own (no statistics, state or
#: randomness shared across the batch beyond independent per-element draws).
_PER_SAMPLE_TYPES: tuple[type[nn.Module], ...] = (
    nn.Sequential,
    nn.ModuleList,
    nn.ModuleDict,
    nn.Identity,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.ReLU,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardtanh,
    nn.ReflectionPad2d,
    nn.ReplicationPad2d,
    nn.ZeroPad2d,
    nn.ConstantPad2d,
    nn.Upsample,
    nn.UpsamplingNearest2d,
    nn.UpsamplingBilinear2d,
    nn.PixelShuffle,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.Dropout,
    nn.Dropout2d,
    nn.Flatten,
)


@functools.cache
def _library_types() -> tuple[type[nn.Module], ...]:
    # The library's own blocks and networks: containers whose forward only composes their
    # children along the channel and spatial axes.
    from unpaired_i2i.models import blocks, discriminators, generators

    found: list[type[nn.Module]] = []
    for module in (blocks, discriminators, generators):
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, nn.Module):
                found.append(obj)
    return tuple(found)


def batch_independent(network: nn.Module) -> bool:
    """Whether ``network`` computes each sample of a batch independently of the others.

    True when every submodule is of a type known to be per-sample (convolutions,
    InstanceNorm, GroupNorm, LayerNorm, activations, padding, dropout, resampling and the
    library's own blocks and networks, by exact type) and none carries forward hooks or
    parametrizations. BatchNorm (which normalises with the batch's statistics), spectral
    normalisation (which advances its power iteration at every call) and unknown custom
    modules make it False, the safe answer.

    The trainer uses it to run two calls of one network as one call on the concatenated batch
    (``g_xy`` on the X batch and, for the identity term, on the Y batch; each discriminator
    on its real and fake batch): the same outputs, up to floating-point rounding, in fewer,
    larger kernel launches.

    Args:
        network: A generator or discriminator (a DDP wrapper is looked through).

    Returns:
        ``True`` if batching calls cannot change the result.

    Example:
        >>> from torch import nn
        >>> batch_independent(nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8)))
        True
        >>> batch_independent(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)))
        False
    """
    inner = getattr(network, "module", network)
    known = _PER_SAMPLE_TYPES + _library_types()
    for module in inner.modules():
        if type(module) not in known:
            return False
        if module._forward_hooks or module._forward_pre_hooks:
            return False
        if torch.nn.utils.parametrize.is_parametrized(module):
            return False
    return True


def compile_network(network: nn.Module, config: TrainConfig) -> nn.Module:
    """``torch.compile(network)`` with the config's ``compile_mode`` and ``compile_backend``.

    Shapes are compiled statically (``dynamic=False``): the training step always calls a
    network with the same few shapes, and static shapes give the fastest kernels and allow
    CUDA graphs. The returned module shares ``network``'s parameters and buffers; its
    ``state_dict`` keys gain an ``_orig_mod.`` prefix, so checkpoints keep using the plain
    module.

    Args:
        network: A network (or its DDP wrapper).
        config: The run's config.

    Returns:
        The compiled module.
    """
    mode = config.compile_mode if config.compile_backend == "inductor" else None
    compiled: nn.Module = torch.compile(  # type: ignore[assignment]
        network, mode=mode, backend=config.compile_backend, dynamic=False
    )
    return compiled
