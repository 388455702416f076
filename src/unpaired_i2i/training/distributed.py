"""Multi-process training through :mod:`torch.distributed`, as launched by ``torchrun``.

A :class:`~unpaired_i2i.CycleTrainer` created in a process that ``torchrun`` started (the
environment holds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``, with ``WORLD_SIZE > 1``) joins
the process group on its own: NCCL when CUDA is present (each rank on ``cuda:LOCAL_RANK``),
Gloo on the CPU, and leaves it when the interpreter exits (:func:`destroy_group`, registered
with :mod:`atexit`): a process that ends with the group still joined can abort in the group's
teardown (``terminate called without an active exception``, exit code -6) after its work is
done, which fails the whole ``torchrun`` job. A process group the user initialised is used as
it is, and left to the user to destroy. This module holds the
small pieces the trainer and the built-in callbacks share: reading the environment, joining the
group, and the few collectives the trainer needs outside DDP's own gradient all-reduce.
"""

from __future__ import annotations

import atexit
import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

__all__ = [
    "DistributedEnv",
    "all_gather_objects",
    "any_true",
    "barrier",
    "destroy_group",
    "detect",
    "from_rank_zero",
    "init_from_env",
    "mean_across_ranks",
    "shard_loader",
]


_T = TypeVar("_T")


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process stands in a multi-process run.

    Attributes:
        rank: Global rank, ``0 <= rank < world_size``.
        world_size: Number of processes in the run (1: not distributed).
        local_rank: Rank on this machine (the CUDA device index under ``torchrun``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_global_zero(self) -> bool:
        """Whether this is rank 0, the process that writes files and prints."""
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an integer (as torchrun sets it); got {text!r}"
        ) from None


def detect(environ: Mapping[str, str] | None = None) -> DistributedEnv:
    """Read the run's layout from an initialised process group, else from the environment.

    Args:
        environ: The environment (default: ``os.environ``); ``RANK``, ``WORLD_SIZE`` and
            ``LOCAL_RANK`` as ``torchrun`` sets them.

    Returns:
        The layout; ``DistributedEnv()`` (rank 0 of 1) outside a multi-process run.

    Raises:
        ValueError: A variable is not an integer or the ranks are inconsistent.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = _env_int(os.environ if environ is None else environ, "LOCAL_RANK", rank)
        return DistributedEnv(rank=rank, world_size=world, local_rank=local)
    env = os.environ if environ is None else environ
    world = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local = _env_int(env, "LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(
            f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}, "
            f"LOCAL_RANK={local} (expected 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0)"
        )
    return DistributedEnv(rank=rank, world_size=world, local_rank=local)


def init_from_env(
    device: torch.device | str | None, *, timeout_s: float = 1800.0
) -> tuple[DistributedEnv, torch.device | None]:
    """Join the process group ``torchrun`` describes, unless there is none or it is joined.

    A group joined here is destroyed at interpreter exit (:func:`destroy_group` through
    :mod:`atexit`; calling it earlier is fine), so a script that trains and returns exits
    cleanly; a group that was already joined is left as it is.

    Args:
        device: The device the user asked for, or ``None``. Under ``torchrun`` with CUDA and
            ``device`` ``None`` or ``"cuda"``, the rank trains on ``cuda:LOCAL_RANK``.
        timeout_s: How long a collective may wait for the other ranks before failing.

    Returns:
        ``(env, device)``: the layout and the device to train on (``None`` where the caller's
        default applies).

    Raises:
        RuntimeError: ``torch.distributed`` is not available in this build of torch.
    """
    env = detect()
    if not env.is_distributed:
        return env, None if device is None else torch.device(device)
    if not dist.is_available():
        raise RuntimeError(
            f"WORLD_SIZE={env.world_size} asks for a multi-process run, but this build of torch "
            "has no torch.distributed"
        )
    wanted = None if device is None else torch.device(device)
    if torch.cuda.is_available() and (wanted is None or wanted == torch.device("cuda")):
        wanted = torch.device("cuda", env.local_rank)
    if wanted is not None and wanted.type == "cuda":
        torch.cuda.set_device(wanted)
    if not dist.is_initialized():
        backend = "nccl" if wanted is not None and wanted.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
        # torch's own teardown of a group still joined at exit can std::terminate (exit -6)
        atexit.register(destroy_group)
        env = detect()
    return env, wanted


def barrier() -> None:
    """Wait for every rank (a no-op outside a multi-process run)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def mean_across_ranks(values: torch.Tensor) -> torch.Tensor:
    """Average a tensor over the ranks (in place, and returned); unchanged in one process."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values.div_(dist.get_world_size())
    return values


def any_true(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any rank (one all-reduce); ``flag`` in one process."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def from_rank_zero(obj: _T) -> _T:
    """Rank 0's ``obj`` on every rank (a collective every rank must reach); ``obj`` in one."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return obj
    box: list[Any] = [_to_cpu(obj)]
    dist.broadcast_object_list(box, src=0)
    chosen: _T = box[0]
    return chosen


def all_gather_objects(obj: Any) -> list[Any]:
    """Each rank's ``obj`` (tensors moved to the CPU), in rank order; ``[obj]`` in one process."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, _to_cpu(obj))
    return out


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, Mapping):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def shard_loader(
    loader: DataLoader[Any], *, rank: int, world_size: int, seed: int
) -> DataLoader[Any]:
    """The same loader over this rank's shard of the dataset, as Lightning rebuilds it.

    The new loader keeps the dataset, batch size, workers, collate function, pinning,
    ``drop_last`` and the other options; its sampler is a
    :class:`~torch.utils.data.DistributedSampler` that shuffles (with ``seed`` and the epoch
    that ``set_epoch`` gives it) when the original sampler was a ``RandomSampler``.

    Args:
        loader: A map-style loader with a plain sampler.
        rank: This process's rank.
        world_size: Number of processes.
        seed: Shuffling seed, the same on every rank.

    Returns:
        The sharded loader: ``len(dataset) / world_size`` samples per epoch on each rank.
    """
    sampler: DistributedSampler[Any] = DistributedSampler(
        loader.dataset,
        num_replicas=world_size,
        rank=rank,
        shuffle=isinstance(loader.sampler, RandomSampler),
        seed=seed,
        drop_last=loader.drop_last,
    )
    options: dict[str, Any] = {
        "batch_size": loader.batch_size,
        "num_workers": loader.num_workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "generator": loader.generator,
        "persistent_workers": loader.persistent_workers,
    }
    if loader.num_workers > 0:
        options["prefetch_factor"] = loader.prefetch_factor
        options["multiprocessing_context"] = loader.multiprocessing_context
    return DataLoader(loader.dataset, sampler=sampler, **options)


def destroy_group() -> None:
    """Leave and tear down the process group, if one is joined.

    After an error this makes every other rank fail at once instead of waiting in a
    collective for this one; after a successful run it is the orderly shutdown.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
