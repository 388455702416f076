"""The CycleGAN objective: the generator forward pass, the losses and one update.

:class:`CycleObjective` holds the part of :class:`~unpaired_i2i.CycleTrainer` that users
override to change the math (:meth:`~CycleObjective.generator_forward`,
:meth:`~CycleObjective.compute_generator_loss`,
:meth:`~CycleObjective.compute_discriminator_loss`, :meth:`~CycleObjective.unpack_batch`)
and :meth:`~CycleObjective.train_step`, which composes them. It owns no state: the trainer
builds the networks, optimisers, pools and scaler it reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unpaired_i2i.augment import diff_augment
from unpaired_i2i.losses import (
    cycle_consistency_loss,
    gan_loss,
    identity_loss,
    r1_penalty,
    relativistic_gan_loss,
)
from unpaired_i2i.models.cyclegan import CycleGAN
from unpaired_i2i.training.config import TrainConfig
from unpaired_i2i.training.pool import ImagePool
from unpaired_i2i.training.speed import ResolvedAmp

__all__ = ["LOSS_KEYS", "CycleObjective", "Networks"]

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


@dataclass(frozen=True)
class Networks:
    """The modules a training step calls: the model's networks or their DDP wrappers.

    In one process these are the :class:`~unpaired_i2i.CycleGAN`'s own modules; under
    ``torchrun`` each is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, so
    gradients are averaged across ranks; with ``TrainConfig.compile`` each is compiled.
    Overrides of the objective call networks that are being trained through these (e.g.
    ``self.networks.g_xy(x)``), and the discriminators that score the generators' outputs
    while frozen through ``frozen_d_x`` / ``frozen_d_y`` (never DDP-wrapped: a frozen network
    has no gradients to average). ``self.model`` holds the plain modules (for evaluation and
    checkpoints).
    """

    g_xy: nn.Module
    g_yx: nn.Module
    d_x: nn.Module
    d_y: nn.Module
    frozen_d_x: nn.Module
    frozen_d_y: nn.Module


class CycleObjective:
    """The CycleGAN losses and training step, mixed into :class:`~unpaired_i2i.CycleTrainer`.

    Not used on its own: it reads the attributes below, which the trainer sets up.

    Attributes:
        config: The hyper-parameters (``lambda_cycle``, ``lambda_identity``, ``gan_mode``,
            ``amp``, ``channels_last``).
        model: The four networks ``g_xy``, ``g_yx``, ``d_x``, ``d_y``.
        networks: The same networks as the step calls them (DDP wrappers under ``torchrun``).
        device: Where the step runs.
        optimizer_g: Adam over both generators.
        optimizer_d: Adam over both discriminators.
        pool_x: History of generated X images shown to ``d_x``.
        pool_y: History of generated Y images shown to ``d_y``.
        scaler: The fp16 gradient scaler, or ``None``.
    """

    config: TrainConfig
    model: CycleGAN
    networks: Networks
    device: torch.device
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    pool_x: ImagePool
    pool_y: ImagePool
    scaler: torch.amp.GradScaler | None
    amp: ResolvedAmp
    _d_params: list[nn.Parameter]
    _batch_generators: bool
    _batch_discriminators: bool

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.config.channels_last else torch.contiguous_format

    def _to_device(self, name: str, x: object) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
        # One memory format for every input (a copy only where the strides differ), so a
        # compiled network always sees the same strides and never recompiles for them.
        return x.to(self.device, non_blocking=True, memory_format=self._memory_format())

    def _pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
        """``cat([a, b])`` in the step's memory format, or ``None`` if their shapes differ."""
        if a.shape != b.shape:
            return None
        return torch.cat([a, b]).contiguous(memory_format=self._memory_format())

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

    def _relativistic(
        self, pred: torch.Tensor, other: torch.Tensor, target_is_real: bool
    ) -> torch.Tensor:
        return relativistic_gan_loss(
            pred.float(), other.float(), target_is_real, mode=self.config.gan_mode
        )

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        """What a discriminator is shown: ``images`` under ``TrainConfig.d_augment``, if any."""
        policy = self.config.d_augment
        if not policy:
            return images
        # Back to the step's memory format (the gathers return channels-last strides), so a
        # discriminator sees augmented batches in the same format as every other input.
        return diff_augment(images, policy).contiguous(memory_format=self._memory_format())

    def _adversarial_term(
        self, discriminator: nn.Module, fake: torch.Tensor, real: torch.Tensor
    ) -> torch.Tensor:
        """A generator's adversarial term: its fakes scored by a frozen discriminator."""
        fake_score: torch.Tensor = discriminator(self._augment(fake))
        if not self.config.relativistic:
            return self._gan(fake_score, True, for_discriminator=False)
        # The real images' scores carry no gradient (frozen weights, constant input); the
        # generator's gradient reaches them only through the mean of the fakes' scores.
        real_score: torch.Tensor = discriminator(self._augment(real))
        return self._relativistic(fake_score, real_score, True) + self._relativistic(
            real_score, fake_score, False
        )

    def _cycle_input(self, fake: torch.Tensor) -> torch.Tensor:
        """``fake`` plus ``N(0, cycle_noise^2)`` noise, the input of the backward generator."""
        std = self.config.cycle_noise
        if std == 0:
            return fake
        return fake + std * torch.randn_like(fake)

    def generator_forward(
        self, real_x: torch.Tensor, real_y: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Run the generators: both cycles, plus the identity mappings when they are weighted.

        Args:
            real_x: Images of domain X ``(N, C_x, H, W)`` in ``[-1, 1]``.
            real_y: Images of domain Y ``(N, C_y, H, W)`` in ``[-1, 1]``.

        Returns:
            ``fake_y = g_xy(x)``, ``rec_x = g_yx(fake_y)``, ``fake_x = g_yx(y)``, ``rec_y =
            g_xy(fake_x)`` (with ``TrainConfig.cycle_noise``, ``rec_x`` and ``rec_y`` translate the
            fakes plus Gaussian noise), and, unless ``lambda_identity == 0``, ``idt_y = g_xy(y)``
            and ``idt_x = g_yx(x)``. When both generators treat every sample independently
            (:func:`~unpaired_i2i.training.speed.batch_independent`: InstanceNorm or no norm, no
            BatchNorm) and ``x`` and ``y`` have one shape, ``g_xy(x)`` and ``g_xy(y)`` run as one
            call on ``cat([x, y])`` (likewise ``g_yx``): the same values up to rounding, in fewer,
            larger kernels.
        """
        g_xy: nn.Module = self.networks.g_xy
        g_yx: nn.Module = self.networks.g_yx
        identity = self.config.lambda_identity != 0
        xy = self._pair(real_x, real_y) if identity and self._batch_generators else None
        yx = self._pair(real_y, real_x) if xy is not None else None
        if xy is not None and yx is not None:
            # Same weights, per-sample networks: g_xy(x) and g_xy(y) as one call (ditto g_yx).
            n = real_x.shape[0]
            fake_y, idt_y = g_xy(xy).split(n)
            fake_x, idt_x = g_yx(yx).split(n)
            rec_x: torch.Tensor = g_yx(self._cycle_input(fake_y))
            rec_y: torch.Tensor = g_xy(self._cycle_input(fake_x))
            return {
                "fake_y": fake_y,
                "rec_x": rec_x,
                "fake_x": fake_x,
                "rec_y": rec_y,
                "idt_y": idt_y,
                "idt_x": idt_x,
            }
        fake_y = g_xy(real_x)
        rec_x = g_yx(self._cycle_input(fake_y))
        fake_x = g_yx(real_y)
        rec_y = g_xy(self._cycle_input(fake_x))
        out = {"fake_y": fake_y, "rec_x": rec_x, "fake_x": fake_x, "rec_y": rec_y}
        if identity:
            out["idt_y"] = g_xy(real_y)
            out["idt_x"] = g_yx(real_x)
        return out

    def compute_generator_loss(
        self, real_x: torch.Tensor, real_y: torch.Tensor, outputs: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Return the generator loss terms and their sum ``g_total`` (with gradients).

        ``g_adv_xy = gan(d_y(fake_y), real)``, ``g_adv_yx = gan(d_x(fake_x), real)`` (with
        ``TrainConfig.relativistic``: ``ra(d_y(fake_y), d_y(y), real) + ra(d_y(y),
        d_y(fake_y), fake)`` with ``ra`` = :func:`~unpaired_i2i.relativistic_gan_loss`),
        ``cycle_x = lambda_cycle * L1(rec_x, x)``, ``cycle_y`` likewise,
        ``identity_x = w * L1(idt_x, x)`` and ``identity_y = w * L1(idt_y, y)`` with
        ``w = lambda_identity * lambda_cycle`` (zeros when the identity terms are disabled).
        With ``TrainConfig.d_augment`` the discriminators score
        :func:`~unpaired_i2i.diff_augment` of the fakes (and of the real images), and the
        generators' gradient passes through the augmentation.

        Args:
            real_x: Images of domain X.
            real_y: Images of domain Y.
            outputs: The output of :meth:`generator_forward`.

        Returns:
            The keys ``g_total``, ``g_adv_xy``, ``g_adv_yx``, ``cycle_x``, ``cycle_y``,
            ``identity_x``, ``identity_y``: 0-d float32 tensors.
        """
        cfg = self.config
        # The discriminators are frozen here (no parameter needs a gradient) and are called
        # through the plain modules (compiled if configured), not their DDP wrappers: a DDP
        # forward would arm its reducer for a backward pass that never produces these
        # parameters' gradients.
        d_x: nn.Module = self.networks.frozen_d_x
        d_y: nn.Module = self.networks.frozen_d_y
        adv_xy = self._adversarial_term(d_y, outputs["fake_y"], real_y)
        adv_yx = self._adversarial_term(d_x, outputs["fake_x"], real_x)
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
        """Return ``0.5 * (gan(D(real), real) + gan(D(fake), fake))``, plus the R1 penalty.

        With ``TrainConfig.relativistic`` the two terms are ``ra(D(real), D(fake), real)`` and
        ``ra(D(fake), D(real), fake)`` (:func:`~unpaired_i2i.relativistic_gan_loss`); with
        ``TrainConfig.r1_gamma > 0`` the loss adds ``r1_gamma / 2 * r1_penalty(D(real),
        real)`` (:func:`~unpaired_i2i.r1_penalty`). When the discriminators treat every sample
        independently (no BatchNorm) and the two batches have one shape, ``D`` scores
        ``cat([real, fake])`` in one call. With ``TrainConfig.d_augment``, ``D`` scores
        :func:`~unpaired_i2i.diff_augment` of each batch (each image its own draw; R1's
        gradient is taken with respect to the images before augmentation). With
        ``TrainConfig.compile``, whose compiled networks have no double backward, R1's gradient
        comes from a second, uncompiled call of the same discriminator on the real images;
        with ``amp="fp16"``, from a second call in float32 (outside autocast).

        Args:
            discriminator: ``d_x`` or ``d_y``.
            real: Real images of its domain.
            fake: Detached generated images of its domain (from the image pool).

        Returns:
            A 0-d float32 tensor.
        """
        cfg = self.config
        r1 = cfg.r1_gamma > 0
        # R1 scores the real images a second time, with the same weights, where the first
        # call cannot give its gradient: a compiled network has no double backward
        # (TorchDynamo's AOTAutograd; the plain module then), and a float16 gradient of the
        # scores with respect to the images would underflow (float32 then).
        fp16 = self.amp == "fp16"
        plain = getattr(discriminator, "_orig_mod", discriminator if fp16 else None) if r1 else None
        if r1:
            real = real.detach().requires_grad_(True)  # a new leaf: the batch is untouched
        both = self._pair(real, fake) if self._batch_discriminators else None
        if both is not None:
            # A per-sample discriminator scores the real and the fake batch in one call.
            seen = self._augment(both)
            real_seen = seen[: real.shape[0]]
            scored = seen if plain is None else seen.detach()
            real_score, fake_score = discriminator(scored).split(real.shape[0])
        else:
            real_seen = self._augment(real)
            real_score = discriminator(real_seen if plain is None else real_seen.detach())
            fake_score = discriminator(self._augment(fake))
        if cfg.relativistic:
            real_term = self._relativistic(real_score, fake_score, True)
            fake_term = self._relativistic(fake_score, real_score, False)
        else:
            real_term = self._gan(real_score, True, for_discriminator=True)
            fake_term = self._gan(fake_score, False, for_discriminator=True)
        loss = 0.5 * (real_term + fake_term)
        if r1:
            if plain is None:
                r1_score = real_score
            elif fp16:
                with torch.autocast(device_type=self.device.type, enabled=False):
                    r1_score = plain(real_seen.float())
            else:
                r1_score = plain(real_seen)
            loss = loss + 0.5 * cfg.r1_gamma * r1_penalty(r1_score, real)
        return loss

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
        fmt = self._memory_format()
        fake_y = self.pool_y.query(outputs["fake_y"]).contiguous(memory_format=fmt)
        fake_x = self.pool_x.query(outputs["fake_x"]).contiguous(memory_format=fmt)
        with self._autocast():
            loss_d_y = self.compute_discriminator_loss(self.networks.d_y, real_y, fake_y)
            loss_d_x = self.compute_discriminator_loss(self.networks.d_x, real_x, fake_x)
        self._backward_and_step(loss_d_x + loss_d_y, self.optimizer_d)
        return loss_d_x, loss_d_y

    def train_step(self, real_x: torch.Tensor, real_y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run one full update: generators, then discriminators (the reference order).

        ``fake_y = g_xy(x)``, ``rec_x = g_yx(fake_y)``, ``fake_x = g_yx(y)``,
        ``rec_y = g_xy(fake_x)``; with both discriminators frozen, one generator Adam step on
        ``g_total``; then, with the discriminators trainable again, ``d_y`` on ``y`` versus
        ``pool_y.query(fake_y)`` and ``d_x`` on ``x`` versus ``pool_x.query(fake_x)`` (fakes
        detached, made before the generator update) and one discriminator Adam step on
        ``d_x + d_y``. It does not advance ``state`` (:meth:`fit` does).

        Host synchronisation: none. The losses stay on the device (the trainer copies them
        to the host every ``log_every`` steps only); with ``amp="fp16"`` the optimisers are
        fused where the device has the kernel (CUDA, CPU), so :class:`torch.amp.GradScaler`
        hands them its inf check and scale as tensors instead of reading them on the host,
        and the scaler is updated once, after both optimiser steps. (With a non-fused
        optimiser, ``GradScaler.step`` reads its inf check on the host once per optimiser.)
        With ``compile_mode="reduce-overhead"`` each step starts a new CUDA-graph step
        (:func:`torch.compiler.cudagraph_mark_step_begin`): the outputs of the previous step's
        networks are overwritten, so keep clones of anything you hold on to (the image pools
        do).

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
        if self.config.compile and self.config.compile_mode != "default":
            torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
        outputs, terms = self._generator_step(x, y)
        loss_d_x, loss_d_y = self._discriminator_step(x, y, outputs)
        if self.scaler is not None:
            self.scaler.update()
        losses = {key: terms[key].detach() for key in LOSS_KEYS[:7]}
        losses["d_x"] = loss_d_x.detach()
        losses["d_y"] = loss_d_y.detach()
        return losses
