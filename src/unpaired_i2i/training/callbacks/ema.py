"""The :class:`EMA` callback: an exponential moving average of both generators' weights."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from unpaired_i2i._checks import check_bool, check_float, check_int
from unpaired_i2i.training.callbacks.base import Callback

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["EMA"]


class EMA(Callback):
    """Keep an exponential moving average of both generators' weights.

    At every ``every_n_steps``-th step after ``start_step`` the averages are updated,
    ``w_ema = decay * w_ema + (1 - decay) * w`` for every parameter and buffer; the first
    update copies the weights. With ``warmup=True`` the ``n``-th update (``n`` updates before
    it) uses ``min(decay, (1 + n) / (2 + warmup_power + n))`` instead: the average forgets the
    first, untrained weights quickly, so a short run is not dominated by its initial weights
    (at 0.999 without warm-up, the weights of the first step still make up 37% of the average
    1000 steps later). Until ``decay`` is reached, the weights of update ``i`` count in the
    average about in proportion to ``i ** warmup_power`` (the power-function EMA of Karras et
    al. 2024): the default 8 is the schedule of TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``, ``(1 + n) / (10 + n)``, which averages about the last ninth of the updates
    and reaches ``decay`` after about ``9 / (1 - decay)`` of them; a smaller power averages a
    longer stretch (0: about the plain mean of all updates so far, the first counted twice).
    The averages are :class:`torch.optim.swa_utils.AveragedModel` instances
    (``get_ema_multi_avg_fn(decay)``, ``use_buffers=True``) created from the trainer's
    generators when ``fit`` starts or a checkpoint is loaded, in eval mode and without
    gradients. The update applies the same EMA function to the same tensors as
    ``AveragedModel.update_parameters`` but keeps the averaging count on the host, so it never
    waits for the device.

    Its state (``state_key`` ``"EMA"``) travels in checkpoints, so a resumed run continues the
    same average (bitwise, on the CPU). A checkpoint then holds, under
    ``checkpoint["callbacks"]["EMA"]``: ``"g_xy"`` and ``"g_yx"``, the state dicts of the
    averaged generators with the plain generator keys (load them into a
    :class:`~unpaired_i2i.ResnetGenerator` directly; present once something was averaged),
    ``"n_averaged"`` (int) and the settings ``"decay"``, ``"every_n_steps"`` and
    ``"start_step"``. :func:`~unpaired_i2i.load_cyclegan` uses them by default.
    :class:`SampleGrid` shows the averaged generators once there are any.

    Args:
        decay: Weight of the old average, in ``(0, 1)``.
        every_n_steps: Update every this many steps.
        start_step: Update only after this step (the first update copies the weights).
        warmup: Ramp the decay up (see above) instead of using ``decay`` from the second
            update on.
        warmup_power: The ramp's power, ``>= 0`` (see above; only used with ``warmup``).

    Raises:
        ValueError: ``decay`` outside ``(0, 1)``, ``every_n_steps`` below 1,
            ``start_step`` below 0 or ``warmup_power`` below 0.

    Example:
        >>> ema = EMA(0.99, every_n_steps=2)
        >>> ema.state_key, ema.n_averaged
        ('EMA', 0)
    """

    def __init__(
        self,
        decay: float = 0.999,
        *,
        every_n_steps: int = 1,
        start_step: int = 0,
        warmup: bool = False,
        warmup_power: float = 8.0,
    ) -> None:
        self.decay = check_float(
            "EMA decay", decay, expected="a float in (0, 1)", ok=lambda v: 0.0 < v < 1.0
        )
        self.every_n_steps = check_int("EMA every_n_steps", every_n_steps, 1)
        self.start_step = check_int("EMA start_step", start_step, 0)
        self.warmup = check_bool("EMA warmup", warmup)
        self.warmup_power = check_float(
            "EMA warmup_power", warmup_power, expected="a float >= 0", ok=lambda v: v >= 0.0
        )
        self._avg_fn: Callable[..., None] = get_ema_multi_avg_fn(self.decay)  # type: ignore[no-untyped-call]
        self._averaged: tuple[AveragedModel, AveragedModel] | None = None
        self._sources: tuple[nn.Module, nn.Module] | None = None
        self._pending: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"EMA(decay={self.decay}, every_n_steps={self.every_n_steps}, "
            f"start_step={self.start_step}, warmup={self.warmup}"
            + (f", warmup_power={self.warmup_power:g})" if self.warmup_power != 8.0 else ")")
        )

    @property
    def state_key(self) -> str:
        """Always ``"EMA"`` (where :func:`~unpaired_i2i.load_cyclegan` looks)."""
        return "EMA"

    @property
    def averaged_models(self) -> tuple[AveragedModel, AveragedModel]:
        """The two :class:`~torch.optim.swa_utils.AveragedModel` (X to Y, Y to X).

        Raises:
            RuntimeError: Neither ``fit`` has started nor a checkpoint has been loaded yet.
        """
        if self._averaged is None:
            raise RuntimeError(
                "EMA has no averaged generators yet: they are created when fit starts or a "
                "checkpoint is loaded"
            )
        return self._averaged

    @property
    def generator_xy(self) -> nn.Module:
        """The averaged X-to-Y generator (``AveragedModel.module``)."""
        module: nn.Module = self.averaged_models[0].module
        return module

    @property
    def generator_yx(self) -> nn.Module:
        """The averaged Y-to-X generator (``AveragedModel.module``)."""
        module: nn.Module = self.averaged_models[1].module
        return module

    @property
    def generators(self) -> tuple[nn.Module, nn.Module]:
        """``(generator_xy, generator_yx)``."""
        return self.generator_xy, self.generator_yx

    @property
    def n_averaged(self) -> int:
        """How many updates the average has had (0: the next update copies the weights)."""
        if self._averaged is None:
            return int(self._pending.get("n_averaged", 0)) if self._pending else 0
        return int(self._averaged[0].n_averaged)  # a CPU tensor: no device sync

    def _settings(self) -> dict[str, Any]:
        return {
            "decay": self.decay,
            "every_n_steps": self.every_n_steps,
            "start_step": self.start_step,
            "warmup": self.warmup,
            "warmup_power": self.warmup_power,
        }

    def state_dict(self) -> dict[str, Any]:
        """Return ``g_xy`` / ``g_yx`` (once averaged), ``n_averaged`` and the settings."""
        if self._averaged is None and self._pending is not None:
            return dict(self._pending)
        n = self.n_averaged
        state: dict[str, Any] = {"n_averaged": n, **self._settings()}
        if n > 0:
            state["g_xy"] = self.generator_xy.state_dict()
            state["g_yx"] = self.generator_yx.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (applied when the models exist).

        Args:
            state: The stored state.

        Raises:
            ValueError: The state counts averages but lacks the weights.
        """
        n = int(state.get("n_averaged", 0))
        if n > 0 and not ("g_xy" in state and "g_yx" in state):
            raise ValueError(
                f"EMA state has n_averaged={n} but lacks the 'g_xy' / 'g_yx' weights; "
                f"got keys {sorted(state)}"
            )
        changed = {
            name: state[name]
            for name, value in self._settings().items()
            if name in state and state[name] != value
        }
        if changed:
            warnings.warn(
                f"EMA state was written with other settings {changed}; continuing with {self!r}",
                UserWarning,
                stacklevel=2,
            )
        self._pending = {**state, "n_averaged": n}
        if self._averaged is not None:
            self._apply_pending()

    def _apply_pending(self) -> None:
        state, self._pending = self._pending, None
        if state is None or self._averaged is None:
            return
        n = int(state["n_averaged"])
        for averaged, key in zip(self._averaged, ("g_xy", "g_yx"), strict=True):
            if n > 0:
                try:
                    averaged.module.load_state_dict(state[key])
                except RuntimeError as err:
                    raise ValueError(
                        f"EMA state {key!r} does not fit the trainer's generator: {err}"
                    ) from err
            averaged.n_averaged.fill_(n)

    def _build(self, trainer: CycleTrainer) -> None:
        sources = (trainer.model.g_xy, trainer.model.g_yx)
        if self._sources is not None and all(
            a is b for a, b in zip(self._sources, sources, strict=True)
        ):
            return
        averaged = tuple(
            AveragedModel(g, multi_avg_fn=self._avg_fn, use_buffers=True) for g in sources
        )
        for model in averaged:
            model.module.eval()
            model.requires_grad_(False)
        self._averaged = (averaged[0], averaged[1])
        self._sources = sources

    @torch.no_grad()
    def update(self) -> None:
        """Fold the generators' current weights into the averages now.

        Raises:
            RuntimeError: The averages do not exist yet.
        """
        averaged_models = self.averaged_models
        assert self._sources is not None
        for averaged, source in zip(averaged_models, self._sources, strict=True):
            ema = [*averaged.module.parameters(), *averaged.module.buffers()]
            live = [*source.parameters(), *source.buffers()]
            if len(ema) != len(live):
                raise RuntimeError(
                    f"EMA: the generator has {len(live)} tensors, its average {len(ema)}"
                )
            if int(averaged.n_averaged) == 0:
                for e, w in zip(ema, live, strict=True):
                    e.copy_(w.detach())
            else:
                groups: dict[tuple[torch.device, torch.dtype], tuple[list[Any], list[Any]]] = {}
                for e, w in zip(ema, live, strict=True):
                    ema_list, live_list = groups.setdefault((e.device, e.dtype), ([], []))
                    ema_list.append(e.detach())
                    live_list.append(w.detach().to(e.device))
                avg_fn = self._avg_fn
                if self.warmup:
                    n = int(averaged.n_averaged)
                    decay = min(self.decay, (1 + n) / (2 + self.warmup_power + n))
                    avg_fn = get_ema_multi_avg_fn(decay)  # type: ignore[no-untyped-call]
                for ema_list, live_list in groups.values():
                    avg_fn(ema_list, live_list, averaged.n_averaged)
            averaged.n_averaged += 1

    def inference_generator(self, trainer: CycleTrainer, direction: str) -> nn.Module | None:
        """The averaged generator of ``direction`` once something was averaged, else ``None``."""
        if self._averaged is None or self.n_averaged == 0:
            return None
        return self.generator_xy if direction == "xy" else self.generator_yx

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Create the averages (and apply a restored state)."""
        self._build(trainer)
        self._apply_pending()

    def on_checkpoint_load(self, trainer: CycleTrainer, checkpoint: Mapping[str, Any]) -> None:
        """Create the averages and apply the checkpoint's state."""
        self._build(trainer)
        self._apply_pending()

    def on_step_end(
        self, trainer: CycleTrainer, batch: Any, losses: Mapping[str, torch.Tensor]
    ) -> None:
        """Update every ``every_n_steps`` steps after ``start_step``."""
        step = trainer.state.step
        if step > self.start_step and step % self.every_n_steps == 0:
            self._build(trainer)
            self.update()
