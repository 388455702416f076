"""The training loop users construct and subclass: :class:`CycleTrainer`.

The trainer is assembled from three rooms, each small enough to read at once:

- :mod:`~unpaired_i2i.training.objective`: the CycleGAN math (generator forward, generator
  and discriminator losses, one update), the part users override;
- this module: construction, the run loop (``fit``, epochs, steps, callback hooks, stop);
- :mod:`~unpaired_i2i.training.run_state`: checkpoints and the run's position (RNG capture
  and restore, data position, all-or-nothing loading).

:class:`TrainConfig`, :class:`TrainerState` (:mod:`~unpaired_i2i.training.config`),
:data:`LOSS_KEYS` and :class:`NonFiniteLossError` are re-exported here for code that imported
them from this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset

from unpaired_i2i._checks import check_choice
from unpaired_i2i.models.cyclegan import NETWORK_NAMES, CycleGAN
from unpaired_i2i.training import distributed
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.config import AmpMode, TrainConfig, TrainerState, default_callbacks
from unpaired_i2i.training.finite import FiniteTracker, NonFiniteLossError
from unpaired_i2i.training.objective import LOSS_KEYS, CycleObjective, Networks
from unpaired_i2i.training.pool import ImagePool
from unpaired_i2i.training.run_state import RunStatePersistence, seed_everything, set_epoch
from unpaired_i2i.training.schedules import linear_decay_lambda
from unpaired_i2i.training.speed import (
    ResolvedAmp,
    apply_backend_flags,
    batch_independent,
    compile_network,
    make_adam,
    resolve_amp,
)

__all__ = [
    "LOSS_KEYS",
    "AmpMode",
    "CycleTrainer",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainerState",
]


class CycleTrainer(CycleObjective, RunStatePersistence):
    """Train a :class:`~unpaired_i2i.CycleGAN` the reference way, with exact resume.

    One Adam optimiser for both generators (``g_xy`` then ``g_yx``), one for both
    discriminators, each with a :class:`~torch.optim.lr_scheduler.LambdaLR` following
    :func:`~unpaired_i2i.training.schedules.linear_decay_factor` and stepped after every
    completed epoch; two :class:`ImagePool` (seeded ``seed`` and ``seed + 1``). The model is moved
    to ``device`` (and to ``channels_last`` if configured) on construction.

    :meth:`save_checkpoint` / :meth:`load_checkpoint` store and restore everything that
    influences the rest of a run: networks, optimisers, schedulers, grad scaler, image pools,
    every RNG in play, the position inside the epoch and the callbacks' states. A run
    interrupted and resumed from a checkpoint ends with bitwise the same weights as an
    uninterrupted one on the CPU (on CUDA as far as the kernels are deterministic).

    Extending: subclass :class:`Callback` for anything around the step; subclass the trainer
    and override :meth:`generator_forward`, :meth:`compute_generator_loss` or
    :meth:`compute_discriminator_loss` to change the math, or :meth:`unpack_batch` for other
    batch layouts. Those methods live in :class:`~unpaired_i2i.training.objective.CycleObjective`,
    checkpointing in :class:`~unpaired_i2i.training.run_state.RunStatePersistence`; this class
    adds construction and the loop. In float32 and bf16 the step (:meth:`train_step`) never
    waits for the device; with ``amp="fp16"`` the gradient scaler reads its inf check on the
    host at each of the two optimiser steps.

    Args:
        model: The four networks.
        config: Hyper-parameters (default: ``TrainConfig()``, the reference's).
        callbacks: Callbacks, called in this order, except that those that write checkpoints
            (:attr:`Callback.writes_checkpoints`, e.g. :class:`ModelCheckpoint`) are called
            after the others. A :class:`ModelCheckpoint` is appended when
            ``config.checkpoint_dir`` is set and none for that folder is given.
        device: Where to train; ``None`` picks CUDA when available, else the CPU.

    Raises:
        TypeError: ``model`` is not a :class:`CycleGAN` or a callback is not a
            :class:`Callback`.
        ValueError: Two callbacks share a ``state_key`` (named in the message).

    Example:
        >>> import torch
        >>> from unpaired_i2i import CycleGAN, CycleTrainer, TrainConfig
        >>> _ = torch.manual_seed(0)
        >>> model = CycleGAN.from_preset("cyclegan", base_channels=4, n_blocks=1,
        ...     discriminator_overrides={"base_channels": 4, "n_layers": 1})
        >>> data = [(torch.rand(1, 3, 8, 8) * 2 - 1, torch.rand(1, 3, 8, 8) * 2 - 1)] * 3
        >>> trainer = CycleTrainer(model, TrainConfig(epochs=1, decay_epochs=1, pool_size=2),
        ...     device="cpu")
        >>> state = trainer.fit(data)
        >>> state.epoch, state.step
        (2, 6)
        >>> losses = trainer.train_step(*data[0])
        >>> list(losses) == list(LOSS_KEYS), losses["g_total"].shape
        (True, torch.Size([]))
    """

    def __init__(
        self,
        model: CycleGAN,
        config: TrainConfig | None = None,
        *,
        callbacks: Iterable[Callback] = (),
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(model, CycleGAN):
            raise TypeError(f"model must be a CycleGAN; got {type(model).__name__}")
        if config is None:
            config = TrainConfig()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig or None; got {type(config).__name__}")
        self.config = config
        # Under torchrun: join the process group (NCCL on CUDA, Gloo on the CPU) and take
        # cuda:LOCAL_RANK; in one process this changes nothing.
        self._dist, chosen = distributed.init_from_env(device)
        if chosen is None:
            chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.device = chosen
        self.amp: ResolvedAmp = resolve_amp(config.amp, self.device)
        apply_backend_flags(config, self.device)
        self.model = model.to(self.device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.networks = self._wrap_networks()
        # Calls sharing weights are batched only where no layer mixes samples (no BatchNorm).
        self._batch_generators = all(map(batch_independent, self.model.generators))
        self._batch_discriminators = all(map(batch_independent, self.model.discriminators))

        given = list(callbacks)
        for cb in given:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")
        self.callbacks: list[Callback] = default_callbacks(config, given)
        self._check_callbacks()

        self.optimizer_g = make_adam(
            [*self.model.g_xy.parameters(), *self.model.g_yx.parameters()],
            lr=config.lr,
            betas=config.betas,
        )
        self.optimizer_d = make_adam(
            [*self.model.d_x.parameters(), *self.model.d_y.parameters()],
            lr=config.discriminator_lr,
            betas=config.betas,
        )
        rule = linear_decay_lambda(config.epochs, config.decay_epochs)
        self.scheduler_g = LambdaLR(self.optimizer_g, rule)
        self.scheduler_d = LambdaLR(self.optimizer_d, rule)
        # The pools stay per rank (each holds its own rank's fakes), seeded apart.
        rank = self._dist.rank
        self.pool_x = ImagePool(config.pool_size, seed=config.seed + 2 * rank)
        self.pool_y = ImagePool(config.pool_size, seed=config.seed + 2 * rank + 1)
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler(self.device.type) if self.amp == "fp16" else None
        )
        self.state = TrainerState()

        # Discriminator parameters toggled off during the generator update (only those that
        # were trainable to begin with).
        self._d_params = [
            p
            for net in (self.model.d_x, self.model.d_y)
            for p in net.parameters()
            if p.requires_grad
        ]
        self._loaded = False
        self._data: object = None
        self._epoch_start_rng: dict[str, Any] | None = None
        self._pending_rng: tuple[dict[str, Any], dict[str, Any] | None] | None = None
        self._finite = FiniteTracker()

    # ------------------------------------------------------------------------ processes
    def _wrap_networks(self) -> Networks:
        """The networks as the step calls them: DDP-wrapped (each separately) under torchrun.

        DDP broadcasts rank 0's parameters and buffers when it wraps, so every rank starts
        from the same weights whatever its own initialisation drew.
        """
        if self._dist.is_distributed and self.config.sync_batchnorm:
            if self.device.type != "cuda":
                raise ValueError(
                    "TrainConfig.sync_batchnorm needs CUDA devices (torch's SyncBatchNorm runs "
                    f"on GPUs only); this rank trains on {self.device}"
                )
            # Replaces the BatchNorm layers in place, keeping their parameters and statistics.
            nn.SyncBatchNorm.convert_sync_batchnorm(self.model)  # type: ignore[no-untyped-call]
        nets = {name: getattr(self.model, name) for name in NETWORK_NAMES}
        frozen = {"frozen_d_x": self.model.d_x, "frozen_d_y": self.model.d_y}
        if self._dist.is_distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            nets = {
                name: DistributedDataParallel(net, device_ids=ids) for name, net in nets.items()
            }
        if self.config.compile:
            # Each network separately: a compiled whole step would break at the requires_grad
            # toggles and the two backward passes. Evaluation calls (callbacks, inference)
            # use self.model, so they never trigger a recompile of the training graphs.
            nets = {name: compile_network(net, self.config) for name, net in nets.items()}
            frozen = {name: compile_network(net, self.config) for name, net in frozen.items()}
        return Networks(**nets, **frozen)

    def inference_generator(self, direction: str) -> nn.Module:
        """The generator to evaluate and export for ``direction``.

        The averaged weights when an :class:`~unpaired_i2i.EMA` callback (or any callback
        whose :meth:`Callback.inference_generator` offers one; the last such callback wins) has
        averaged something, else the trained generator itself (``model.g_xy`` / ``model.g_yx``:
        never a compiled or DDP wrapper). The module is returned as is, in whatever train/eval
        mode it is in (:func:`~unpaired_i2i.translate` and :func:`~unpaired_i2i.evaluate_paired`
        switch to eval mode themselves).

        Args:
            direction: ``"xy"`` (X to Y, G) or ``"yx"`` (Y to X, F).

        Returns:
            A generator mapping ``(N, C_x, H, W)`` in ``[-1, 1]`` to ``(N, C_y, H, W)`` in
            ``[-1, 1]`` for ``"xy"`` (the other way for ``"yx"``).

        Raises:
            ValueError: ``direction`` is not ``"xy"`` or ``"yx"``.

        Example:
            >>> from unpaired_i2i import recipe
            >>> spec = recipe("reference", n_blocks=1, base_channels=8)
            >>> trainer = CycleTrainer(spec.model, spec.config, device="cpu")
            >>> trainer.inference_generator("xy") is spec.model.g_xy
            True
        """
        check_choice("direction", direction, ("xy", "yx"))
        for callback in reversed(self.callbacks):
            offered = callback.inference_generator(self, direction)
            if offered is not None:
                return offered
        return self.model.g_xy if direction == "xy" else self.model.g_yx

    @property
    def world_size(self) -> int:
        """Number of processes training together (1 outside ``torchrun``)."""
        return self._dist.world_size

    @property
    def global_rank(self) -> int:
        """This process's rank, ``0 <= global_rank < world_size``."""
        return self._dist.rank

    @property
    def is_global_zero(self) -> bool:
        """Whether this is rank 0: the process that writes files and prints (always in one)."""
        return self._dist.is_global_zero

    def _distribute(self, data: Iterable[Any]) -> Iterable[Any]:
        """Shard a ``DataLoader`` over the ranks with a ``DistributedSampler`` (see config)."""
        if (
            not self._dist.is_distributed
            or not self.config.use_distributed_sampler
            or not isinstance(data, DataLoader)
            or isinstance(data.sampler, DistributedSampler)
            or isinstance(data.dataset, IterableDataset)
        ):
            return data
        return distributed.shard_loader(
            data,
            rank=self._dist.rank,
            world_size=self._dist.world_size,
            seed=self.config.seed,
        )

    # ------------------------------------------------------------------------ callbacks
    def _check_callbacks(self) -> None:
        keys = [cb.state_key for cb in self.callbacks]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(
                f"callbacks must have unique state_key values; duplicated: {duplicates} "
                "(override Callback.state_key to tell instances apart)"
            )

    def _hook_order(self) -> list[Callback]:
        """``callbacks`` in calling order: those that write checkpoints last (stable)."""
        return sorted(self.callbacks, key=lambda cb: bool(cb.writes_checkpoints))

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self._hook_order():
            getattr(cb, hook)(self, *args)

    def _notify_exception(self, exc: BaseException) -> None:
        """Call every callback's ``on_exception``; a handler that raises never hides ``exc``.

        A failing handler is reported as a warning (and, on Python 3.11+, as a note on
        ``exc``); the remaining callbacks are still called.
        """
        for cb in self._hook_order():
            try:
                cb.on_exception(self, exc)
            except Exception as err:
                message = (
                    f"{type(cb).__name__}.on_exception raised {type(err).__name__}: {err} "
                    f"while handling {type(exc).__name__}"
                )
                add_note = getattr(exc, "add_note", None)
                if callable(add_note):
                    add_note(message)
                warnings.warn(message, RuntimeWarning, stacklevel=3)

    @property
    def is_log_step(self) -> bool:
        """Whether the latest step refreshed ``state.last_losses`` (``step % log_every == 0``)."""
        return self.state.step > 0 and self.state.step % self.config.log_every == 0

    def _stop_requested(self) -> bool:
        s = self.state
        return s.should_stop or (s.max_steps is not None and s.step >= s.max_steps)

    def fit(
        self, data: Iterable[Any], *, epochs: int | None = None, max_steps: int | None = None
    ) -> TrainerState:
        """Train until ``epochs`` epochs or ``max_steps`` steps in total, or a stop request.

        Both limits count from the start of training, so after :meth:`load_checkpoint` (or an
        earlier ``fit``) a call finishes the run where it left off. A fresh run (nothing
        trained or loaded yet) first seeds torch, Python ``random`` and NumPy (if imported)
        with ``config.seed``. Each epoch calls ``set_epoch(epoch)`` on the data, its dataset
        and its sampler where they have one. Losses are copied to the host only every
        ``config.log_every`` steps (into ``state.last_losses``).

        Args:
            data: A re-iterable of ``(real_x, real_y)`` batches (a ``DataLoader`` or a list
                of tensor pairs); iterated once per epoch.
            epochs: Total epochs (default ``config.epochs + config.decay_epochs``).
            max_steps: Total steps (default: no limit).

        Returns:
            :attr:`state`.

        Raises:
            TypeError: ``data`` is an iterator (it must be re-iterable) or a batch is not a
                pair of tensors.
            ValueError: ``epochs`` / ``max_steps`` is negative, an epoch yielded no batches, or
                the data is shorter than the resumed position.
            NonFiniteLossError: A loss became NaN or infinite.
        """
        if isinstance(data, Iterator):
            raise TypeError(
                "fit needs re-iterable data (a DataLoader, a list of batches), not an iterator "
                f"({type(data).__name__}): it is iterated once per epoch"
            )
        for name, value in (("epochs", epochs), ("max_steps", max_steps)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name} must be None or an int >= 0; got {value!r}")
        self._check_callbacks()
        state = self.state
        state.max_epochs = self.config.total_epochs if epochs is None else epochs
        state.max_steps = max_steps
        state.should_stop = False
        data = self._distribute(data)
        self._data = data
        fresh = (
            not self._loaded and state.step == 0 and state.epoch == 0 and state.batch_in_epoch == 0
        )
        if fresh:
            # seed + rank: ranks draw different crops, flips and partners; the weights are the
            # same on every rank all the same (DDP broadcast them from rank 0).
            seed_everything(self.config.seed + self._dist.rank)
        try:
            self._call("on_fit_start")
            while state.epoch < state.max_epochs and not self._stop_requested():
                self._run_epoch(data)
            self.check_finite()
            self._call("on_fit_end")
        except BaseException as exc:
            self._notify_exception(exc)
            if self._dist.is_distributed:
                # The other ranks may be waiting in a collective for this one: tear the group
                # down so that they fail at once instead of waiting for the timeout.
                distributed.destroy_group()
            raise
        return state

    def _run_epoch(self, data: Iterable[Any]) -> None:
        state = self.state
        self._call("on_epoch_start")
        set_epoch(data, state.epoch)
        iterator = self._begin_epoch(data)
        completed = False
        while not self._stop_requested():
            try:
                batch = next(iterator)
            except StopIteration:
                completed = True
                break
            self._call("on_step_start", batch)
            real_x, real_y = self.unpack_batch(batch)
            losses = self.train_step(real_x, real_y)
            state.step += 1
            state.batch_in_epoch += 1
            self._finite.track(losses, state.step)
            if state.step % self.config.log_every == 0:
                self.check_finite()
                stacked = torch.stack([v.float() for v in losses.values()])
                values = distributed.mean_across_ranks(stacked).tolist()
                state.last_losses = dict(zip(losses, values, strict=True))
            self._call("on_step_end", batch, losses)
        del iterator  # shut DataLoader workers down before the epoch-end hooks
        if completed:
            if state.batch_in_epoch == 0:
                raise ValueError(
                    f"the data yielded no batches in epoch {state.epoch}; fit needs at least one "
                    "batch per epoch"
                )
            self.scheduler_g.step()
            self.scheduler_d.step()
            state.epoch_complete = True
        self._call("on_epoch_end")
        if completed:
            state.epoch += 1
            state.batch_in_epoch = 0
            state.epoch_complete = False
            self._epoch_start_rng = None
