"""The CycleGAN trainer: :class:`TrainConfig`, :class:`TrainerState` and :class:`CycleTrainer`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import torch
from torch import nn
from torch.optim import Adam
from torch.optim.lr_scheduler import LambdaLR

from unpaired_i2i.losses import GANMode, cycle_consistency_loss, gan_loss, identity_loss
from unpaired_i2i.models.cyclegan import CycleGAN
from unpaired_i2i.training.callbacks import Callback, ModelCheckpoint
from unpaired_i2i.training.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint_file,
    save_checkpoint_file,
    validate_checkpoint,
)
from unpaired_i2i.training.pool import ImagePool
from unpaired_i2i.training.schedules import linear_decay_lambda

__all__ = [
    "LOSS_KEYS",
    "AmpMode",
    "CycleTrainer",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainerState",
]

AmpMode: TypeAlias = Literal["off", "bf16", "fp16"]
"""Mixed precision of the training step: none, bfloat16 autocast, float16 autocast + scaler."""
_AMP_MODES: tuple[AmpMode, ...] = ("off", "bf16", "fp16")
_GAN_MODES: tuple[GANMode, ...] = ("lsgan", "vanilla", "hinge")

LOSS_KEYS: tuple[str, ...] = (
    "g_total",
    "g_adv_xy",
    "g_adv_yx",
    "cycle_x",
    "cycle_y",
    "identity_x",
    "identity_y",
    "d_x",
    "d_y",
)
"""Keys of the loss dict returned by :meth:`CycleTrainer.train_step`, in order."""

# Order in which non-finite losses are reported: the terms before the totals they feed.
_FINITE_ORDER: tuple[str, ...] = (
    "g_adv_xy",
    "g_adv_yx",
    "cycle_x",
    "cycle_y",
    "identity_x",
    "identity_y",
    "g_total",
    "d_x",
    "d_y",
)
# Config fields that change the training math; a checkpoint written with other values warns.
_OPERATIONAL_FIELDS = frozenset({"log_every", "checkpoint_dir", "checkpoint_every", "keep_last"})
_NETWORKS: tuple[str, ...] = ("g_xy", "g_yx", "d_x", "d_y")


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """A loss (or a saved tensor) became NaN or infinite; training stopped.

    Detected at every log step, before every checkpoint save and at the end of
    :meth:`CycleTrainer.fit`, from flags accumulated on the device (no per-step
    synchronisation). The message names the first bad step and the loss keys that were
    non-finite there. No checkpoint with non-finite values is written.

    Attributes:
        step: The first step (1-based, as ``TrainerState.step``) with a non-finite value.
        key: The first non-finite loss key (or tensor name) at that step.
        keys: All non-finite loss keys at that step.
    """

    def __init__(self, message: str, *, step: int, key: str, keys: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.step = step
        self.key = key
        self.keys = tuple(keys) or (key,)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(kw_only=True)
class TrainConfig:
    """Hyper-parameters of :class:`CycleTrainer`; the defaults are the reference CycleGAN's.

    Validated on construction: an invalid value raises ``ValueError`` naming the field, what it
    expects and what it got. ``to_dict`` / ``from_dict`` convert to and from plain Python
    values (stored in checkpoints).

    Args:
        lr: Adam learning rate of both optimisers.
        betas: Adam betas, each in ``[0, 1)``.
        lambda_cycle: Weight of each L1 cycle-consistency term.
        lambda_identity: Identity weight relative to ``lambda_cycle``: each identity term is
            weighted ``lambda_identity * lambda_cycle`` (reference: 0.5 * 10 = 5); 0 skips the
            identity terms and their two generator forwards.
        gan_mode: Adversarial objective: ``"lsgan"`` (reference), ``"vanilla"`` or ``"hinge"``.
        pool_size: Images per :class:`ImagePool` (0 disables the pools).
        epochs: Epochs at the full learning rate.
        decay_epochs: Epochs of linear LR decay after them (see
            :func:`~unpaired_i2i.training.schedules.linear_decay_factor`). ``fit`` trains
            ``epochs + decay_epochs`` epochs by default.
        seed: Seed of a fresh run (torch, Python ``random``, NumPy) and of the image pools.
        log_every: Every this many steps the losses are copied to the host into
            ``TrainerState.last_losses`` and checked for NaN/inf.
        checkpoint_dir: If set, the trainer adds a :class:`ModelCheckpoint` saving there at
            every epoch end (and every ``checkpoint_every`` steps).
        checkpoint_every: Steps between checkpoints; 0 saves only at epoch ends.
        keep_last: Numbered checkpoints kept in ``checkpoint_dir`` (``last.pt`` always is).
        amp: ``"off"``, ``"bf16"`` (autocast to bfloat16) or ``"fp16"`` (autocast to float16
            with a :class:`torch.amp.GradScaler`, whose state is checkpointed).
        channels_last: Keep the model and the inputs in ``channels_last`` memory format.

    Raises:
        ValueError: A field has an invalid value.

    Example:
        >>> cfg = TrainConfig(epochs=5, decay_epochs=5)
        >>> cfg.identity_weight, cfg.total_epochs
        (5.0, 10)
        >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    gan_mode: GANMode = "lsgan"
    pool_size: int = 50
    epochs: int = 100
    decay_epochs: int = 100
    seed: int = 0
    log_every: int = 100
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    keep_last: int = 3
    amp: AmpMode = "off"
    channels_last: bool = False

    def __post_init__(self) -> None:
        self.lr = self._float("lr", self.lr, "a finite float > 0", lambda v: v > 0)
        betas: Any = self.betas
        if (
            not isinstance(betas, Sequence)
            or isinstance(betas, str)
            or len(betas) != 2
            or not all(_is_real(b) and 0.0 <= float(b) < 1.0 for b in betas)
        ):
            self._fail("betas", "a pair of floats in [0, 1)", betas)
        self.betas = (float(betas[0]), float(betas[1]))
        self.lambda_cycle = self._float(
            "lambda_cycle", self.lambda_cycle, "a finite float >= 0", lambda v: v >= 0
        )
        self.lambda_identity = self._float(
            "lambda_identity", self.lambda_identity, "a finite float >= 0", lambda v: v >= 0
        )
        if self.gan_mode not in _GAN_MODES:
            self._fail("gan_mode", f"one of {', '.join(map(repr, _GAN_MODES))}", self.gan_mode)
        for name in ("pool_size", "epochs", "decay_epochs", "checkpoint_every", "keep_last"):
            self._int(name, getattr(self, name), 0)
        self._int("seed", self.seed, 0, 2**63 - 1)
        self._int("log_every", self.log_every, 1)
        if self.checkpoint_dir is not None:
            directory: Any = self.checkpoint_dir
            if not isinstance(directory, str | os.PathLike) or not os.fspath(directory):
                self._fail("checkpoint_dir", "None or a non-empty path (str)", directory)
            self.checkpoint_dir = str(os.fspath(directory))
        if self.amp not in _AMP_MODES:
            self._fail("amp", f"one of {', '.join(map(repr, _AMP_MODES))}", self.amp)
        if not isinstance(self.channels_last, bool):
            self._fail("channels_last", "a bool", self.channels_last)

    @staticmethod
    def _fail(name: str, expected: str, value: object) -> None:
        raise ValueError(f"TrainConfig.{name} must be {expected}; got {value!r}")

    @classmethod
    def _float(cls, name: str, value: object, expected: str, ok: Any) -> float:
        if not _is_real(value) or not math.isfinite(float(value)) or not ok(float(value)):  # type: ignore[arg-type]
            cls._fail(name, expected, value)
        return float(value)  # type: ignore[arg-type]

    @classmethod
    def _int(cls, name: str, value: object, low: int, high: int | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            cls._fail(name, f"an int >= {low}", value)
        if high is not None and value > high:  # type: ignore[operator]
            cls._fail(name, f"an int in [{low}, {high}]", value)

    @property
    def identity_weight(self) -> float:
        """Weight of each identity term: ``lambda_identity * lambda_cycle``."""
        return self.lambda_identity * self.lambda_cycle

    @property
    def total_epochs(self) -> int:
        """``epochs + decay_epochs``: the default length of :meth:`CycleTrainer.fit`."""
        return self.epochs + self.decay_epochs

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain Python values (``betas`` as a tuple of floats)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build a config from :meth:`to_dict` output; missing fields take their defaults.

        Args:
            data: Field values (``betas`` may be a list).

        Returns:
            The validated config.

        Raises:
            ValueError: A key is not a field (all unknown keys are listed), or a value is
                invalid.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise ValueError(
                f"TrainConfig.from_dict got unknown fields {unknown}; valid fields: {sorted(names)}"
            )
        values = dict(data)
        if isinstance(values.get("betas"), list):
            values["betas"] = tuple(values["betas"])
        return cls(**values)


@dataclass
class TrainerState:
    """Progress of a :class:`CycleTrainer`, read (and ``should_stop`` set) by callbacks.

    Attributes:
        epoch: The current epoch, 0-based. After ``fit`` completes it equals the number of
            completed epochs.
        step: Completed training steps since the start of training (incremented before
            ``on_step_end``).
        batch_in_epoch: Batches consumed in the current epoch.
        epoch_complete: ``True`` only during ``on_epoch_end`` of an epoch whose data was
            exhausted (its LR step has been taken).
        should_stop: Set it to ``True`` to stop after the current step; reset by ``fit``.
        max_epochs: Total epochs of the current ``fit``.
        max_steps: Total steps of the current ``fit`` (``None``: unlimited).
        last_losses: The losses of the latest log step (every ``log_every`` steps) as floats.
    """

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    epoch_complete: bool = False
    should_stop: bool = False
    max_epochs: int | None = None
    max_steps: int | None = None
    last_losses: dict[str, float] = field(default_factory=dict)

    def state_dict(self) -> dict[str, Any]:
        """Return the fields as plain Python values."""
        out = dataclasses.asdict(self)
        out["last_losses"] = dict(self.last_losses)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore fields from :meth:`state_dict` output (missing fields keep their value).

        Args:
            state: The stored state.
        """
        for name in ("epoch", "step", "batch_in_epoch"):
            if name in state:
                setattr(self, name, int(state[name]))
        for name in ("epoch_complete", "should_stop"):
            if name in state:
                setattr(self, name, bool(state[name]))
        for name in ("max_epochs", "max_steps"):
            if name in state:
                value = state[name]
                setattr(self, name, None if value is None else int(value))
        if "last_losses" in state:
            self.last_losses = {str(k): float(v) for k, v in state["last_losses"].items()}


# ---------------------------------------------------------------------------------------- RNG
def _numpy() -> Any:
    return sys.modules.get("numpy")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    np = _numpy()
    if np is not None:
        np.random.seed(seed % 2**32)


def _data_generators(data: object) -> dict[str, torch.Generator]:
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


def _set_epoch(data: object, epoch: int) -> None:
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


# ------------------------------------------------------------------------------------ trainer
class CycleTrainer:
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
    batch layouts. The step itself (:meth:`train_step`) never synchronises with the device, so
    it can later be compiled or captured as a CUDA graph.

    Args:
        model: The four networks.
        config: Hyper-parameters (default: ``TrainConfig()``, the reference's).
        callbacks: Callbacks, called in this order. A :class:`ModelCheckpoint` is appended when
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
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)

        self.callbacks: list[Callback] = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; got {type(cb).__name__}")
        if config.checkpoint_dir is not None:
            auto = ModelCheckpoint(
                config.checkpoint_dir,
                every_n_steps=config.checkpoint_every,
                every_n_epochs=1,
                keep_last=config.keep_last,
                save_last=True,
            )
            if all(cb.state_key != auto.state_key for cb in self.callbacks):
                self.callbacks.append(auto)
        self._check_callbacks()

        self.optimizer_g = Adam(
            [*self.model.g_xy.parameters(), *self.model.g_yx.parameters()],
            lr=config.lr,
            betas=config.betas,
        )
        self.optimizer_d = Adam(
            [*self.model.d_x.parameters(), *self.model.d_y.parameters()],
            lr=config.lr,
            betas=config.betas,
        )
        rule = linear_decay_lambda(config.epochs, config.decay_epochs)
        self.scheduler_g = LambdaLR(self.optimizer_g, rule)
        self.scheduler_d = LambdaLR(self.optimizer_d, rule)
        self.pool_x = ImagePool(config.pool_size, seed=config.seed)
        self.pool_y = ImagePool(config.pool_size, seed=config.seed + 1)
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler(self.device.type) if config.amp == "fp16" else None
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
        self._reset_finite_tracking()

    # ------------------------------------------------------------------------ callbacks
    def _check_callbacks(self) -> None:
        keys = [cb.state_key for cb in self.callbacks]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(
                f"callbacks must have unique state_key values; duplicated: {duplicates} "
                "(override Callback.state_key to tell instances apart)"
            )

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    @property
    def is_log_step(self) -> bool:
        """Whether the latest step refreshed ``state.last_losses`` (``step % log_every == 0``)."""
        return self.state.step > 0 and self.state.step % self.config.log_every == 0

    # ------------------------------------------------------------------------ the step
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.amp == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _to_device(self, name: str, x: object) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
        fmt = torch.channels_last if self.config.channels_last else torch.preserve_format
        return x.to(self.device, non_blocking=True, memory_format=fmt)

    def unpack_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Split a batch yielded by the data into ``(real_x, real_y)``.

        Args:
            batch: A pair (tuple or list) of image tensors ``(N, C, H, W)``.

        Returns:
            ``(real_x, real_y)``.

        Raises:
            TypeError: The batch is not a pair.
        """
        if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) == 2:
            real_x, real_y = batch
            return real_x, real_y
        raise TypeError(
            "fit expects batches of (real_x, real_y) image tensors; got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, Sequence) else "")
        )

    def _gan(
        self, pred: torch.Tensor, target_is_real: bool, *, for_discriminator: bool
    ) -> torch.Tensor:
        # Losses are computed in float32 even under autocast.
        return gan_loss(
            pred.float(),
            target_is_real,
            mode=self.config.gan_mode,
            for_discriminator=for_discriminator,
        )

    def generator_forward(
        self, real_x: torch.Tensor, real_y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Run the generators: both cycles, plus the identity mappings when they are weighted.

        Args:
            real_x: Images of domain X ``(N, C_x, H, W)`` in ``[-1, 1]``.
            real_y: Images of domain Y ``(N, C_y, H, W)`` in ``[-1, 1]``.

        Returns:
            ``fake_y = g_xy(x)``, ``rec_x = g_yx(fake_y)``, ``fake_x = g_yx(y)``,
            ``rec_y = g_xy(fake_x)``, and, unless ``lambda_identity == 0``,
            ``idt_y = g_xy(y)`` and ``idt_x = g_yx(x)``.
        """
        g_xy: nn.Module = self.model.g_xy
        g_yx: nn.Module = self.model.g_yx
        fake_y: torch.Tensor = g_xy(real_x)
        rec_x: torch.Tensor = g_yx(fake_y)
        fake_x: torch.Tensor = g_yx(real_y)
        rec_y: torch.Tensor = g_xy(fake_x)
        out = {"fake_y": fake_y, "rec_x": rec_x, "fake_x": fake_x, "rec_y": rec_y}
        if self.config.lambda_identity != 0:
            idt_y: torch.Tensor = g_xy(real_y)
            idt_x: torch.Tensor = g_yx(real_x)
            out["idt_y"] = idt_y
            out["idt_x"] = idt_x
        return out

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Return the generator loss terms and their sum ``g_total`` (with gradients).

        ``g_adv_xy = gan(d_y(fake_y), real)``, ``g_adv_yx = gan(d_x(fake_x), real)``,
        ``cycle_x = lambda_cycle * L1(rec_x, x)``, ``cycle_y`` likewise,
        ``identity_x = w * L1(idt_x, x)`` and ``identity_y = w * L1(idt_y, y)`` with
        ``w = lambda_identity * lambda_cycle`` (zeros when the identity terms are disabled).

        Args:
            real_x: Images of domain X.
            real_y: Images of domain Y.
            outputs: The output of :meth:`generator_forward`.

        Returns:
            The keys ``g_total``, ``g_adv_xy``, ``g_adv_yx``, ``cycle_x``, ``cycle_y``,
            ``identity_x``, ``identity_y``: 0-d float32 tensors.
        """
        cfg = self.config
        d_x: nn.Module = self.model.d_x
        d_y: nn.Module = self.model.d_y
        score_y: torch.Tensor = d_y(outputs["fake_y"])
        score_x: torch.Tensor = d_x(outputs["fake_x"])
        adv_xy = self._gan(score_y, True, for_discriminator=False)
        adv_yx = self._gan(score_x, True, for_discriminator=False)
        cycle_x = cycle_consistency_loss(real_x.float(), outputs["rec_x"].float(), cfg.lambda_cycle)
        cycle_y = cycle_consistency_loss(real_y.float(), outputs["rec_y"].float(), cfg.lambda_cycle)
        total = adv_xy + adv_yx + cycle_x + cycle_y
        if "idt_x" in outputs and "idt_y" in outputs:
            weight = cfg.identity_weight
            identity_x = identity_loss(real_x.float(), outputs["idt_x"].float(), weight)
            identity_y = identity_loss(real_y.float(), outputs["idt_y"].float(), weight)
            total = total + identity_x + identity_y
        else:
            identity_x = torch.zeros((), device=adv_xy.device)
            identity_y = torch.zeros((), device=adv_xy.device)
        return {
            "g_total": total,
            "g_adv_xy": adv_xy,
            "g_adv_yx": adv_yx,
            "cycle_x": cycle_x,
            "cycle_y": cycle_y,
            "identity_x": identity_x,
            "identity_y": identity_y,
        }

    def compute_discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        """Return ``0.5 * (gan(D(real), real) + gan(D(fake), fake))``.

        Args:
            discriminator: ``d_x`` or ``d_y``.
            real: Real images of its domain.
            fake: Detached generated images of its domain (from the image pool).

        Returns:
            A 0-d float32 tensor.
        """
        real_score: torch.Tensor = discriminator(real)
        fake_score: torch.Tensor = discriminator(fake)
        real_term = self._gan(real_score, True, for_discriminator=True)
        fake_term = self._gan(fake_score, False, for_discriminator=True)
        return 0.5 * (real_term + fake_term)

    def _set_d_requires_grad(self, flag: bool) -> None:
        for p in self._d_params:
            p.requires_grad_(flag)

    def _backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            torch.autograd.backward(self.scaler.scale(loss))
            self.scaler.step(optimizer)
        else:
            torch.autograd.backward(loss)
            optimizer.step()

    def _generator_step(
        self, real_x: torch.Tensor, real_y: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        self.optimizer_g.zero_grad(set_to_none=True)
        self._set_d_requires_grad(False)
        try:
            with self._autocast():
                outputs = self.generator_forward(real_x, real_y)
                terms = self.compute_generator_loss(real_x, real_y, outputs)
            self._backward_and_step(terms["g_total"], self.optimizer_g)
        finally:
            self._set_d_requires_grad(True)
        return outputs, terms

    def _discriminator_step(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer_d.zero_grad(set_to_none=True)
        fake_y = self.pool_y.query(outputs["fake_y"])
        fake_x = self.pool_x.query(outputs["fake_x"])
        with self._autocast():
            loss_d_y = self.compute_discriminator_loss(self.model.d_y, real_y, fake_y)
            loss_d_x = self.compute_discriminator_loss(self.model.d_x, real_x, fake_x)
        self._backward_and_step(loss_d_x + loss_d_y, self.optimizer_d)
        return loss_d_x, loss_d_y

    def train_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run one full update: generators, then discriminators (the reference order).

        ``fake_y = g_xy(x)``, ``rec_x = g_yx(fake_y)``, ``fake_x = g_yx(y)``,
        ``rec_y = g_xy(fake_x)``; with both discriminators frozen, one generator Adam step on
        ``g_total``; then, with the discriminators trainable again, ``d_y`` on ``y`` versus
        ``pool_y.query(fake_y)`` and ``d_x`` on ``x`` versus ``pool_x.query(fake_x)`` (fakes
        detached, made before the generator update) and one discriminator Adam step on
        ``d_x + d_y``. Nothing in the step synchronises with the device. It does not advance
        ``state`` (:meth:`fit` does).

        Args:
            real_x: Images of domain X ``(N, C_x, H, W)`` in ``[-1, 1]``, any device.
            real_y: Images of domain Y ``(N, C_y, H, W)`` in ``[-1, 1]``.

        Returns:
            Detached 0-d float32 tensors on the trainer's device, under the keys
            (:data:`LOSS_KEYS`):

            - ``g_total``: the generator objective that was minimised (sum of the six below),
            - ``g_adv_xy`` / ``g_adv_yx``: adversarial terms of ``g_xy`` (scored by ``d_y``) and
              ``g_yx`` (scored by ``d_x``),
            - ``cycle_x`` / ``cycle_y``: weighted cycle terms ``lambda_cycle * L1(rec, real)``,
            - ``identity_x`` / ``identity_y``: weighted identity terms (zeros when disabled),
            - ``d_x`` / ``d_y``: discriminator losses ``0.5 * (real term + fake term)``.

        Raises:
            TypeError: An input is not a tensor.
            ShapeError: An input has the wrong shape for the networks.
        """
        x = self._to_device("real_x", real_x)
        y = self._to_device("real_y", real_y)
        self.model.train()
        outputs, terms = self._generator_step(x, y)
        loss_d_x, loss_d_y = self._discriminator_step(x, y, outputs)
        if self.scaler is not None:
            self.scaler.update()
        losses = {key: terms[key].detach() for key in LOSS_KEYS[:7]}
        losses["d_x"] = loss_d_x.detach()
        losses["d_y"] = loss_d_y.detach()
        return losses

    # ------------------------------------------------------------------ non-finite checks
    def _reset_finite_tracking(self) -> None:
        self._all_finite: torch.Tensor | None = None
        self._bad_step = torch.empty(0)
        self._bad_mask = torch.empty(0)
        self._finite_keys: tuple[str, ...] = ()
        self._step_counter = torch.empty(0)

    def _track_finite(self, losses: Mapping[str, torch.Tensor]) -> None:
        """Fold this step's loss finiteness into device flags (no synchronisation)."""
        if self._all_finite is None:
            keys = [k for k in _FINITE_ORDER if k in losses]
            keys += [k for k in losses if k not in keys]
            self._finite_keys = tuple(keys)
            device = losses[keys[0]].device
            self._all_finite = torch.ones((), dtype=torch.bool, device=device)
            self._bad_step = torch.full((), -1, dtype=torch.int64, device=device)
            self._bad_mask = torch.zeros(len(keys), dtype=torch.bool, device=device)
            self._step_counter = torch.full(
                (), self.state.step - 1, dtype=torch.int64, device=device
            )
        self._step_counter.add_(1)
        finite = torch.stack([losses[k].float() for k in self._finite_keys]).isfinite()
        bad = ~finite.all()
        newly = self._all_finite & bad
        self._bad_step = torch.where(newly, self._step_counter, self._bad_step)
        self._bad_mask = torch.where(newly, ~finite, self._bad_mask)
        self._all_finite = self._all_finite & ~bad

    def check_finite(self) -> None:
        """Raise if any loss since the start of tracking was NaN or infinite (one device sync).

        Raises:
            NonFiniteLossError: Names the first bad step and its non-finite loss keys.
        """
        if self._all_finite is None or bool(self._all_finite):
            return
        step = int(self._bad_step)
        keys = [k for k, bad in zip(self._finite_keys, self._bad_mask.tolist(), strict=True) if bad]
        first = keys[0] if keys else "?"
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {', '.join(keys)} (first: {first!r}); training "
            "stopped, no checkpoint is written from this state",
            step=step,
            key=first,
            keys=keys,
        )

    def _check_finite_tensors(self, checkpoint: Mapping[str, Any]) -> None:
        named: list[tuple[str, torch.Tensor]] = []

        def walk(obj: Any, where: str) -> None:
            if isinstance(obj, torch.Tensor):
                if obj.is_floating_point() or obj.is_complex():
                    named.append((where, obj))
            elif isinstance(obj, Mapping):
                for k, v in obj.items():
                    walk(v, f"{where}.{k}")
            elif isinstance(obj, list | tuple):
                for i, v in enumerate(obj):
                    walk(v, f"{where}.{i}")

        for key, value in checkpoint.items():
            if key != "rng":
                walk(value, key)
        if not named:
            return
        flags = torch.stack([t.detach().isfinite().all().to(self.device) for _, t in named])
        if bool(flags.all()):
            return
        where = named[int(flags.to(torch.int8).argmin())][0]
        raise NonFiniteLossError(
            f"non-finite values in {where} at step {self.state.step}; checkpoint not written",
            step=self.state.step,
            key=where,
        )

    # ------------------------------------------------------------------------------ RNG
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
        gens = _data_generators(self._data)
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
        gens = _data_generators(self._data)
        for name, gen_state in dict(snap.get("data", {})).items():
            if name in gens:
                gens[name].set_state(gen_state)

    # ---------------------------------------------------------------------------- fit
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
        self._data = data
        fresh = (
            not self._loaded and state.step == 0 and state.epoch == 0 and state.batch_in_epoch == 0
        )
        if fresh:
            _seed_everything(self.config.seed)
        try:
            self._call("on_fit_start")
            while state.epoch < state.max_epochs and not self._stop_requested():
                self._run_epoch(data)
            self.check_finite()
            self._call("on_fit_end")
        except BaseException as exc:
            for cb in self.callbacks:
                cb.on_exception(self, exc)
            raise
        return state

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

    def _run_epoch(self, data: Iterable[Any]) -> None:
        state = self.state
        self._call("on_epoch_start")
        _set_epoch(data, state.epoch)
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
            self._track_finite(losses)
            if state.step % self.config.log_every == 0:
                self.check_finite()
                values = torch.stack([v.float() for v in losses.values()]).tolist()
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

    # ---------------------------------------------------------------------- checkpoints
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
        dist = torch.distributed
        world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        checkpoint: dict[str, Any] = {
            "meta": {
                "library_version": str(__version__),
                "torch_version": str(torch.__version__),
                "world_size": int(world_size),
                "format_version": FORMAT_VERSION,
                "model_config": self._model_config(),
            },
            "config": self.config.to_dict(),
            "model": {name: getattr(self.model, name).state_dict() for name in _NETWORKS},
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "scheduler_g": self.scheduler_g.state_dict(),
            "scheduler_d": self.scheduler_d.state_dict(),
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "pool_x": self.pool_x.state_dict(),
            "pool_y": self.pool_y.state_dict(),
            "rng": {
                "current": self._capture_rng(),
                "epoch_start": self._epoch_start_rng if mid_epoch else None,
            },
            "trainer": position,
            "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks},
        }
        for cb in self.callbacks:
            cb.on_checkpoint_save(self, checkpoint)
        self._check_finite_tensors(checkpoint)
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
            for name in _NETWORKS:
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

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically.

        Args:
            path: Destination file (parent folders are created).

        Returns:
            ``path`` as a :class:`~pathlib.Path`.

        Raises:
            NonFiniteLossError: A loss or a tensor is NaN or infinite; nothing is written.
            CheckpointError: Writing failed; an existing file at ``path`` is untouched.
        """
        return save_checkpoint_file(self.state_dict(), path)

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
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
        self, checkpoint: Mapping[str, Any], *, source: str | os.PathLike[str] = "<state dict>"
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
        self._check_fits(checkpoint, where)
        try:
            for name in _NETWORKS:
                getattr(self.model, name).load_state_dict(checkpoint["model"][name])
            self.optimizer_g.load_state_dict(checkpoint["optimizer_g"])
            self.optimizer_d.load_state_dict(checkpoint["optimizer_d"])
            self.scheduler_g.load_state_dict(checkpoint["scheduler_g"])
            self.scheduler_d.load_state_dict(checkpoint["scheduler_d"])
            if self.scaler is not None and checkpoint["grad_scaler"] is not None:
                self.scaler.load_state_dict(checkpoint["grad_scaler"])
            for pool, key in ((self.pool_x, "pool_x"), (self.pool_y, "pool_y")):
                pool_state = dict(checkpoint[key])
                pool_state["images"] = [
                    torch.as_tensor(im).to(self.device) for im in pool_state["images"]
                ]
                pool.load_state_dict(pool_state)
            rng = checkpoint["rng"]
            current, epoch_start = rng["current"], rng.get("epoch_start")
            self._restore_rng(current)
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(
                f"checkpoint {where} does not fit this trainer: {type(err).__name__}: {err}"
            ) from err
        self.state.load_state_dict(checkpoint["trainer"])
        self.state.epoch_complete = False
        self.state.should_stop = False
        self._pending_rng = (current, epoch_start)
        self._epoch_start_rng = epoch_start
        self._reset_finite_tracking()
        self._loaded = True

        stored = dict(checkpoint["callbacks"])
        for cb in self.callbacks:
            if cb.state_key in stored:
                cb.load_state_dict(stored.pop(cb.state_key))
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
            if k not in _OPERATIONAL_FIELDS
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
            cb.on_checkpoint_load(self, checkpoint)


def _norm(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
