"""Run-state persistence: what a checkpoint holds and how a run is put back exactly.

:class:`RunStatePersistence` is the part of :class:`~unpaired_i2i.CycleTrainer` that turns a
run into a checkpoint dict and back (:meth:`~RunStatePersistence.state_dict`,
:meth:`~RunStatePersistence.load_state_dict`, their file forms) and keeps the run's position:
every RNG in play (torch, CUDA, Python, NumPy, the data loader's generators), the position
inside the epoch, and the replay of an epoch's consumed batches on resume. Loading is
all-or-nothing: a checkpoint that fails part-way leaves the trainer as it was.
"""

from __future__ import annotations

import copy
import os
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch.optim.lr_scheduler import LRScheduler

from unpaired_i2i._io import StrPath
from unpaired_i2i.models.cyclegan import NETWORK_NAMES, CycleGAN
from unpaired_i2i.training import distributed
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint_file,
    save_checkpoint_file,
    validate_checkpoint,
)
from unpaired_i2i.training.config import TrainConfig, TrainerState
from unpaired_i2i.training.finite import FiniteTracker, NonFiniteLossError, check_finite_tensors
from unpaired_i2i.training.pool import ImagePool
from unpaired_i2i.training.speed import implementation_flags

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = [
    "OPERATIONAL_FIELDS",
    "RunStatePersistence",
    "data_generators",
    "seed_everything",
    "set_epoch",
]

# Config fields that do not change the math of a resumed run, so a checkpoint written with
# other values loads without a warning. ``seed`` is one: a resumed run restores every RNG
# (and the pools' generators) from the checkpoint and never reseeds.
# Checkpoint entries that differ between ranks: stored per rank under "ranks" as well.
_PER_RANK: tuple[str, ...] = ("pool_x", "pool_y", "rng")

OPERATIONAL_FIELDS = frozenset(
    {
        "log_every",
        "checkpoint_dir",
        "checkpoint_every",
        "keep_last",
        "seed",
        "compile",
        "compile_mode",
        "compile_backend",
        "cudnn_benchmark",
    }
)


def _numpy() -> Any:
    return sys.modules.get("numpy")


def seed_everything(seed: int) -> None:
    """Seed Python ``random``, torch (every device) and NumPy's global RNG (if imported)."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    np = _numpy()
    if np is not None:
        np.random.seed(seed % 2**32)


def data_generators(data: object) -> dict[str, torch.Generator]:
    """The ``torch.Generator`` objects of a DataLoader and its samplers, deduplicated."""
    sampler = getattr(data, "sampler", None)
    batch_sampler = getattr(data, "batch_sampler", None)
    candidates = (
        ("loader", getattr(data, "generator", None)),
        ("sampler", getattr(sampler, "generator", None)),
        ("batch_sampler", getattr(batch_sampler, "generator", None)),
        (
            "batch_sampler.sampler",
            getattr(getattr(batch_sampler, "sampler", None), "generator", None),
        ),
    )
    found: dict[str, torch.Generator] = {}
    seen: set[int] = set()
    for name, gen in candidates:
        if isinstance(gen, torch.Generator) and id(gen) not in seen:
            seen.add(id(gen))
            found[name] = gen
    return found


def set_epoch(data: object, epoch: int) -> None:
    """Call ``set_epoch`` on the data, its dataset and its samplers where they have one."""
    batch_sampler = getattr(data, "batch_sampler", None)
    targets = (
        data,
        getattr(data, "dataset", None),
        getattr(data, "sampler", None),
        batch_sampler,
        getattr(batch_sampler, "sampler", None),
    )
    seen: set[int] = set()
    for target in targets:
        method = getattr(target, "set_epoch", None)
        if target is not None and callable(method) and id(target) not in seen:
            seen.add(id(target))
            method(epoch)


class RunStatePersistence:
    """Checkpoints and the run's position, mixed into :class:`~unpaired_i2i.CycleTrainer`.

    Not used on its own: it reads the attributes the trainer sets up.
    """

    config: TrainConfig
    model: CycleGAN
    device: torch.device
    callbacks: list[Callback]
    state: TrainerState
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    scheduler_g: LRScheduler
    scheduler_d: LRScheduler
    pool_x: ImagePool
    pool_y: ImagePool
    scaler: torch.amp.GradScaler | None
    _finite: FiniteTracker
    _loaded: bool
    _data: object
    _epoch_start_rng: dict[str, Any] | None
    _pending_rng: tuple[dict[str, Any], dict[str, Any] | None] | None
    _dist: distributed.DistributedEnv

    def check_finite(self) -> None:
        """Raise if any loss since the start of tracking was NaN or infinite (one device sync).

        Under ``torchrun`` this is a collective (call it on every rank): a non-finite loss on
        any rank raises on every rank.

        Raises:
            NonFiniteLossError: Names the first bad step and its non-finite loss keys (on the
                other ranks: the rank and step where it happened).
        """
        if not self._dist.is_distributed:
            self._finite.check()
            return
        here = not self._finite.is_finite()
        if not distributed.any_true(here, self.device):
            return
        bad = distributed.all_gather_objects(self._finite.first_bad_step())
        self._finite.check()  # raises on the rank that saw it, with the keys
        rank, step = next((r, st) for r, st in enumerate(bad) if st >= 0)
        raise NonFiniteLossError(
            f"non-finite loss on rank {rank} at step {step}; training stopped on every rank, "
            "no checkpoint is written from this state",
            step=step,
            key=f"rank {rank}",
        )

    def _capture_rng(self) -> dict[str, Any]:
        snap: dict[str, Any] = {"torch": torch.get_rng_state()}
        version, internal, gauss = random.getstate()
        snap["python"] = (version, tuple(internal), gauss)
        if self.device.type == "cuda":
            snap["cuda"] = list(torch.cuda.get_rng_state_all())
        np = _numpy()
        if np is not None:
            name, keys, pos, has_gauss, cached = np.random.get_state()
            snap["numpy"] = {
                "algorithm": str(name),
                "keys": torch.from_numpy(keys.astype(np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            }
        gens = data_generators(self._data)
        if gens:
            snap["data"] = {name: gen.get_state() for name, gen in gens.items()}
        return snap

    def _restore_rng(self, snap: Mapping[str, Any]) -> None:
        torch.set_rng_state(snap["torch"])
        version, internal, gauss = snap["python"]
        random.setstate((int(version), tuple(int(v) for v in internal), gauss))
        if "cuda" in snap and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(list(snap["cuda"]))
        np = _numpy()
        if "numpy" in snap and np is not None:
            st = snap["numpy"]
            np.random.set_state(
                (
                    st["algorithm"],
                    st["keys"].numpy().astype(np.uint32),
                    int(st["pos"]),
                    int(st["has_gauss"]),
                    float(st["cached_gaussian"]),
                )
            )
        gens = data_generators(self._data)
        for name, gen_state in dict(snap.get("data", {})).items():
            if name in gens:
                gens[name].set_state(gen_state)

    def _begin_epoch(self, data: Iterable[Any]) -> Iterator[Any]:
        """Create the epoch's iterator, replaying the consumed batches of a resumed epoch."""
        state = self.state
        pending, self._pending_rng = self._pending_rng, None
        if state.batch_in_epoch == 0:
            if pending is not None:
                self._restore_rng(pending[0])
            self._epoch_start_rng = self._capture_rng()
            return iter(data)
        # Resume inside the epoch: replay the epoch's RNG from its start, fetch (not train on)
        # the batches already consumed, then continue from the RNG state at the interruption.
        if pending is not None:
            current, start = pending
        else:  # continuing in memory after an earlier fit stopped inside the epoch
            current, start = self._capture_rng(), self._epoch_start_rng
        if start is None:
            warnings.warn(
                f"resuming inside epoch {state.epoch} at batch {state.batch_in_epoch} without the "
                "RNG state of the epoch's start; the skipped batches are not replayed exactly",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            self._restore_rng(start)
        self._epoch_start_rng = start
        iterator = iter(data)
        for i in range(state.batch_in_epoch):
            try:
                next(iterator)
            except StopIteration:
                raise ValueError(
                    f"cannot resume epoch {state.epoch} at batch {state.batch_in_epoch}: the data "
                    f"yields only {i} batches per epoch"
                ) from None
        self._restore_rng(current)
        return iterator

    def state_dict(self) -> dict[str, Any]:
        """Return the full training checkpoint (what :meth:`save_checkpoint` writes).

        Top-level keys: ``meta`` (``library_version``, ``torch_version``, ``world_size``,
        ``format_version``, ``model_config``: the architecture from
        :meth:`CycleGAN.get_config`, or ``None`` for custom networks), ``config``
        (:meth:`TrainConfig.to_dict`), ``model`` (the state
        dicts of ``g_xy``, ``g_yx``, ``d_x``, ``d_y``), ``optimizer_g``, ``optimizer_d``,
        ``scheduler_g``, ``scheduler_d``, ``grad_scaler`` (``None`` unless fp16), ``pool_x``,
        ``pool_y``, ``rng`` (``current`` and, inside an epoch, ``epoch_start``: torch CPU,
        CUDA, Python, NumPy and data-loader generator states), ``trainer``
        (:class:`TrainerState`; at an epoch end it already points at the next epoch) and
        ``callbacks`` (states by ``state_key``); callbacks may add keys in
        ``on_checkpoint_save``. Only tensors and plain Python values.

        Returns:
            The checkpoint dict (tensors are shared with the live objects, not copied).

        Raises:
            NonFiniteLossError: A loss or a tensor in the checkpoint is NaN or infinite.
        """
        from unpaired_i2i import __version__

        self.check_finite()
        state = self.state
        position = state.state_dict()
        if state.epoch_complete:
            position.update(epoch=state.epoch + 1, batch_in_epoch=0, epoch_complete=False)
        mid_epoch = position["batch_in_epoch"] > 0
        checkpoint: dict[str, Any] = {
            "meta": {
                "library_version": str(__version__),
                "torch_version": str(torch.__version__),
                "world_size": int(self._dist.world_size),
                "format_version": FORMAT_VERSION,
                "model_config": self._model_config(),
            },
            "config": self.config.to_dict(),
            **self._training_parts(),
            "rng": {
                "current": self._capture_rng(),
                "epoch_start": self._epoch_start_rng if mid_epoch else None,
            },
            "trainer": position,
            "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks},
        }
        if self._dist.is_distributed:
            # What differs between ranks: each rank's pools and RNG, so that every rank
            # resumes with its own (top-level entries are rank 0's).
            own = {key: checkpoint[key] for key in _PER_RANK}
            checkpoint["ranks"] = distributed.all_gather_objects(own)
        for cb in self.callbacks:
            cb.on_checkpoint_save(cast("CycleTrainer", self), checkpoint)
        check_finite_tensors(checkpoint, step=self.state.step, device=self.device, skip=("rng",))
        return checkpoint

    def _model_config(self) -> dict[str, dict[str, Any]] | None:
        """The architecture for :func:`load_cyclegan`, or ``None`` for custom networks."""
        get_config = getattr(self.model, "get_config", None)
        if get_config is None:
            return None
        try:
            config: dict[str, dict[str, Any]] = get_config()
        except (TypeError, ValueError):
            return None
        return config

    def _check_fits(self, checkpoint: Mapping[str, Any], where: str) -> None:
        """Refuse a checkpoint of another layout before anything is loaded."""
        problems: list[str] = []
        try:
            for name in NETWORK_NAMES:
                ours = getattr(self.model, name).state_dict()
                theirs = checkpoint["model"][name]
                missing = sorted(set(ours) - set(theirs))
                unexpected = sorted(set(theirs) - set(ours))
                if missing or unexpected:
                    problems.append(f"{name}: missing keys {missing}, unexpected keys {unexpected}")
                    continue
                for key, value in ours.items():
                    if tuple(theirs[key].shape) != tuple(value.shape):
                        problems.append(
                            f"{name}.{key}: shape {tuple(theirs[key].shape)} in the checkpoint, "
                            f"{tuple(value.shape)} here"
                        )
            for key, pool in (("pool_x", self.pool_x), ("pool_y", self.pool_y)):
                size = int(checkpoint[key]["size"])
                if size != pool.size:
                    problems.append(
                        f"{key} has size {size}; this trainer's pool has size {pool.size}"
                    )
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            problems.append(f"malformed entry ({type(err).__name__}: {err})")
        if problems:
            raise CheckpointError(
                f"checkpoint {where} does not fit this trainer: " + "; ".join(problems[:5])
            )

    def save_checkpoint(self, path: StrPath) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically.

        Args:
            path: Destination file (parent folders are created).

        Returns:
            ``path`` as a :class:`~pathlib.Path`.

        Raises:
            NonFiniteLossError: A loss or a tensor is NaN or infinite; nothing is written.
            CheckpointError: Writing failed; an existing file at ``path`` is untouched.

        Under ``torchrun`` every rank must call it at the same point: it gathers each rank's
        image pools and RNG states into the checkpoint (``checkpoint["ranks"]``), rank 0 writes
        the file and the other ranks wait for it.
        """
        checkpoint = self.state_dict()
        if not self._dist.is_distributed:
            return save_checkpoint_file(checkpoint, path)
        # A collective under torchrun: every rank contributes its state, rank 0 writes, and
        # the others wait until the file is there.
        if self._dist.is_global_zero:
            save_checkpoint_file(checkpoint, path)
        distributed.barrier()
        return Path(os.fspath(path))

    def load_checkpoint(self, path: StrPath) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` into this trainer.

        Build the trainer as for the original run (same model layout, config and callbacks),
        then call this and :meth:`fit` with the same data: training continues at the next
        batch and ends exactly as the uninterrupted run would have. The file is read with
        ``weights_only=True`` (no code from it runs).

        Args:
            path: The checkpoint file.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            CheckpointError: The file is not a readable training checkpoint or does not fit
                this trainer (e.g. another network layout or pool size); names the file.
        """
        checkpoint = load_checkpoint_file(path, map_location="cpu")
        self.load_state_dict(checkpoint, source=path)

    def load_state_dict(
        self, checkpoint: Mapping[str, Any], *, source: StrPath = "<state dict>"
    ) -> None:
        """Restore a checkpoint dict produced by :meth:`state_dict` (see :meth:`load_checkpoint`).

        Args:
            checkpoint: The checkpoint.
            source: Where it came from, named in errors.

        Raises:
            CheckpointError: The checkpoint does not fit this trainer.
        """
        where = os.fspath(source)
        validate_checkpoint(checkpoint, where)
        checkpoint = self._own_view(checkpoint, where)
        self._check_fits(checkpoint, where)
        backup = self._backup()
        touched: list[Callback] = []
        part = "model"
        try:
            for name, load in self._part_loaders():
                part = name  # named in the error if this load fails
                load(checkpoint)
            part = "trainer"
            self.state.load_state_dict(checkpoint["trainer"])
            part = "rng"
            rng = checkpoint["rng"]
            current, epoch_start = rng["current"], rng.get("epoch_start")
            self._restore_rng(current)
            stored = dict(checkpoint["callbacks"])
            for cb in self.callbacks:
                if cb.state_key in stored:
                    part = f"callback {cb.state_key!r}"
                    touched.append(cb)
                    cb.load_state_dict(stored.pop(cb.state_key))
        except Exception as err:
            unrestored = self._roll_back(backup, touched)
            outcome = (
                "nothing was loaded"
                if not unrestored
                else "the trainer was restored except callbacks " + ", ".join(unrestored)
            )
            raise CheckpointError(
                f"checkpoint {where} does not fit this trainer: {part}: "
                f"{type(err).__name__}: {err}; {outcome}"
            ) from err
        self.state.epoch_complete = False
        self.state.should_stop = False
        self._pending_rng = (current, epoch_start)
        self._epoch_start_rng = epoch_start
        self._finite.reset()
        self._loaded = True

        unclaimed = sorted(k for k, v in stored.items() if v)
        if unclaimed:
            warnings.warn(
                f"checkpoint {where} holds callback states no callback claims: {unclaimed}",
                UserWarning,
                stacklevel=2,
            )
        saved_cfg = dict(checkpoint["config"])
        ours = self.config.to_dict()
        changed = sorted(
            k
            for k in ours
            if k not in OPERATIONAL_FIELDS
            and k in saved_cfg
            and _norm(saved_cfg[k]) != _norm(ours[k])
        )
        if changed:
            diff = ", ".join(f"{k}: {saved_cfg[k]!r} -> {ours[k]!r}" for k in changed)
            warnings.warn(
                f"checkpoint {where} was written with another config ({diff}); "
                "training continues with this trainer's config",
                UserWarning,
                stacklevel=2,
            )
        for cb in self.callbacks:
            cb.on_checkpoint_load(cast("CycleTrainer", self), checkpoint)

    def _own_view(self, checkpoint: Mapping[str, Any], where: str) -> Mapping[str, Any]:
        """The checkpoint as this rank resumes it: with its own pools and RNG where stored.

        A checkpoint of another world size loads too, with one warning: rank ``r`` takes the
        pools and RNG of saved rank ``r % saved_world_size``, so the data order and the pools'
        draws do not continue exactly.
        """
        saved = int(checkpoint["meta"].get("world_size", 1) or 1)
        world, rank = self._dist.world_size, self._dist.rank
        if saved != world and self._dist.is_global_zero:
            warnings.warn(
                f"checkpoint {where} was written by {saved} process(es), this run has {world}: "
                "it resumes from the same weights, optimiser and schedule, but each rank takes "
                f"the image pools and RNG of saved rank (rank % {saved}), so the data order and "
                "pool draws do not continue exactly",
                UserWarning,
                stacklevel=3,
            )
        ranks = checkpoint.get("ranks")
        if not isinstance(ranks, list) or not ranks:
            return checkpoint
        own = ranks[rank % len(ranks)]
        return {**checkpoint, **{key: own[key] for key in _PER_RANK if key in own}}

    def _training_parts(self) -> dict[str, Any]:
        """The checkpoint entries of the networks, optimisers, schedulers, scaler and pools.

        The tensors are the live ones, not copies.
        """
        return {
            "model": {name: getattr(self.model, name).state_dict() for name in NETWORK_NAMES},
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "scheduler_g": self.scheduler_g.state_dict(),
            "scheduler_d": self.scheduler_d.state_dict(),
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "pool_x": self.pool_x.state_dict(),
            "pool_y": self.pool_y.state_dict(),
        }

    def _part_loaders(self) -> list[tuple[str, Callable[[Mapping[str, Any]], object]]]:
        """``(name, load)`` for each entry of :meth:`_training_parts`, in loading order.

        Each ``load`` takes a whole checkpoint (or backup) dict and restores its part.
        """

        def network(name: str) -> Callable[[Mapping[str, Any]], object]:
            return lambda parts: getattr(self.model, name).load_state_dict(parts["model"][name])

        def stateful(name: str) -> Callable[[Mapping[str, Any]], object]:
            return lambda parts: getattr(self, name).load_state_dict(parts[name])

        def optimizer(name: str) -> Callable[[Mapping[str, Any]], object]:
            def load(parts: Mapping[str, Any]) -> None:
                optim: torch.optim.Optimizer = getattr(self, name)
                # A saved state brings its run's implementation switches (fused, foreach)
                # along; keep this trainer's (same update rule, maybe another device).
                flags = implementation_flags(optim)
                optim.load_state_dict(parts[name])
                for group in optim.param_groups:
                    group.update(flags)

            return load

        def scaler(parts: Mapping[str, Any]) -> None:
            if self.scaler is not None and parts["grad_scaler"] is not None:
                self.scaler.load_state_dict(parts["grad_scaler"])

        def pool(name: str) -> Callable[[Mapping[str, Any]], object]:
            def load(parts: Mapping[str, Any]) -> None:
                state = dict(parts[name])
                state["images"] = [torch.as_tensor(im).to(self.device) for im in state["images"]]
                getattr(self, name).load_state_dict(state)

            return load

        return [
            *((name, network(name)) for name in NETWORK_NAMES),
            *((name, optimizer(name)) for name in ("optimizer_g", "optimizer_d")),
            *((name, stateful(name)) for name in ("scheduler_g", "scheduler_d")),
            ("grad_scaler", scaler),
            ("pool_x", pool("pool_x")),
            ("pool_y", pool("pool_y")),
        ]

    def _backup(self) -> dict[str, Any]:
        """Copies of everything :meth:`load_state_dict` overwrites (for :meth:`_roll_back`)."""
        parts = {
            **self._training_parts(),
            "trainer": self.state.state_dict(),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
        }
        backup: dict[str, Any] = copy.deepcopy(parts)
        backup["callbacks"] = list(zip(self.callbacks, backup["callbacks"], strict=True))
        backup["rng"] = self._capture_rng()
        return backup

    def _roll_back(self, backup: Mapping[str, Any], callbacks: list[Callback]) -> list[str]:
        """Put back what :meth:`_backup` copied after a load failed part-way.

        Only ``callbacks`` (those whose states the load reached) get their states back.

        Returns:
            The ``state_key`` of each of those callbacks that refused its own earlier state.
        """
        for _, load in self._part_loaders():
            load(backup)
        self.state.load_state_dict(backup["trainer"])
        self._restore_rng(backup["rng"])
        unrestored: list[str] = []
        for cb, cb_state in backup["callbacks"]:
            if any(cb is other for other in callbacks):
                try:
                    cb.load_state_dict(cb_state)
                except Exception:
                    unrestored.append(repr(cb.state_key))
        return unrestored


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
