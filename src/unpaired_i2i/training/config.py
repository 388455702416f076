"""What a run is configured with and where it stands: :class:`TrainConfig`, :class:`TrainerState`.

Also the one place where a config is turned into the run's default callbacks
(:func:`default_callbacks`), so the trainer module depends only on the callback base.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from unpaired_i2i._checks import check_bool, check_choice, check_float, check_int, is_real
from unpaired_i2i.augment import AugmentPolicy, check_policy
from unpaired_i2i.losses import GAN_MODES, GANMode
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.checkpoint import ModelCheckpoint

__all__ = [
    "AMP_MODES",
    "COMPILE_MODES",
    "AmpMode",
    "CompileMode",
    "TrainConfig",
    "TrainerState",
    "default_callbacks",
]

AmpMode: TypeAlias = Literal["off", "bf16", "fp16", "auto"]
"""Mixed precision of the training step: none, bfloat16 autocast, float16 autocast + scaler,
or ``"auto"``: bfloat16 where it is faster than float32 (CUDA with bf16, CPUs with AMX or
AVX-512 BF16), else none (see :func:`~unpaired_i2i.training.speed.resolve_amp`)."""
AMP_MODES: tuple[AmpMode, ...] = ("off", "bf16", "fp16", "auto")

CompileMode: TypeAlias = Literal["default", "reduce-overhead", "max-autotune"]
"""``torch.compile`` mode: inductor's default, CUDA graphs, or autotuned kernels (+ graphs)."""
COMPILE_MODES: tuple[CompileMode, ...] = ("default", "reduce-overhead", "max-autotune")


@dataclass(kw_only=True)
class TrainConfig:
    """Hyper-parameters of :class:`CycleTrainer`; the defaults are the reference CycleGAN's.

    Validated on construction: an invalid value raises ``ValueError`` naming the field, what it
    expects and what it got. ``to_dict`` / ``from_dict`` convert to and from plain Python
    values (stored in checkpoints).

    Args:
        lr: Adam learning rate of both optimisers (of the generators' only, when ``lr_d``
            is set).
        lr_d: Adam learning rate of the discriminators, if different from ``lr``
            (two time-scale updates, Heusel et al. 2017); ``None`` uses ``lr``.
        betas: Adam betas, each in ``[0, 1)``.
        lambda_cycle: Weight of each L1 cycle-consistency term.
        lambda_identity: Identity weight relative to ``lambda_cycle``: each identity term is
            weighted ``lambda_identity * lambda_cycle`` (reference: 0.5 * 10 = 5); 0 skips the
            identity terms and their two generator forwards.
        cycle_noise: Standard deviation (in ``[-1, 1]`` image units) of Gaussian noise added
            to each translated image before it is translated back for the cycle term (the
            adversarial term sees the clean image). A generator can otherwise satisfy the
            cycle by hiding its input in a faint high-frequency signal (Chu et al. 2017,
            "CycleGAN, a Master of Steganography") instead of keeping the scene's visible
            structure; noise on that channel removes the shortcut (Bashkirova et al. 2019).
            0 (reference) adds none and draws no random numbers.
        gan_mode: Adversarial objective: ``"lsgan"`` (reference), ``"vanilla"`` or ``"hinge"``.
        relativistic: Use the relativistic average form of ``gan_mode`` (Jolicoeur-Martineau
            2018; RaLSGAN for ``"lsgan"``, see :func:`~unpaired_i2i.relativistic_gan_loss`):
            each discriminator judges whether real images look more real than the fakes on
            average, and each generator's adversarial term also uses the real images' scores
            (one more forward pass of each frozen discriminator per step). ``False``
            (reference): the plain form.
        r1_gamma: Weight ``gamma`` of the R1 gradient penalty on real images (Mescheder et al.
            2018, see :func:`~unpaired_i2i.r1_penalty`): each discriminator's loss adds
            ``gamma / 2 * E ||grad_x D(x)||^2``, which needs a second backward pass through the
            discriminators. With ``compile=True`` (compiled graphs have no double backward)
            the penalty's gradient comes from an extra, uncompiled call of each discriminator
            on the real images (not available with ``compile=True`` in a distributed run);
            with ``amp="fp16"``, from an extra call in float32, where a float16 gradient
            would underflow. 0 (reference): no penalty.
        d_augment: Differentiable augmentations (DiffAugment, Zhao et al. 2020; see
            :func:`~unpaired_i2i.diff_augment`) applied to every batch a discriminator scores,
            real and generated, in the discriminators' step and in the generators' (where the
            generators' gradient passes through them): a sequence of distinct names from
            ``"translation"``, ``"cutout"``, ``"color"`` (stored as a tuple). They keep a
            discriminator from memorising a small training set. ``()`` (reference): none,
            and no random numbers drawn.
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
        amp: ``"off"``, ``"bf16"`` (autocast to bfloat16), ``"fp16"`` (autocast to float16
            with a :class:`torch.amp.GradScaler`, whose state is checkpointed) or ``"auto"``
            (bf16 on CUDA devices that support it and on CPUs with AMX or AVX-512 BF16,
            where it is faster; float32 elsewhere, e.g. on AVX2 CPUs or AVX-512 CPUs without
            BF16, where bf16 is slower). The trainer's ``amp`` attribute holds the decision.
        channels_last: Keep the model and the inputs in ``channels_last`` memory format.
        compile: Compile each of the four networks with :func:`torch.compile` (separately:
            the step toggles ``requires_grad`` and runs two backward passes, which a
            compiled whole step would break at). The first steps are slower (compilation);
            later steps never recompile. Checkpoints and exact resume are unaffected.
        compile_mode: ``"default"``, ``"reduce-overhead"`` (CUDA graphs: least launch
            overhead, for small batches on a GPU; more memory) or ``"max-autotune"``.
        compile_backend: ``torch.compile`` backend: ``"inductor"`` (generated kernels) or a
            debugging backend such as ``"aot_eager"`` (``compile_mode`` applies to inductor
            only).
        cudnn_benchmark: On CUDA, let cuDNN time its convolution algorithms per input shape
            and keep the fastest (``torch.backends.cudnn.benchmark``; a process-wide setting;
            results may then vary in the last bits between runs).
        tf32: On CUDA, let float32 matrix multiplications and convolutions use TF32 tensor
            cores (process-wide; about 10 mantissa bits inside the products).
        use_distributed_sampler: Under ``torchrun``, rebuild a ``DataLoader`` given to ``fit``
            whose sampler is not a :class:`~torch.utils.data.DistributedSampler` with one
            (same dataset and options; shuffled if it was), so each rank trains on its own
            shard. ``False`` uses the loader as given on every rank.

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
    lr_d: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    cycle_noise: float = 0.0
    gan_mode: GANMode = "lsgan"
    relativistic: bool = False
    r1_gamma: float = 0.0
    d_augment: tuple[AugmentPolicy, ...] = ()
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
    use_distributed_sampler: bool = True
    sync_batchnorm: bool = False
    compile: bool = False
    compile_mode: CompileMode = "default"
    compile_backend: str = "inductor"
    cudnn_benchmark: bool = False
    tf32: bool = False

    def __post_init__(self) -> None:
        f = "TrainConfig."
        self.lr = check_float(f + "lr", self.lr, expected="a finite float > 0", ok=lambda v: v > 0)
        if self.lr_d is not None:
            self.lr_d = check_float(
                f + "lr_d", self.lr_d, expected="None or a finite float > 0", ok=lambda v: v > 0
            )
        betas: Any = self.betas
        if (
            not isinstance(betas, Sequence)
            or isinstance(betas, str)
            or len(betas) != 2
            or not all(is_real(b) and 0.0 <= float(b) < 1.0 for b in betas)
        ):
            raise ValueError(f"{f}betas must be a pair of floats in [0, 1); got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        for name in ("lambda_cycle", "lambda_identity", "cycle_noise"):
            value = check_float(
                f + name, getattr(self, name), expected="a finite float >= 0", ok=lambda v: v >= 0
            )
            setattr(self, name, value)
        check_choice(f + "gan_mode", self.gan_mode, GAN_MODES)
        check_bool(f + "relativistic", self.relativistic)
        self.r1_gamma = check_float(
            f + "r1_gamma", self.r1_gamma, expected="a finite float >= 0", ok=lambda v: v >= 0
        )
        self.d_augment = check_policy(f + "d_augment", self.d_augment)
        for name in ("pool_size", "epochs", "decay_epochs", "checkpoint_every", "keep_last"):
            check_int(f + name, getattr(self, name), 0)
        check_int(f + "seed", self.seed, 0, 2**63 - 1)
        check_int(f + "log_every", self.log_every, 1)
        if self.checkpoint_dir is not None:
            directory: Any = self.checkpoint_dir
            if not isinstance(directory, str | os.PathLike) or not os.fspath(directory):
                raise ValueError(
                    f"{f}checkpoint_dir must be None or a non-empty path (str); got {directory!r}"
                )
            self.checkpoint_dir = str(os.fspath(directory))
        check_choice(f + "amp", self.amp, AMP_MODES)
        check_bool(f + "channels_last", self.channels_last)
        check_bool(f + "use_distributed_sampler", self.use_distributed_sampler)
        check_bool(f + "sync_batchnorm", self.sync_batchnorm)
        check_bool(f + "compile", self.compile)
        check_choice(f + "compile_mode", self.compile_mode, COMPILE_MODES)
        backend: Any = self.compile_backend
        if not isinstance(backend, str) or not backend:
            raise ValueError(
                f"{f}compile_backend must be a torch.compile backend name (str), e.g. "
                f"'inductor' or 'aot_eager'; got {backend!r}"
            )
        check_bool(f + "cudnn_benchmark", self.cudnn_benchmark)
        check_bool(f + "tf32", self.tf32)

    @property
    def identity_weight(self) -> float:
        """Weight of each identity term: ``lambda_identity * lambda_cycle``."""
        return self.lambda_identity * self.lambda_cycle

    @property
    def discriminator_lr(self) -> float:
        """The discriminators' learning rate: ``lr_d`` if set, else ``lr``."""
        return self.lr if self.lr_d is None else self.lr_d

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


def default_callbacks(config: TrainConfig, callbacks: Iterable[Callback]) -> list[Callback]:
    """The callbacks of a run: ``callbacks`` plus what ``config`` asks for.

    With ``config.checkpoint_dir`` set, a :class:`~unpaired_i2i.ModelCheckpoint` saving there
    (every epoch end, every ``checkpoint_every`` steps, ``keep_last`` numbered files and
    ``last.pt``) is appended unless one for that folder is already among ``callbacks``.

    Args:
        config: The run's config.
        callbacks: The callbacks given by the user, in order.

    Returns:
        A new list; ``callbacks`` is not modified.
    """
    out = list(callbacks)
    if config.checkpoint_dir is not None:
        auto = ModelCheckpoint(
            config.checkpoint_dir,
            every_n_steps=config.checkpoint_every,
            every_n_epochs=1,
            keep_last=config.keep_last,
            save_last=True,
        )
        if all(getattr(cb, "state_key", None) != auto.state_key for cb in out):
            out.append(auto)
    return out
