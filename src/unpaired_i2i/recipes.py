"""Named training recipes: a model, a config and callbacks that belong together.

:func:`recipe` builds them; ``"reference"`` is exactly the reference CycleGAN
(:meth:`CycleGAN.from_preset` ``("cyclegan")``, :class:`TrainConfig` ``()``, no callbacks) and
``"improved"`` adds the general methods that measured better on held-out data at equal steps
(see the ablation in the training guide).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from unpaired_i2i._checks import check_choice
from unpaired_i2i.models.cyclegan import CYCLEGAN_PRESETS, CycleGAN
from unpaired_i2i.models.generators import ResnetGenerator
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.ema import EMA
from unpaired_i2i.training.config import TrainConfig
from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["IMPROVED_RECIPE", "RECIPES", "RecipeName", "RecipeSpec", "recipe"]

RecipeName: TypeAlias = Literal["reference", "improved"]
#: The recipe names :func:`recipe` accepts.
RECIPES: tuple[RecipeName, ...] = ("reference", "improved")

#: What ``"improved"`` changes relative to ``"reference"``, as :func:`recipe` overrides (each
#: kept by the measured ablation in the training guide).
IMPROVED_RECIPE: Mapping[str, Any] = {
    "ema": 0.999,
    "ema_warmup": True,
    "ema_warmup_power": 8.0,
    "residual": True,
    "local_affine": True,
    "local_affine_detail": 7,
    "lambda_identity": 0.0,
    "d_norm": "none",
}

# Options of recipe() itself, besides generator options and TrainConfig fields.
_RECIPE_KEYS = (
    "preset",
    "discriminator_overrides",
    "d_base_channels",
    "d_norm",
    "spectral_norm",
    "ema",
    "ema_warmup",
    "ema_warmup_power",
)


def _generator_keys() -> tuple[str, ...]:
    params = inspect.signature(ResnetGenerator.__init__).parameters
    return tuple(name for name in params if name != "self")


def _config_keys() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(TrainConfig))


@dataclass
class RecipeSpec:
    """What :func:`recipe` returns: the networks, the config and the callbacks of a recipe.

    Attributes:
        name: The recipe's name.
        model: A freshly initialised :class:`~unpaired_i2i.CycleGAN` (weights drawn from
            torch's global RNG, as :meth:`CycleGAN.from_preset` draws them).
        config: The :class:`~unpaired_i2i.TrainConfig`.
        callbacks: The recipe's own callbacks (e.g. :class:`~unpaired_i2i.EMA`); add yours.
    """

    name: str
    model: CycleGAN
    config: TrainConfig
    callbacks: list[Callback] = field(default_factory=list)

    def trainer(self, **kwargs: Any) -> CycleTrainer:
        """``CycleTrainer(model, config, callbacks=callbacks, **kwargs)``.

        Args:
            **kwargs: Further :class:`~unpaired_i2i.CycleTrainer` arguments (``device``);
                ``callbacks`` given here are added after the recipe's own.
        """
        extra = list(kwargs.pop("callbacks", ()))
        return CycleTrainer(self.model, self.config, callbacks=[*self.callbacks, *extra], **kwargs)


def recipe(name: RecipeName | str, **overrides: Any) -> RecipeSpec:
    """Build a named recipe: a :class:`CycleGAN`, a :class:`TrainConfig` and callbacks.

    ``"reference"`` is the reference CycleGAN unchanged: ``CycleGAN.from_preset("cyclegan")``,
    ``TrainConfig()`` and no callbacks. ``"improved"`` is the reference with
    :data:`IMPROVED_RECIPE` applied:

    * an :class:`~unpaired_i2i.EMA` of the generators (decay 0.999 with EMA's default warm-up,
      ``warmup_power=8``: the ``n``-th update uses ``min(0.999, (1 + n) / (10 + n))``, so until
      the ~9,000th update the weights of step ``i`` count about in proportion to ``i ** 8``: a
      1000-step run's average puts 86% of its weight on the last 200 steps), which
      :meth:`CycleTrainer.inference_generator` returns for evaluation and export;
    * residual generators (``residual=True``: each predicts a change to its input, so the
      scene's structure is kept from the first step);
    * a per-pixel colour matrix of the input's detail in each generator's output
      (``local_affine=True, local_affine_detail=7``: the output is
      ``tanh(r + atanh(x) + M (x - mean_7(x)))``, with ``M`` a ``3 x 3`` matrix per pixel that
      the last layer writes beside ``r``, starting at zero, and ``mean_7`` the ``7 x 7`` box
      mean), so the input's edges, texture and small shapes (trees, ridges) are kept, muted or
      recoloured where the season asks for it, while a region's own colour changes through
      ``r`` alone (28,233 more parameters per generator);
    * no identity term (``lambda_identity=0``: with residual generators it only held the
      colours back; it also saves two of the six generator calls of a step);
    * discriminators without normalisation (``d_norm="none"``, the shorthand for
      ``discriminator_overrides={"norm": "none"}``): InstanceNorm subtracts each feature map's
      mean over the image, which hides the image's absolute colours from the discriminators,
      and colour is most of what a season changes. Same layers and parameter count (the
      reference's InstanceNorm has no affine parameters).

    The networks' parameters, optimiser, adversarial and cycle losses, learning rates, image
    pool and schedule are the reference's. Other methods measured (resize-convolution
    upsampling, spectral normalisation, cycle noise, ...) are options here, e.g.
    ``recipe("improved", upsampling="resize_conv")``; see the recipes guide.

    Overrides change the recipe's choices or add to them, by name:

    * generator options (every :class:`ResnetGenerator` argument: ``n_blocks``,
      ``base_channels``, ``upsampling``, ``norm``, ``dropout``, ...), applied to both generators
      (``residual=False`` takes the recipe's colour matrix with it, and ``local_affine=False``
      its ``local_affine_detail``, unless given too);
    * ``preset`` (``"cyclegan"`` or ``"basic"``), ``discriminator_overrides`` (a dict of
      :class:`ConvDiscriminator` arguments for both discriminators) and the shorthands
      ``d_base_channels``, ``d_norm`` and ``spectral_norm`` for three of them (a recipe's own
      ``d_norm`` gives way to a ``"norm"`` in ``discriminator_overrides``);
    * every :class:`TrainConfig` field (``lr``, ``lr_d``, ``gan_mode``, ``pool_size``,
      ``seed``, ``epochs``, ...);
    * ``ema``: the EMA decay (``None`` or ``0`` removes the EMA callback; a float adds or
      changes it), ``ema_warmup`` (bool) and ``ema_warmup_power`` (the warm-up ramp's power,
      see :class:`~unpaired_i2i.EMA`).

    Args:
        name: ``"reference"`` or ``"improved"``.
        **overrides: See above.

    Returns:
        A :class:`RecipeSpec` with ``model``, ``config`` and ``callbacks``.

    Raises:
        ValueError: ``name`` is not a recipe, or an override value is invalid (raised by the
            class it is passed to, naming it).
        TypeError: An override is not a known option (the message lists the valid names).

    Example:
        >>> spec = recipe("reference", n_blocks=6)
        >>> sum(p.numel() for p in spec.model.g_xy.parameters()), spec.config == TrainConfig()
        (7837699, True)
        >>> spec = recipe("improved", n_blocks=6, lr=1e-4)
        >>> spec.config.lr, spec.callbacks
        (0.0001, [EMA(decay=0.999, every_n_steps=1, start_step=0, warmup=True)])
    """
    check_choice("recipe name", name, RECIPES)
    defaults: dict[str, Any] = dict(IMPROVED_RECIPE) if name == "improved" else {}
    # The recipe's colour matrix belongs to its residual generators, its detail window to the
    # matrix: each goes with the option it needs, unless the caller names it too.
    if overrides.get("residual") is False and "local_affine" not in overrides:
        defaults.pop("local_affine", None)
    if not overrides.get("local_affine", defaults.get("local_affine", False)):
        if "local_affine_detail" not in overrides:
            defaults.pop("local_affine_detail", None)
    options: dict[str, Any] = {**defaults, **overrides}

    generator_keys = _generator_keys()
    config_keys = _config_keys()
    known = {*generator_keys, *config_keys, *_RECIPE_KEYS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"recipe({name!r}) got unknown option(s) {unknown}; valid: generator options "
            f"{sorted(generator_keys)}, TrainConfig fields {sorted(config_keys)}, and "
            f"{sorted(_RECIPE_KEYS)}"
        )

    preset = options.pop("preset", "cyclegan")
    check_choice("recipe preset", preset, CYCLEGAN_PRESETS)
    # Discriminator options: the recipe's shorthands, then discriminator_overrides, then the
    # caller's shorthands (so a caller's {"norm": ...} beats the recipe's d_norm).
    shorthands = (
        ("d_base_channels", "base_channels"),
        ("d_norm", "norm"),
        ("spectral_norm", "spectral_norm"),
    )
    d_over: dict[str, Any] = {
        key: defaults[short] for short, key in shorthands if short in defaults
    }
    d_over.update(options.pop("discriminator_overrides", None) or {})
    d_over.update({key: overrides[short] for short, key in shorthands if short in overrides})
    for short, _ in shorthands:
        options.pop(short, None)
    ema = options.pop("ema", None)
    # ema_warmup -> EMA(warmup=...), ema_warmup_power -> EMA(warmup_power=...); else EMA's defaults
    ema_options = {
        key.removeprefix("ema_"): options.pop(key)
        for key in ("ema_warmup", "ema_warmup_power")
        if key in options
    }
    config = TrainConfig(**{k: options.pop(k) for k in config_keys if k in options})
    generator = {k: options.pop(k) for k in generator_keys if k in options}
    assert not options, options
    model = CycleGAN.from_preset(preset, discriminator_overrides=d_over, **generator)

    callbacks: list[Callback] = []
    if ema is not None and ema != 0:
        callbacks.append(EMA(ema, **ema_options))
    return RecipeSpec(name=name, model=model, config=config, callbacks=callbacks)
