"""Recipe ablation: train candidates on the built-in season data, score them, time them; JSON out.

Usage::

    # one training run (a fresh process per run), results appended to OUT/runs.jsonl
    python benchmarks/recipes.py run --candidate reference --seed 0
    # a queue of runs; runs already in OUT/runs.jsonl are skipped (so a killed queue resumes)
    python benchmarks/recipes.py queue --candidates reference improved --seeds 0 1
    # per-step wall time of candidates, alternated in one process, against the reference
    python benchmarks/recipes.py time --candidates reference improved
    # the ablation table (Markdown) from OUT/runs.jsonl
    python benchmarks/recipes.py table
    # two candidates run by run: same seed, size, threads and CPU model; mean difference, SE
    python benchmarks/recipes.py paired --base improved --candidates improved+r1
    # L1 of predictors without a network (input, mean winter, a fitted colour map)
    python benchmarks/recipes.py baselines
    # sample grids of runs saved with --save (test scenes; photos translated whole)
    # (a finished run that kept checkpoints: run it again with --save --no-record to save
    # its weights without training or recording it twice)
    python benchmarks/recipes.py grid --candidates reference improved --photos coffee.png

Protocol (issue 13): the built-in season data as ``unpaired-i2i train --demo`` draws it
(200 training scenes per season drawn at 128 px, loaded at ``--size`` with the demo's
``resize_and_crop`` + flip), a CycleGAN with ``n_blocks`` residual blocks at the preset's
width, batch 1 (``_BATCH_SIZES`` names the candidates with more), ``--steps`` steps,
float32, CPU. Each run scores the generator that :meth:`CycleTrainer.inference_generator`
returns (X->Y) on two paired sets:

* **validation** (used to choose): 32 scenes drawn from the *training* scene stream after
  the 200 that are trained on (``make_season_dataset``'s ``trainA`` geometries 200..231),
  in both seasons, so they are true pairs the run never saw;
* **test** (reported once per candidate, never used to choose): the demo's 16 paired test
  scenes (``testA``/``testB``).

A candidate is ``recipe(name, **overrides)`` plus optional changes to it (see
``CANDIDATES``); the ablation rows are the reference with one method added and the improved
recipe with one method removed.

A run is fixed by its candidate, seed *and* ``--threads``: another thread count sums in
another order and the GAN's trajectory diverges (the improved recipe's seed 1 scored 0.163
with 2 threads and 0.184 with 1), and so does another CPU kind; so the table names each run's
seed and threads, and a queue treats a (candidate, seed) pair as done only for the same
thread count on the same CPU model. Each run also
scores the trained generator and *shadow* EMAs (``--shadow-ema``, ``--shadow-power``;
:func:`shadow_emas`), callbacks that only read the weights, under ``"shadows"`` in its
record.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "recipes"


def _layer_norm(channels: int) -> Any:
    """``GroupNorm`` with one group and no affine parameters: a layer norm of each sample."""
    from torch import nn

    return nn.GroupNorm(1, channels, affine=False)


def _affine_instance_norm(channels: int) -> Any:
    """``InstanceNorm2d`` with a learned per-channel scale and shift (``affine=True``)."""
    from torch import nn

    return nn.InstanceNorm2d(channels, affine=True)


def _prototype(stem: str) -> Any:
    """``benchmarks/<stem>.py`` (a prototype not yet in the library), loaded by its path."""
    import importlib.util

    name = f"_{stem}_benchmark"
    if name not in sys.modules:
        path = Path(__file__).resolve().with_name(f"{stem}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# method in a candidate's name -> (prototype in benchmarks/, the trainer subclass it trains with)
_PROTOTYPE_TRAINERS = {
    "patch_nce": ("patch_nce", "PatchNCETrainer"),
    "lsgan_pearson": ("lsgan_targets", "PearsonLSGANTrainer"),
    "label_smoothing": ("lsgan_targets", "SmoothedLabelsTrainer"),
    "instance_noise": ("instance_noise", "InstanceNoiseTrainer"),
    "feature_matching": ("feature_matching", "FeatureMatchingTrainer"),
    "bcr": ("consistency", "ConsistencyTrainer"),
    "cycle_ssim": ("ssim_cycle", "SSIMCycleTrainer"),
    "amsgrad": ("amsgrad", "AMSGradTrainer"),
    "cycle_decay": ("cycle_decay", "CycleDecayTrainer"),
    "zclip": ("zclip", "ZClipTrainer"),
    "d_first": ("d_first", "DFirstTrainer"),
    "half_history": ("half_history", "HalfHistoryTrainer"),
    "r3gan": ("r2", "R2Trainer"),
}


def _trainer_class(candidate: str) -> Any:
    """The trainer a candidate trains with: ``CycleTrainer``, or a prototype's subclass."""
    for method, (stem, trainer) in _PROTOTYPE_TRAINERS.items():
        if f"+{method}" in candidate:
            return getattr(_prototype(stem), trainer)
    from unpaired_i2i import CycleTrainer

    return CycleTrainer


def _generator_record(generator: Any) -> dict[str, Any]:
    """The generator's architecture for a run's record; a norm factory is named, not lost."""
    try:
        config: dict[str, Any] = generator.get_config()
    except ValueError:
        config = dict(generator._config)
        norm = config["norm"]
        config["norm"] = getattr(norm, "__name__", repr(norm))
    return config


def _candidates() -> dict[str, Callable[[int, dict[str, Any]], Any]]:
    """Candidate name -> builder ``(seed, model_overrides) -> RecipeSpec``.

    Every candidate is ``recipe("reference", ...)`` with the named methods added, so a name
    means the same runs whatever ``"improved"`` is at the time; ``"improved"`` is the recipe
    as the library defines it now: since the evening of 2026-12-01 the same runs as
    ``ref+ema_p2+residual+no_identity+d_no_norm``; earlier that day, as
    ``ref+ema+residual+no_identity+d_no_norm`` (its average warmed up with power 8); before,
    as ``ref+ema+residual+no_identity`` (the records of the runs named ``"improved"`` before
    each change carry those names).
    """
    from unpaired_i2i import recipe

    ema = {"ema": 0.999, "ema_warmup": True}

    def of(name: str, **fields: Any) -> Callable[[int, dict[str, Any]], Any]:
        def build(seed: int, over: dict[str, Any]) -> Any:
            # the candidate's own fields win over the run's (g_width48's width over --width)
            return recipe(name, seed=seed, **{**over, **fields})

        return build

    def ref(**fields: Any) -> Callable[[int, dict[str, Any]], Any]:
        return of("reference", **fields)

    def ref_ema(**fields: Any) -> Callable[[int, dict[str, Any]], Any]:
        return ref(**ema, **fields)

    def imp(**fields: Any) -> Callable[[int, dict[str, Any]], Any]:
        # ref+ema+residual+no_identity: the improved recipe as of 511c7cb, spelled out
        return ref_ema(**{"residual": True, "lambda_identity": 0.0, **fields})

    def cur(
        *, discriminator_overrides: dict[str, Any] | None = None, **fields: Any
    ) -> Callable[[int, dict[str, Any]], Any]:
        # the improved recipe as of 270a761, spelled out; discriminator overrides go on top of
        # its norm-free discriminators
        d_over = {"norm": "none", **(discriminator_overrides or {})}
        return imp(discriminator_overrides=d_over, ema_warmup_power=2.0, **fields)

    def edited(
        build: Callable[[int, dict[str, Any]], Any], edit: Callable[[Any], None]
    ) -> Callable[[int, dict[str, Any]], Any]:
        # ``build``'s spec changed in place by ``edit`` (a prototype's parts added to it)
        def build_edited(seed: int, over: dict[str, Any]) -> Any:
            spec = build(seed, over)
            edit(spec)
            return spec

        return build_edited

    def each_generator(change: Callable[[Any], None]) -> Callable[[Any], None]:
        # an edit that makes ``change`` to both generators of the spec
        def edit(spec: Any) -> None:
            for generator in spec.model.generators:
                change(generator)

        return edit

    def patch_heads(generator: Any) -> None:
        # the PatchNCE prototype's MLPs (train with _trainer_class)
        _prototype("patch_nce").add_patch_heads(generator)

    def lookahead(spec: Any) -> None:
        # the Lookahead prototype's callback, first, so the average sees synchronised weights
        spec.callbacks.insert(0, _prototype("lookahead").Lookahead(k=5, alpha=0.5))

    def optimism(spec: Any) -> None:
        # the optimistic-step prototype's callback, first, so the average sees corrected weights
        spec.callbacks.insert(0, _prototype("optimism").OptimisticStep())

    def warmup(spec: Any) -> None:
        # the warm-up prototype's callback (it only sets the optimisers' rates)
        spec.callbacks.insert(0, _prototype("lr_warmup").LinearWarmup(100))

    def attention(generator: Any) -> None:
        # the self-attention prototype's block
        _prototype("self_attention").add_self_attention(generator)

    def up_blur(generator: Any) -> None:
        # the blur prototype's filter after the transposed convolutions
        _prototype("blur").add_up_blur(generator)

    def down_blur(generator: Any) -> None:
        # the blur prototype's filter before the encoder's stride-2 convolutions
        _prototype("blur").add_down_blur(generator.encoder)

    def d_blur(spec: Any) -> None:
        # the same filter before the discriminators' stride-2 convolutions
        for discriminator in spec.model.discriminators:
            _prototype("blur").add_down_blur(discriminator.features)

    def unet_skips(generator: Any) -> None:
        # the U-Net prototype's gated skips from the encoder to the decoder
        _prototype("unet_skips").add_unet_skips(generator)

    def pixel_shuffle(generator: Any) -> None:
        # the sub-pixel prototype's upsampling, ICNR-initialised from the recipe's own draw
        _prototype("pixel_shuffle").add_pixel_shuffle(generator)

    def leaky(generator: Any) -> None:
        # every ReLU of the generator a LeakyReLU with slope 0.2 (the weights unchanged)
        from torch import nn

        for parent in list(generator.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.ReLU):
                    setattr(parent, name, nn.LeakyReLU(0.2))

    def g_spectral(generator: Any) -> None:
        # spectral normalisation of every conv (SAGAN's generators)
        from torch import nn
        from torch.nn.utils.parametrizations import spectral_norm

        for module in list(generator.modules()):
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                spectral_norm(module)

    def stem_without_norm(generator: Any) -> None:
        # the first conv without its InstanceNorm (as the discriminators' first layer has
        # none): the input's absolute colours reach the features
        from torch import nn

        generator.stem.norm = nn.Identity()

    def d_reflect(spec: Any) -> None:
        # reflection padding in the discriminators' convs: the same weights, no zero border
        from torch import nn

        for d in (spec.model.d_x, spec.model.d_y):
            for module in d.modules():
                if isinstance(module, nn.Conv2d) and module.padding != (0, 0):
                    module.padding_mode = "reflect"

    def two_scales(spec: Any) -> None:
        # the two-scale prototype's discriminators, the recipe's weights at the fine scale
        two_scale = _prototype("multiscale").two_scale
        spec.model.d_x = two_scale(spec.model.d_x)
        spec.model.d_y = two_scale(spec.model.d_y)

    return {
        "reference": ref(),
        "improved": of("improved"),
        # the reference plus one method
        "ref+ema": ref_ema(),
        "ref+residual": ref(residual=True),
        "ref+no_identity": ref(lambda_identity=0.0),
        "ref+resize_conv": ref(upsampling="resize_conv"),
        "ref+spectral_norm": ref(spectral_norm=True),
        "ref+ttur": ref(lr=1e-4, lr_d=4e-4),
        "ref+hinge": ref(gan_mode="hinge"),
        "ref+no_pool": ref(pool_size=0),
        "ref+cycle_noise": ref(cycle_noise=0.1),
        # the improved recipe since 511c7cb, spelled out (its records carry this name)
        "ref+ema+residual+no_identity": imp(),
        # the improved recipe without one of its methods
        "ref+residual+no_identity": ref(residual=True, lambda_identity=0.0),  # improved - EMA
        "ref+ema+no_identity": ref_ema(lambda_identity=0.0),  # improved - residual
        "ref+ema+residual": ref_ema(residual=True),  # improved - no identity
        # the reference + EMA plus more (measured while EMA alone was "improved")
        "ref+ema+resize_conv": ref_ema(upsampling="resize_conv"),
        "ref+ema+resize_conv+spectral_norm": ref_ema(upsampling="resize_conv", spectral_norm=True),
        "ref+ema+up_kernel4": ref_ema(up_kernel_size=4),
        "ref+ema+identity1": ref_ema(lambda_identity=1.0),
        "ref+ema+hinge": ref_ema(gan_mode="hinge"),
        "ref+ema+ttur": ref_ema(lr=1e-4, lr_d=4e-4),
        "ref+ema+no_pool": ref_ema(pool_size=0),
        "ref+ema+cycle_noise": ref_ema(cycle_noise=0.1),
        "ref+ema+lr2x": ref_ema(lr=4e-4),
        "ref+ema+d_layers2": ref_ema(discriminator_overrides={"n_layers": 2}),
        # ref+ema+residual+no_identity (= improved as of 511c7cb) plus one more method
        "ref+ema+residual+no_identity+lr2x": imp(lr=4e-4),
        "ref+ema+residual+no_identity+ttur": imp(lr_d=8e-4),
        "ref+ema+residual+no_identity+cycle5": imp(lambda_cycle=5.0),
        # residual generators keep the scene by construction: does the cycle term still need
        # the reference's weight?
        "ref+ema+residual+no_identity+cycle2": imp(lambda_cycle=2.0),
        "ref+ema+residual+no_identity+hinge": imp(gan_mode="hinge"),
        "ref+ema+residual+no_identity+no_pool": imp(pool_size=0),
        "ref+ema+residual+no_identity+up_kernel4": imp(up_kernel_size=4),
        "ref+ema+residual+identity0.1": imp(lambda_identity=0.1),
        "ref+ema+residual+no_identity+d_layers2": imp(discriminator_overrides={"n_layers": 2}),
        "ref+ema+residual+no_identity+resize_conv+spectral_norm": imp(
            upsampling="resize_conv", spectral_norm=True
        ),
        "ref+ema+residual+no_identity+beta2_0.99": imp(betas=(0.5, 0.99)),
        "ref+ema+residual+no_identity+decay": imp(epochs=0, decay_epochs=5),
        # the discriminators learn at half the generators' rate (TTUR the other way round:
        # discriminators four times faster, "+ttur", lost)
        "ref+ema+residual+no_identity+slow_d": imp(lr_d=1e-4),
        # ... and the generators at twice the reference's rate, the discriminators at it
        "ref+ema+residual+no_identity+fast_g": imp(lr=4e-4, lr_d=2e-4),
        # the two that gained on the small networks (8 seeds each), together
        "ref+ema+residual+no_identity+cycle5+slow_d": imp(lambda_cycle=5.0, lr_d=1e-4),
        # StyleGAN2's Adam betas (no first-moment momentum, second moment over ~100 steps)
        "ref+ema+residual+no_identity+betas_0_0.99": imp(betas=(0.0, 0.99)),
        # R1 on real images, gamma from StyleGAN2-ADA's rule 0.0002 * size^2 / batch (0.8 at
        # 64x64, batch 1), rounded; relativistic average LSGAN
        "ref+ema+residual+no_identity+r1": imp(r1_gamma=1.0),
        "ref+ema+residual+no_identity+relativistic": imp(relativistic=True),
        # two images per step, the learning rate scaled by sqrt(2) (Adam's square-root rule)
        "ref+ema+residual+no_identity+batch2": imp(lr=2e-4 * 2**0.5),
        # the head that writes the image starts at zero: the untrained residual generator is
        # exactly the identity, not the input plus the random head's noise
        "ref+ema+residual+no_identity+zero_out": imp(zero_init_output=True),
        # ... with the second-moment average over ~100 steps (beta2_0.99 split 1-1 on two seeds)
        "ref+ema+residual+no_identity+zero_out+beta2_0.99": imp(
            zero_init_output=True, betas=(0.5, 0.99)
        ),
        # DiffAugment (Zhao et al. 2020) on what the discriminators see: the paper's policy
        # for small datasets, and the shift alone
        "ref+ema+residual+no_identity+diffaug": imp(d_augment=("translation", "cutout")),
        "ref+ema+residual+no_identity+diffaug_shift": imp(d_augment=("translation",)),
        # discriminators without InstanceNorm (the first layer never had one): instance
        # statistics remove each feature map's mean, and with it the image's absolute colour,
        # which is what a season changes most
        "ref+ema+residual+no_identity+d_no_norm": imp(discriminator_overrides={"norm": "none"}),
        # ... with Adam's second moment averaged over ~100 steps (StyleGAN2's beta2), the gain
        # of the recipe before d_no_norm (-11.3% against -9.0% on validation, two seeds)
        "ref+ema+residual+no_identity+d_no_norm+beta2_0.99": imp(
            discriminator_overrides={"norm": "none"}, betas=(0.5, 0.99)
        ),
        # the improved recipe as of 270a761 (discriminators without norm, the average warmed
        # up with power 2), spelled out, plus one more method
        "ref+ema_p2+residual+no_identity+d_no_norm": cur(),
        # spectral normalisation in the norm-free discriminators (SNGAN's discriminator): a
        # Lipschitz bound in place of the InstanceNorm the recipe removed
        "ref+ema_p2+residual+no_identity+d_no_norm+spectral_norm": cur(spectral_norm=True),
        # R1 on real images (gamma as in "+r1" above): the norm-free discriminators' gradients
        # kept small where the data lie
        "ref+ema_p2+residual+no_identity+d_no_norm+r1": cur(r1_gamma=1.0),
        "ref+ema_p2+residual+no_identity+d_no_norm+slow_d": cur(lr_d=1e-4),
        # ... and generators without InstanceNorm too: with residual generators the change to
        # make depends on the input's absolute colours, which InstanceNorm takes from the
        # features (the argument that removed it from the discriminators)
        "ref+ema_p2+residual+no_identity+d_no_norm+g_no_norm": cur(norm="none"),
        # the reference's schedule (full rate, then a linear decay over the second half)
        # squeezed into the run: 1000 steps are five epochs of the 200 training images, the
        # rate 1, 1, 0.75, 0.5, 0.25 of lr in them; aimed at the late excursions (about one
        # run in four moves away in its last steps and the average keeps it)
        "ref+ema_p2+residual+no_identity+d_no_norm+late_decay": cur(epochs=2, decay_epochs=3),
        # the one clear gain of the eight-seed screen of narrow networks (cycle weight 5), on
        # the norm-free recipe
        "ref+ema_p2+residual+no_identity+d_no_norm+cycle5": cur(lambda_cycle=5.0),
        # ... and the other way: twice the reference's cycle weight (the cycle weight of 5 lost
        # 0.037 on seed 0 of the norm-free recipe), the adversarial terms weighing half as much
        "ref+ema_p2+residual+no_identity+d_no_norm+cycle20": cur(lambda_cycle=20.0),
        # no image pool (the discriminators judge the current generators' output only): with
        # norm-free discriminators that see each image's colour, the pool's older fakes are
        # colours the generators may have left behind
        "ref+ema_p2+residual+no_identity+d_no_norm+no_pool": cur(pool_size=0),
        # twice the reference's learning rate for all four networks: the recipe's runs are
        # still improving at step 1000
        "ref+ema_p2+residual+no_identity+d_no_norm+lr2x": cur(lr=4e-4),
        # ... and the other way: a pool twice the reference's (no pool lost 0.0085 on seed 0)
        "ref+ema_p2+residual+no_identity+d_no_norm+pool100": cur(pool_size=100),
        # generators with a layer norm (GroupNorm with one group, no affine parameters) in
        # place of InstanceNorm: without any norm they never left the identity (g_no_norm), and
        # InstanceNorm removes each channel's mean, so the change the residual generator adds
        # cannot depend on the image's absolute colour; a layer norm keeps the activations
        # bounded and the colour in how the channels differ
        "ref+ema_p2+residual+no_identity+d_no_norm+g_layer_norm": cur(norm=_layer_norm),
        # half the reference's learning rate for all four networks (twice it lost on seed 0)
        "ref+ema_p2+residual+no_identity+d_no_norm+lr_half": cur(lr=1e-4),
        # a fourth stride-2 layer in the discriminators: 142x142 patches, so at 64x64 each of
        # the 2x2 scores judges the whole image (a global discriminator, the coarse scale of
        # pix2pixHD's multi-scale one), aimed at each scene's overall colour
        "ref+ema_p2+residual+no_identity+d_no_norm+d_layers4": cur(
            discriminator_overrides={"n_layers": 4}
        ),
        # ... and the other way: two stride-2 layers, 34x34 patches (pix2pix's smaller
        # PatchGAN), 14x14 scores at 64x64
        "ref+ema_p2+residual+no_identity+d_no_norm+d_layers2": cur(
            discriminator_overrides={"n_layers": 2}
        ),
        # resize-convolution upsampling (Odena et al. 2016: nearest-neighbour upsampling, then
        # a stride-1 conv) in place of the transposed convs, which leave a checkerboard on
        # real photos; lost on the reference + EMA (one run) before the recipe took its form
        "ref+ema_p2+residual+no_identity+d_no_norm+resize_conv": cur(upsampling="resize_conv"),
        # StyleGAN2's Adam betas (no first-moment momentum, the second moment over ~100 steps)
        # for all four networks: the step follows the current gradient, aimed at the late
        # excursions of about one run in four
        "ref+ema_p2+residual+no_identity+d_no_norm+betas_0_0.99": cur(betas=(0.0, 0.99)),
        # CUT's patchwise contrastive loss (PatchNCE, Park et al. 2020; benchmarks/patch_nce.py)
        # added for each generator with CUT's weight 1: each output patch is tied to the input
        # patch at its place, in the generator's own encoder features, rather than the whole
        # image to its cycle
        "ref+ema_p2+residual+no_identity+d_no_norm+patch_nce": edited(
            cur(), each_generator(patch_heads)
        ),
        # transposed convs with a 4x4 kernel (stride 2): every output pixel gets the same
        # number of kernel taps, so no checkerboard from uneven overlap (Odena et al. 2016),
        # with the reference's upsampling kept otherwise
        "ref+ema_p2+residual+no_identity+d_no_norm+up_kernel4": cur(up_kernel_size=4),
        # discriminators half as wide (32 channels in the first layer, 256 in the last): the
        # generators' adversary with a quarter of the weights, a capacity knob not tried yet
        "ref+ema_p2+residual+no_identity+d_no_norm+d_width32": cur(d_base_channels=32),
        # ... and twice as wide (128 to 1024 channels, four times the weights)
        "ref+ema_p2+residual+no_identity+d_no_norm+d_width128": cur(d_base_channels=128),
        # a third stride-2 conv in the generators (and a third upsampling layer): the residual
        # blocks work at 8x8 with 512 channels (the same operations per block, four times the
        # weights), so each block sees a quarter of the image at once instead of a sixteenth,
        # more of the scene's context for where snow lies
        "ref+ema_p2+residual+no_identity+d_no_norm+n_down3": cur(n_downsampling=3),
        # the discriminators learn at twice the generators' rate (TTUR, Heusel et al. 2017):
        # slower discriminators (slow_d) and narrower ones (d_width32) lost on the recipe
        "ref+ema_p2+residual+no_identity+d_no_norm+fast_d": cur(lr_d=4e-4),
        # ... and the generators at twice the reference's rate, the discriminators at it: in
        # the recipe's failures (g_no_norm, zero_out, cycle20) the discriminators won and the
        # generators stayed at the identity
        "ref+ema_p2+residual+no_identity+d_no_norm+fast_g": cur(lr=4e-4, lr_d=2e-4),
        # ... and the generators at half the reference's rate, the discriminators at it: twice
        # lost clearly, and discriminators twice as fast (the same ratio) came within 0.003
        "ref+ema_p2+residual+no_identity+d_no_norm+slow_g": cur(lr=1e-4, lr_d=2e-4),
        # Lookahead-minmax (Chavdarova et al. 2021; benchmarks/lookahead.py) with the paper's
        # k = 5 and alpha = 0.5 for all four networks together: aimed at the late excursions,
        # it damps the rotation of the two players' simultaneous steps
        "ref+ema_p2+residual+no_identity+d_no_norm+lookahead": edited(cur(), lookahead),
        # SAGAN's self-attention (Zhang et al. 2019; benchmarks/self_attention.py) after the
        # middle residual block of each generator, starting as the identity: every bottleneck
        # position sees the whole scene, not a neighbourhood
        "ref+ema_p2+residual+no_identity+d_no_norm+self_attention": edited(
            cur(), each_generator(attention)
        ),
        # Adam's first moment over about 10 steps instead of 2 (beta1 0.9, Adam's own default):
        # momentum 0 lost clearly (betas_0_0.99), so the other side of the reference's 0.5
        "ref+ema_p2+residual+no_identity+d_no_norm+beta1_0.9": cur(betas=(0.9, 0.999)),
        # the non-saturating logistic loss of the original GAN (binary cross-entropy on the
        # discriminators' logits; Goodfellow et al. 2014), the most common GAN loss, in place of
        # the least squares
        "ref+ema_p2+residual+no_identity+d_no_norm+vanilla": cur(gan_mode="vanilla"),
        # the two other losses on the recipe as it is (both lost on the recipe before
        # the norm-free discriminators): the hinge bounds what a discriminator gains from
        # scores past its margin, so the norm-free ones cannot push on alone once they win;
        # relativistic average least squares scores each image against the other kind's mean
        "ref+ema_p2+residual+no_identity+d_no_norm+hinge": cur(gan_mode="hinge"),
        "ref+ema_p2+residual+no_identity+d_no_norm+relativistic": cur(relativistic=True),
        # the least squares with the -1, 1, 0 coding (Mao et al. 2017; benchmarks/
        # lsgan_targets.py, trained with its trainer): fakes pushed to -1 by the discriminators
        # and to 0 by the generators
        "ref+ema_p2+residual+no_identity+d_no_norm+lsgan_pearson": cur(),
        # discriminators at two scales (pix2pixHD; benchmarks/multiscale.py): each also scores
        # the half-size image with a second PatchGAN of its own, patches twice the span
        "ref+ema_p2+residual+no_identity+d_no_norm+two_scale_d": edited(cur(), two_scales),
        # dropout 0.5 in the generators' residual blocks (pix2pix's noise, the reference's
        # option; its CycleGAN runs without): a regulariser for generators trained on 200
        # images
        "ref+ema_p2+residual+no_identity+d_no_norm+dropout": cur(dropout=0.5),
        # one-sided label smoothing (Salimans et al. 2016; benchmarks/lsgan_targets.py,
        # trained with its trainer): the discriminators aim real scores at 0.9
        "ref+ema_p2+residual+no_identity+d_no_norm+label_smoothing": cur(),
        # instance noise (Sønderby et al. 2017; benchmarks/instance_noise.py, trained with its
        # trainer): N(0, 0.1^2) on everything the discriminators score, falling to 0 by the end
        "ref+ema_p2+residual+no_identity+d_no_norm+instance_noise": cur(),
        # He (Kaiming-normal, fan-in) initialisation in the norm-free discriminators: with the
        # reference's N(0, 0.02) and no InstanceNorm to rescale them, their activations shrink
        # layer by layer (0.02 * sqrt(fan-in) < 1 in every layer); He's scale keeps them level,
        # the usual start for a deep network without normalisation. The generators (still
        # InstanceNorm) are drawn exactly as the recipe's
        "ref+ema_p2+residual+no_identity+d_no_norm+d_kaiming": cur(
            discriminator_overrides={"init": "kaiming"}
        ),
        # ... and the other way: N(0, 0.01), half the reference's scale (He's larger one lost
        # 0.042 on seed 0)
        "ref+ema_p2+residual+no_identity+d_no_norm+d_gain_0.01": cur(
            discriminator_overrides={"init_gain": 0.01}
        ),
        # the head that writes the image starts at zero (the untrained residual generator is
        # the exact identity): 6.5% ahead of the recipe before d_no_norm at full size (five
        # seeds), left out because its discriminators won in the demo's narrow networks; the
        # norm-free discriminators changed that game
        "ref+ema_p2+residual+no_identity+d_no_norm+zero_out": cur(zero_init_output=True),
        # feature matching (Salimans et al. 2016; benchmarks/feature_matching.py, trained with
        # its trainer): the generators also pull the discriminators' position-averaged hidden
        # features of their fakes towards those of the real images, pix2pixHD's weight 10
        "ref+ema_p2+residual+no_identity+d_no_norm+feature_matching": cur(),
        # balanced consistency regularisation (bCR, Zhao et al. 2021; benchmarks/
        # consistency.py, trained with its trainer): the discriminators score each image and
        # its mirrored, shifted copy alike, weight 10; what they judge is not augmented
        "ref+ema_p2+residual+no_identity+d_no_norm+bcr": cur(),
        # sub-pixel convolutions (Shi et al. 2016) with ICNR (Aitken et al. 2017) in place of
        # the transposed convs: a conv to four times the channels, then PixelShuffle, the four
        # sub-pixel kernels equal at the start (a conv, then nearest upsampling: no
        # checkerboard) and free to differ as they train; unlike resize_conv, no fixed upsampling
        "ref+ema_p2+residual+no_identity+d_no_norm+pixel_shuffle": edited(
            cur(), each_generator(pixel_shuffle)
        ),
        # the cycle term as Zhao et al.'s (2017) mix of SSIM and L1 (0.84 / 0.16,
        # benchmarks/ssim_cycle.py): the reconstruction judged on local structure, not only
        # per pixel
        "ref+ema_p2+residual+no_identity+d_no_norm+cycle_ssim": cur(),
        # the generators' InstanceNorm with learned scale and shift (affine=True, as most
        # later image-to-image models use it; the reference's has none)
        "ref+ema_p2+residual+no_identity+d_no_norm+g_affine_norm": cur(norm=_affine_instance_norm),
        # AMSGrad (Reddi et al. 2018; benchmarks/amsgrad.py) in both optimisers: a step never
        # grows because the gradients got smaller, aimed at the late excursions of about one
        # run in four
        "ref+ema_p2+residual+no_identity+d_no_norm+amsgrad": cur(),
        # noise in the cycle (cycle_noise=0.1, the library's option: the backward generator
        # sees the translation plus N(0, 0.1^2), so the input cannot come back through a faint
        # hidden signal, Chu et al. 2017); lost on the reference + EMA, whose generators drew a
        # new image; the recipe's residual ones edit the input
        "ref+ema_p2+residual+no_identity+d_no_norm+cycle_noise": cur(cycle_noise=0.1),
        # reflection padding in the norm-free discriminators: a zero border is a flat mid-grey
        # frame that tells each patch where the image ends (a position cue the generators can
        # answer with border artefacts); the weights are the recipe's draw
        "ref+ema_p2+residual+no_identity+d_no_norm+d_reflect": edited(cur(), d_reflect),
        # a small identity term back (lambda_identity=0.1, i.e. weight 1 against the cycle's 10;
        # the reference's is 0.5): each generator fed its own output domain should leave it as
        # it is, a hold on colours the norm-free discriminators may pull away; the reference's
        # six generator calls a step instead of the recipe's four
        "ref+ema_p2+residual+no_identity+d_no_norm+identity0.1": cur(lambda_identity=0.1),
        # 4x4 stride-2 convs in the generators' encoder (down_kernel_size=4): every input pixel
        # reaches the same number of kernel taps, the downsampling side of up_kernel4
        "ref+ema_p2+residual+no_identity+d_no_norm+down_kernel4": cur(down_kernel_size=4),
        # generators three quarters as wide (48 channels in the stem, 192 in the residual
        # blocks; about 0.56x their multiply-adds): the generators' capacity, a knob not tried
        # on the recipe (the discriminators' width was), for 200 training images a side
        "ref+ema_p2+residual+no_identity+d_no_norm+g_width48": cur(base_channels=48),
        # the compute width 48 saves spent on data (trained with two images per step, see
        # _BATCH_SIZES): the generators at 0.56x their multiply-adds see twice the images per
        # step, the learning rate scaled by the square root of the batch (as batch2's); the
        # step stays within the goal's 1.15x of the reference, where batch 2 at full width does
        # not (1.25x)
        "ref+ema_p2+residual+no_identity+d_no_norm+g_width48+batch2": cur(
            base_channels=48, lr=2e-4 * 2**0.5
        ),
        # LeakyReLU (slope 0.2) in place of the generators' ReLUs, as StarGAN v2's and most
        # later generators use it: no unit is cut off for a whole image, so a change that
        # depends on a dark or light region keeps a gradient
        "ref+ema_p2+residual+no_identity+d_no_norm+g_lrelu": edited(cur(), each_generator(leaky)),
        # the cycle weight falling linearly from 10 to 5 over the run (Wang and Lin 2017,
        # benchmarks/cycle_decay.py): the scene held early, the generators freer late
        "ref+ema_p2+residual+no_identity+d_no_norm+cycle_decay": cur(),
        # Optimistic Adam (Daskalakis et al. 2018; benchmarks/optimism.py): each step moves the
        # weights by 2 u_t - u_{t-1}, damping the rotation of the two players' simultaneous play
        "ref+ema_p2+residual+no_identity+d_no_norm+optimism": edited(cur(), optimism),
        # gradient-spike clipping by z-score (ZClip, Kumar et al. 2025; benchmarks/zclip.py):
        # Adam with beta1 0.5 and beta2 0.999 moves several learning rates on a sudden spike
        "ref+ema_p2+residual+no_identity+d_no_norm+zclip": cur(),
        # the discriminators' update first, then the generators' against them (the usual GAN
        # order since Goodfellow et al.; benchmarks/d_first.py): no generator step lags behind
        "ref+ema_p2+residual+no_identity+d_no_norm+d_first": cur(),
        # both rates warmed up linearly over the first 100 steps (Goyal et al. 2017;
        # benchmarks/lr_warmup.py) while Adam's second moments settle
        "ref+ema_p2+residual+no_identity+d_no_norm+lr_warmup": edited(cur(), warmup),
        # orthogonal initialisation of the generators (Saxe et al. 2014, BigGAN's choice) with
        # gain 1: each conv's filters orthonormal, entries about as large as the reference's
        # N(0, 0.02) in the output layer (its fan-in is 3136); the discriminators as the recipe's
        "ref+ema_p2+residual+no_identity+d_no_norm+g_orthogonal": cur(
            init="orthogonal",
            init_gain=1.0,
            discriminator_overrides={"init": "normal", "init_gain": 0.02},
        ),
        # the generators' stem (the 7x7 conv on the image) without InstanceNorm, like the
        # discriminators' first layer: every later InstanceNorm removes each feature map's mean,
        # so only here can the input's absolute colour shape which features fire
        "ref+ema_p2+residual+no_identity+d_no_norm+g_stem_no_norm": edited(
            cur(), each_generator(stem_without_norm)
        ),
        # StyleGAN2's low-pass filter after upsampling (benchmarks/blur.py): a 3x3 binomial
        # blur after each stride-2 transposed conv evens out the uneven kernel overlap that
        # draws the checkerboard, with the recipe's weights
        "ref+ema_p2+residual+no_identity+d_no_norm+up_blur": edited(cur(), each_generator(up_blur)),
        # StyleGAN2's low-pass filter before downsampling (benchmarks/blur.py; Zhang 2019): the
        # same blur before each stride-2 conv, in the generators' encoders or in the
        # discriminators, so what a strided conv keeps does not alias (the recipe's generators
        # are not shift-equivariant: on three near-recipe runs, averaging the outputs for the
        # input and for it shifted by two pixels moved validation L1 by -0.8%, -1.2%, +0.3%)
        "ref+ema_p2+residual+no_identity+d_no_norm+down_blur": edited(
            cur(), each_generator(down_blur)
        ),
        "ref+ema_p2+residual+no_identity+d_no_norm+d_blur": edited(cur(), d_blur),
        # U-Net skips (Ronneberger et al. 2015; the reference's other generator family) across
        # the ResNet generator's bottleneck, each gated by a learned scale that starts at 0
        # (benchmarks/unet_skips.py): the input's edges and small shapes reach the decoder
        # without passing the H/4 bottleneck
        "ref+ema_p2+residual+no_identity+d_no_norm+unet_skips": edited(
            cur(), each_generator(unet_skips)
        ),
        # SimGAN's half-history discriminator batches (Shrivastava et al. 2017; train with
        # _trainer_class): the newest translation always scored, with the pool's pick beside it,
        # where the reference's pool replaces the newest half of the time
        "ref+ema_p2+residual+no_identity+d_no_norm+half_history": cur(),
        # R3GAN's objective (Huang et al. 2024; benchmarks/r2.py, trained with its trainer): the
        # relativistic logistic loss with R1 on the reals and R2 on the fakes, one gamma (the r1
        # candidate's), which converges where R1 alone can oscillate
        "ref+ema_p2+residual+no_identity+d_no_norm+r3gan": cur(
            gan_mode="vanilla", relativistic=True, r1_gamma=1.0
        ),
        # spectral normalisation in the generators too (SAGAN, Zhang et al. 2019: in both
        # networks, for stable training): each conv's largest singular value held at 1, which
        # bounds how far one step can move the change the residual head writes
        "ref+ema_p2+residual+no_identity+d_no_norm+g_spectral_norm": edited(
            cur(), each_generator(g_spectral)
        ),
        # discriminators with a layer norm (one group: each sample's features normalised over
        # channels and positions together): their activations bounded, as InstanceNorm bounded
        # them, but the colour, which InstanceNorm removed with each channel's own mean, kept
        # in how the channels differ
        "ref+ema_p2+residual+no_identity+d_layer_norm": cur(
            discriminator_overrides={"norm": _layer_norm}
        ),
        # issue 11's quality parity: the improved recipe in bfloat16 / compiled, same steps
        # (the records of 2026-11-30 carry the "ref+ema+residual+no_identity@..." names)
        "ref+ema+residual+no_identity@bf16": imp(amp="bf16"),
        "ref+ema+residual+no_identity@compile": imp(compile=True),
        "improved@bf16": of("improved", amp="bf16"),
        "improved@compile": of("improved", compile=True),
    }


#: Candidates trained on more than one image per step (all others: batch 1).
_BATCH_SIZES = {
    "ref+ema+residual+no_identity+batch2": 2,
    "ref+ema_p2+residual+no_identity+d_no_norm+g_width48+batch2": 2,
}


def _setting(size: int, n_blocks: int, width: int | None) -> str:
    """``"64"`` for the protocol's network (6 blocks, the preset's width), else e.g.
    ``"64/b3/w16"``: the size column of the table and the tag of saved weights."""
    tag = str(size)
    if n_blocks != 6:
        tag += f"/b{n_blocks}"
    if width not in (None, 64):
        tag += f"/w{width}"
    return tag


def _record_setting(r: Mapping[str, Any]) -> str:
    return _setting(r["size"], r["n_blocks"], r["generator"]["base_channels"])


def _cpu_kind(machine: Mapping[str, Any]) -> str | None:
    """The CPU model and its widest vector unit, e.g. ``"AMD EPYC/avx512"``.

    The same model name covers CPUs with AVX2 only and with AVX-512 (and oneDNN picks other
    kernels on each, which sum in another order), so the name alone does not say which
    realisation a run is. Records without flags (the oldest) give the model alone."""
    model = machine.get("cpu_model")
    flags = machine.get("cpu_flags")
    if model is None or flags is None:
        return model
    if machine.get("cpu_amx"):
        isa = "amx"
    elif any(f.startswith("avx512") for f in flags):
        isa = "avx512"
    elif "avx2" in flags:
        isa = "avx2"
    else:
        isa = "none"
    return f"{model}/{isa}"


def _realisation(r: Mapping[str, Any]) -> tuple[int, str, int, int, str | None]:
    """What makes a run one realisation of its candidate: seed, setting, steps, thread count
    and CPU kind (another thread count or CPU kind sums in another order)."""
    return r["seed"], _record_setting(r), r["steps"], r["threads"], _cpu_kind(r.get("machine", {}))


def checkpoint_dir(
    out: Path, candidate: str, seed: int, setting: str, threads: int, cpu: str | None
) -> Path:
    """Where ``run --checkpoint-every`` keeps a run's ``last.pt``: one folder per realisation.

    A checkpoint resumed on another CPU kind or thread count would splice two realisations
    into one run, so both are in the name, e.g. ``improved_s0_64_1t_AMD-EPYC-avx512``.
    """
    kind = re.sub(r"[^A-Za-z0-9.+-]+", "-", cpu or "unknown-cpu").strip("-")
    name = f"{candidate}_s{seed}_{setting.replace('/', '_')}_{threads}t_{kind}"
    return out / "checkpoints" / name


def weights_path(
    out: Path, candidate: str, seed: int, setting: str, threads: int, cpu: str | None
) -> Path:
    """Where ``run --save`` keeps a run's X->Y generator weights: one file per realisation,
    named as its checkpoint folder (:func:`checkpoint_dir`), so a run of the same seed with
    another thread count or CPU kind does not overwrite them."""
    name = checkpoint_dir(out, candidate, seed, setting, threads, cpu).name
    return out / "weights" / f"{name}.pt"


def _records(out: Path) -> list[dict[str, Any]]:
    """The run records in ``out/runs.jsonl``, oldest first."""
    return [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line]


def _model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {"n_blocks": args.n_blocks}
    if args.width is not None:
        over |= {"base_channels": args.width, "d_base_channels": args.width}
    return over


def _season_data(root: Path, size: int) -> tuple[Any, Any, Any]:
    """The demo's training set, the validation pairs and the test pairs at ``size``."""
    from unpaired_i2i import UnpairedImageDataset, draw_scene, make_season_dataset
    from unpaired_i2i.data.synthetic import _scene_seed

    data = make_season_dataset(root / "seasons", n_train=200, n_test=16, size=128, seed=0)
    val = root / "validation"
    for season, sub in (("summer", "valA"), ("winter", "valB")):
        (val / sub).mkdir(parents=True, exist_ok=True)
        for k in range(32):
            path = val / sub / f"{k:04d}.png"
            if not path.is_file():
                # the training stream's geometries after the 200 trained on
                draw_scene(_scene_seed(0, "trainA", 200 + k), season, size=128).save(path)  # type: ignore[arg-type]
    common: dict[str, Any] = {"size": size, "preprocess": "resize_and_crop", "multiple": 4}
    train = UnpairedImageDataset.from_root(data, "train", flip=True, **common)
    val_set = UnpairedImageDataset(val / "valA", val / "valB", train=False, serial=True, **common)
    test = UnpairedImageDataset.from_root(data, "test", **common)
    return train, val_set, test


def shadow_emas(*, decays: Sequence[float] = (), powers: Sequence[float] = ()) -> list[Any]:
    """Extra EMAs of the generators, to score next to a run's own generator ("shadows").

    They only read the weights (no random numbers), so they change nothing in the training:
    each scores another average of one and the same trajectory. One warmed-up EMA per decay
    in ``decays`` and one of decay 0.999 per warm-up power in ``powers``. Each is named
    ``ema<decay>`` (``_p<power>`` added unless the power is EMA's default 8) and keeps its
    state in checkpoints under ``Shadow<name>``, apart from the recipe's own ``EMA``. With
    warm-up, the decay after n updates is at most ``(1 + n) / (10 + n)`` (power 8): 0.991 at
    n = 1000, so decays above that are all alike in a 1000-step run.
    """
    from unpaired_i2i import EMA

    class ShadowEMA(EMA):
        @property
        def state_key(self) -> str:
            return f"Shadow{self.name}"

        @property
        def name(self) -> str:
            return f"ema{self.decay:g}" + (
                f"_p{self.warmup_power:g}" if self.warmup_power != 8.0 else ""
            )

    return [ShadowEMA(d, warmup=True) for d in decays] + [
        ShadowEMA(0.999, warmup=True, warmup_power=p) for p in powers
    ]


def drop_repeats(shadows: Sequence[Any], callbacks: Sequence[Any]) -> list[Any]:
    """``shadows`` without those that repeat an EMA among ``callbacks`` (same decay, warm-up
    and power): such a shadow would only score the run's own average a second time."""
    from unpaired_i2i import EMA

    own = {(cb.decay, cb.warmup, cb.warmup_power) for cb in callbacks if isinstance(cb, EMA)}
    return [s for s in shadows if (s.decay, s.warmup, s.warmup_power) not in own]


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from unpaired_i2i import Callback, ModelCheckpoint, evaluate_paired, save_checkpoint_file
    from unpaired_i2i.bench import machine_info

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    # the record keeps the CPU's fields only, whatever device trains
    machine = machine_info("cpu")
    cpu = _cpu_kind(machine)
    setting = _setting(args.size, args.n_blocks, args.width)
    train, val, test = _season_data(out / "data", args.size)
    over = _model_overrides(args)
    torch.manual_seed(args.seed)
    spec = _candidates()[args.candidate](args.seed, over)

    # removed again before the candidate's generator is picked
    shadows = drop_repeats(
        shadow_emas(decays=args.shadow_ema, powers=args.shadow_power), spec.callbacks
    )

    class Clock(Callback):
        """Training seconds so far, kept in the checkpoints so a resumed run adds them up."""

        def __init__(self) -> None:
            self.before = 0.0  # seconds trained by earlier processes of this run
            self.start = time.perf_counter()

        def on_fit_start(self, trainer: Any) -> None:
            self.start = time.perf_counter()

        def seconds(self) -> float:
            return self.before + time.perf_counter() - self.start

        def state_dict(self) -> dict[str, Any]:
            return {"seconds": self.seconds()}

        def load_state_dict(self, state: Mapping[str, Any]) -> None:
            self.before = float(state["seconds"])

    clock = Clock()
    extra: list[Any] = [clock]
    checkpoints = None
    if args.checkpoint_every:
        # a killed run resumes here (exactly: same seed, threads and CPU kind, same trajectory)
        checkpoints = checkpoint_dir(out, args.candidate, args.seed, setting, args.threads, cpu)
        extra.append(ModelCheckpoint(checkpoints, every_n_steps=args.checkpoint_every, keep_last=0))
    trainer = _trainer_class(args.candidate)(
        spec.model, spec.config, callbacks=[*shadows, *extra, *spec.callbacks], device=args.device
    )
    resumed_from = 0
    if checkpoints is not None and (checkpoints / "last.pt").is_file():
        trainer.load_checkpoint(checkpoints / "last.pt")
        resumed_from = trainer.state.step
        print(f"resumed from {checkpoints / 'last.pt'} at step {resumed_from}", flush=True)
    batch_size = _BATCH_SIZES.get(args.candidate, 1)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    trainer.fit(loader, max_steps=args.steps)
    seconds = clock.seconds()
    # the candidate's own generator: what inference_generator returns without the shadows
    ours = [*shadows, *extra]
    trainer.callbacks = [cb for cb in trainer.callbacks if all(cb is not s for s in ours)]
    generator = trainer.inference_generator("xy")

    def score(g: Any) -> dict[str, float]:
        """``validation_l1``, ``test_ssim``, ...: evaluate_paired on both splits."""
        return {
            f"{split}_{k}": v
            for split, data in (("validation", val), ("test", test))
            for k, v in evaluate_paired(g, data).items()
        }

    scores = score(generator)
    # the same run's other generators: the trained one and the shadow averages
    others = {"raw": spec.model.g_xy} | {
        cb.name: cb.inference_generator(trainer, "xy") for cb in shadows
    }
    shadow_scores = {
        name: scores if g is generator else score(g) for name, g in others.items() if g is not None
    }
    if args.save:
        path = weights_path(out, args.candidate, args.seed, setting, args.threads, cpu)
        # atomically, as the library writes checkpoints: a killed run leaves no torn file
        save_checkpoint_file({k: v.cpu() for k, v in generator.state_dict().items()}, path)
    record = {
        "candidate": args.candidate,
        "seed": args.seed,
        "size": args.size,
        "n_blocks": args.n_blocks,
        "steps": args.steps,
        "batch_size": batch_size,
        "threads": args.threads,
        "device": str(trainer.device),
        "train_seconds": round(seconds, 1),
        **({"resumed_from_step": resumed_from} if resumed_from else {}),
        "config": spec.config.to_dict(),
        "callbacks": [repr(cb) for cb in spec.callbacks],
        "generator": _generator_record(spec.model.g_xy),
        **scores,
        "shadows": shadow_scores,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "torch": torch.__version__,
        # the CPU kind decides the realisation as much as the thread count does
        "machine": {k: machine[k] for k in ("cpu_model", "cpu_flags", "cpu_amx")},
    }
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_record:
        with open(out / "runs.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
    print(
        f"{args.candidate} seed {args.seed} @{args.size}: "
        f"val L1 {record['validation_l1']:.4f} SSIM {record['validation_ssim']:.4f} | "
        f"test L1 {record['test_l1']:.4f} SSIM {record['test_ssim']:.4f} | {seconds:.0f} s",
        flush=True,
    )
    return record


def _done(out: Path) -> set[tuple[str, int, str, int, int, str | None]]:
    """Runs already recorded: candidate, seed, setting, steps, thread count and CPU kind
    (another thread count or CPU kind trains another realisation of the same seed, so it is
    another run)."""
    if not (out / "runs.jsonl").is_file():
        return set()
    return {(r["candidate"], *_realisation(r)) for r in _records(out)}


def _queue(args: argparse.Namespace) -> None:
    from unpaired_i2i.bench import machine_info

    out = Path(args.out)
    cpu = _cpu_kind(machine_info("cpu"))
    for seed in args.seeds:
        for candidate in args.candidates:
            setting = _setting(args.size, args.n_blocks, args.width)
            key = (candidate, seed, setting, args.steps, args.threads, cpu)
            if key in _done(out):
                print(f"skip {key} (in runs.jsonl)", flush=True)
                continue
            cmd = [
                sys.executable,
                __file__,
                "run",
                f"--candidate={candidate}",
                f"--seed={seed}",
                f"--size={args.size}",
                f"--n-blocks={args.n_blocks}",
                f"--steps={args.steps}",
                f"--threads={args.threads}",
                f"--device={args.device}",
                f"--checkpoint-every={args.checkpoint_every}",
                f"--out={out}",
            ]
            if args.width is not None:
                cmd.append(f"--width={args.width}")
            if args.save:
                cmd.append("--save")
            subprocess.run(cmd, check=True)


def _time(args: argparse.Namespace) -> None:
    """Per-step wall time of each candidate, alternated in one process, ratio to the first."""
    import torch

    from unpaired_i2i.bench import machine_info

    torch.set_num_threads(args.threads)
    trainers = {}
    for name in args.candidates:
        torch.manual_seed(0)
        spec = _candidates()[name](0, _model_overrides(args))
        trainers[name] = _trainer_class(name)(spec.model, spec.config, callbacks=spec.callbacks)
    gen = torch.Generator().manual_seed(0)
    batches = {
        name: [
            torch.rand(_BATCH_SIZES.get(name, 1), 3, args.size, args.size, generator=gen) * 2 - 1
            for _ in range(2)
        ]
        for name in args.candidates
    }

    def steps(name: str, n: int) -> float:
        trainer, batch = trainers[name], batches[name]
        t0 = time.perf_counter()
        for _ in range(n):
            trainer.state.step += 1  # the callbacks' step counter, as fit advances it
            losses = trainer.train_step(*batch)
            for cb in trainer.callbacks:
                cb.on_step_end(trainer, batch, losses)
        return (time.perf_counter() - t0) / n

    for name, trainer in trainers.items():  # warm-up: allocator, EMA copies, pools
        for cb in trainer.callbacks:
            cb.on_fit_start(trainer)
        steps(name, args.warmup)
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(args.repeats):
        for name in trainers:
            times[name].append(steps(name, args.block))
    base = statistics.median(times[args.candidates[0]])
    result = {
        name: {
            "median_s": statistics.median(t),
            "min_s": min(t),
            "max_s": max(t),
            "ratio_to_first": statistics.median(t) / base,
        }
        for name, t in times.items()
    }
    for name, r in result.items():
        print(
            f"{name:>20}: {r['median_s'] * 1000:7.1f} ms/step median "
            f"(min {r['min_s'] * 1000:.1f}, max {r['max_s'] * 1000:.1f}), "
            f"x{r['ratio_to_first']:.3f} of {args.candidates[0]}",
            flush=True,
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "size": args.size,
        "n_blocks": args.n_blocks,
        "width": args.width,
        "threads": args.threads,
        "repeats": args.repeats,
        "block": args.block,
        "machine": machine_info("cpu"),
        "results": result,
    }
    with open(out / "timing.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _baselines(args: argparse.Namespace) -> None:
    """Paired L1 of predictors that need no translation network, on validation and test.

    ``identity`` returns the summer input; ``mean`` / ``median`` return the per-pixel mean /
    median of the 200 training winter images whatever the input (a generator that ignores
    its input can do no better than about these); ``affine colour oracle`` is the best
    per-pixel affine colour map (3x3 + bias) fitted by least squares to the evaluated pairs
    themselves, i.e. with the answers: what keeping the structure and changing only the
    colours could reach.
    """
    import torch

    from unpaired_i2i import UnpairedImageDataset

    out = Path(args.out)
    _, val, test = _season_data(out / "data", args.size)
    # the training winters, resized and centre-cropped like the evaluated images (no jitter)
    train = UnpairedImageDataset.from_root(
        out / "data" / "seasons", "train", train=False, serial=True, size=args.size,
        preprocess="resize_and_crop", multiple=4,
    )  # fmt: skip
    winter = torch.stack([train[i][1] for i in range(len(train))])
    mean, median = winter.mean(0), winter.median(0).values
    result: dict[str, dict[str, float]] = {}
    for split, data in (("validation", val), ("test", test)):
        xs = torch.stack([data[i][0] for i in range(len(data))])
        ys = torch.stack([data[i][1] for i in range(len(data))])
        pixels = xs.permute(0, 2, 3, 1).reshape(-1, 3).double()
        design = torch.cat([pixels, torch.ones(len(pixels), 1, dtype=pixels.dtype)], 1)
        target = ys.permute(0, 2, 3, 1).reshape(-1, 3).double()
        fit = torch.linalg.lstsq(design, target).solution
        result[split] = {
            "identity": (ys - xs).abs().mean().item(),
            "mean": (ys - mean).abs().mean().item(),
            "median": (ys - median).abs().mean().item(),
            "affine colour oracle": (design @ fit - target).abs().mean().item(),
        }
    print(json.dumps({"size": args.size, "paired_l1": result}, indent=1))


def _table(args: argparse.Namespace) -> None:
    """Markdown: per candidate the mean over its runs, and each change against the reference."""
    out = Path(args.out)
    rows: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in _records(out):
        rows.setdefault((r["candidate"], _record_setting(r), r["steps"]), []).append(r)
    ratios: dict[tuple[str, str], float] = {}
    timing = out / "timing.jsonl"
    if timing.is_file():
        for line in timing.read_text().splitlines():
            t = json.loads(line)
            for name, result in t["results"].items():
                setting = _setting(t["size"], t["n_blocks"], t.get("width"))
                ratios[(name, setting)] = result["ratio_to_first"]

    def mean(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.mean(r[key] for r in runs))

    def change(value: float, base: list[dict[str, Any]] | None, key: str) -> str:
        return f"{(value / mean(base, key) - 1) * 100:+.1f}%" if base else ""

    header = [
        "candidate",
        "size",
        "runs",
        "val L1",
        "val vs ref",
        "test L1 (per run: seed/threads)",
        "test vs ref",
        "test SSIM",
        "step time vs ref",
    ]
    table: list[list[str]] = []
    order = {name: i for i, name in enumerate(_candidates())}

    def key(item: tuple[tuple[str, str, int], Any]) -> tuple[str, int, str]:
        (cand, setting, _), _ = item
        return setting, order.get(cand, len(order)), cand

    for (cand, setting, steps), runs in sorted(rows.items(), key=key):
        base = rows.get(("reference", setting, steps))
        val, test = mean(runs, "validation_l1"), mean(runs, "test_l1")
        seeds = ", ".join(
            f"s{r['seed']}/{r['threads']}t {r['test_l1']:.4f}"
            for r in sorted(runs, key=lambda r: (r["seed"], r["threads"]))
        )
        ratio = ratios.get((cand, setting))
        table.append(
            [
                cand,
                setting,
                str(len(runs)),
                f"{val:.4f}",
                change(val, base, "validation_l1"),
                f"{test:.4f} ({seeds})",
                change(test, base, "test_l1"),
                f"{mean(runs, 'test_ssim'):.3f}",
                "" if ratio is None else f"{ratio:.2f}x",
            ]
        )
    if args.rst:
        print(".. list-table::\n   :header-rows: 1\n")
        for row in [header, *table]:
            print("   * - " + "\n     - ".join(cell or "not measured" for cell in row))
        return
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(row) + " |")


def paired_runs(
    records: Sequence[Mapping[str, Any]],
    base: str,
    candidate: str,
    *,
    setting: str = "64",
    base_shadow: str | None = None,
    shadow: str | None = None,
) -> list[dict[str, Any]]:
    """``candidate``'s runs next to ``base``'s on the same realisation, one row per pair.

    Two runs pair when they share seed, setting (size, blocks, width), steps, thread count
    and CPU model: another thread count or CPU kind sums in another order and makes another
    realisation of the seed, which pairing must not mix up. ``base_shadow`` / ``shadow`` score
    one of the runs' shadow averages (e.g. ``"ema0.999_p0"``) in place of its own generator.
    Where a realisation was run twice, its last record counts. Each row: ``seed``,
    ``threads``, ``cpu``, ``base`` and ``candidate`` as ``(validation L1, test L1)``.
    """

    def scores(r: Mapping[str, Any], name: str | None) -> tuple[float, float] | None:
        s = r if name is None else r.get("shadows", {}).get(name)
        return None if s is None else (float(s["validation_l1"]), float(s["test_l1"]))

    def index(name: str, which: str | None) -> dict[tuple[Any, ...], tuple[float, float]]:
        found = {}
        for r in records:
            if r["candidate"] == name and _record_setting(r) == setting:
                got = scores(r, which)
                if got is not None:
                    found[_realisation(r)] = got
        return found

    a, b = index(base, base_shadow), index(candidate, shadow)
    return [
        {"seed": k[0], "threads": k[3], "cpu": k[4], "base": a[k], "candidate": b[k]}
        for k in sorted(a.keys() & b.keys(), key=lambda k: (k[0], k[3], str(k[4])))
    ]


def _paired(args: argparse.Namespace) -> None:
    """Markdown: per candidate, its runs paired with the base's, and the mean difference."""
    out = Path(args.out)
    records = _records(out)
    setting = _setting(args.size, args.n_blocks, args.width)
    base_name = args.base + (f" ({args.base_shadow})" if args.base_shadow else "")
    for cand in args.candidates:
        rows = paired_runs(
            records, args.base, cand, setting=setting,
            base_shadow=args.base_shadow, shadow=args.shadow,
        )  # fmt: skip
        name = cand + (f" ({args.shadow})" if args.shadow else "")
        print(f"\n{name} against {base_name}, {setting}: {len(rows)} paired runs")
        if not rows:
            continue
        print("| seed | threads | CPU | base val / test | candidate val / test | difference |")
        print("|---|---|---|---|---|---|")
        diffs = []
        for r in rows:
            (av, at), (bv, bt) = r["base"], r["candidate"]
            diffs.append((bv - av, bt - at))
            print(
                f"| {r['seed']} | {r['threads']} | {r['cpu']} | {av:.4f} / {at:.4f} "
                f"| {bv:.4f} / {bt:.4f} | {bv - av:+.4f} / {bt - at:+.4f} |"
            )
        cells = []
        for i, what in enumerate(("validation", "test")):
            d = [x[i] for x in diffs]
            se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
            base_mean = statistics.mean(r["base"][i] for r in rows)
            cells.append(
                f"{what} {statistics.mean(d):+.4f} (SE {se:.4f}; "
                f"{statistics.mean(d) / base_mean:+.1%} of the base's mean {base_mean:.4f})"
            )
        print("mean difference: " + ", ".join(cells))


def _shadows(args: argparse.Namespace) -> None:
    """Each shadow average against the run's own generator, paired run by run.

    Only runs whose own generator is the recipe's average (``EMA(0.999, warmup=True)``, warm-up
    power 8) count, so every row compares two averages of one and the same trajectory: what
    the shadow changes is the averaging alone. Per setting and shadow: runs, how many the
    shadow scored lower on validation, the relative change of validation L1 (mean, median,
    worst), how many runs it made more than 5% worse, and the change of the mean test L1.
    """
    out = Path(args.out)
    own_ema = "EMA(decay=0.999, every_n_steps=1, start_step=0, warmup=True)"
    groups: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    for r in _records(out):
        if r["callbacks"] != [own_ema] or not r["candidate"].startswith(args.prefix):
            continue
        for name, s in r.get("shadows", {}).items():
            pair = (r["validation_l1"], s["validation_l1"], r["test_l1"], s["test_l1"])
            groups.setdefault((_record_setting(r), name), []).append(pair)
    print(f"runs of candidates starting with {args.prefix!r}; own = warm-up power 8")
    print("| setting | shadow | runs | lower on val | val change: mean / median / worst "
          "| worse by more than 5% | test change of the means |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (setting, name), pairs in sorted(groups.items()):
        changes = [b / a - 1 for a, b, _, _ in pairs]
        test = statistics.mean(d for *_, d in pairs) / statistics.mean(c for *_, c, _ in pairs)
        print(
            f"| {setting} | {name} | {len(pairs)} | {sum(c < 0 for c in changes)} "
            f"| {statistics.mean(changes):+.1%} / {statistics.median(changes):+.1%} / "
            f"{max(changes):+.1%} | {sum(c > 0.05 for c in changes)} | {test - 1:+.1%} |"
        )


def _load_generator(out: Path, candidate: str, seed: int, setting: str) -> Any:
    import torch

    from unpaired_i2i import ResnetGenerator

    record = [
        r
        for r in _records(out)
        if (r["candidate"], r["seed"], _record_setting(r)) == (candidate, seed, setting)
    ][-1]  # the latest run of that name
    generator = ResnetGenerator(**record["generator"])
    cpu = _cpu_kind(record.get("machine", {}))
    weights = weights_path(out, candidate, seed, setting, record["threads"], cpu)
    if not weights.is_file():
        raise FileNotFoundError(
            f"no saved weights for the latest recorded run of {candidate} seed {seed} at "
            f"{setting} ({record['threads']} threads, {cpu}): expected {weights}; run it again "
            "with --save --no-record on that CPU kind and thread count"
        )
    generator.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    return generator.eval()


def _grid(args: argparse.Namespace) -> None:
    """Sample grids of candidates trained with the same seed and steps (docs figures).

    Scenes: columns summer input | each candidate's winter | real winter, one row per test
    scene. Photos (``--photos``): each photo resized to ``--photo-width`` and translated whole.
    """
    import torch
    from torchvision.transforms import v2
    from torchvision.utils import save_image

    from unpaired_i2i import load_image

    out = Path(args.out)
    _, _, test = _season_data(out / "data", args.size)
    setting = _setting(args.size, args.n_blocks, args.width)
    generators = [_load_generator(out, c, args.seed, setting) for c in args.candidates]
    rows = []
    with torch.inference_mode():
        for i in args.scenes:
            x, y = test[i]
            rows.append(torch.stack([x, *(g(x[None])[0] for g in generators), y]))
    grid = torch.cat(rows)
    args.dest.mkdir(parents=True, exist_ok=True)
    name = f"scenes_{'_vs_'.join(args.candidates)}_{args.size}.png"
    save_image(grid * 0.5 + 0.5, args.dest / name, nrow=len(args.candidates) + 2, padding=2)
    print(args.dest / name)
    for photo in args.photos:
        pixels = v2.functional.to_image(load_image(photo))
        image = v2.functional.to_dtype(pixels, torch.float32, scale=True) * 2 - 1
        h, w = image.shape[-2:]
        width = args.photo_width
        height = max(4, round(h * width / w / 4) * 4)
        x = v2.functional.resize(image, [height, width], antialias=True)
        with torch.inference_mode():
            outs = [g(x[None])[0] for g in generators]
        dest = args.dest / f"{Path(photo).stem}_{'_vs_'.join(args.candidates)}_{args.size}.png"
        save_image(torch.stack([x, *outs]) * 0.5 + 0.5, dest, nrow=len(outs) + 1, padding=2)
        print(dest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "queue", "time", "table", "grid", "baselines", "shadows", "paired"):
        p = sub.add_parser(name)
        p.add_argument("--out", default=str(DEFAULT_OUT))
        p.add_argument("--size", type=int, default=64)
        p.add_argument("--n-blocks", type=int, default=6)
        p.add_argument("--width", type=int, default=None, help="channels of all four networks")
        p.add_argument("--steps", type=int, default=1000)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--save", action="store_true", help="keep the X->Y generator weights")
        p.add_argument("--device", default="cpu", help="run/queue: where to train (cpu, cuda)")
        p.add_argument(
            "--checkpoint-every",
            type=int,
            default=0,
            help="run/queue: save OUT/checkpoints/<run>/last.pt every N steps and resume from "
            "it when the same run is started again (0: no checkpoints)",
        )
        if name == "run":
            p.add_argument("--candidate", required=True)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument(
                "--no-record", action="store_true",
                help="do not append the run to OUT/runs.jsonl (with --checkpoint-every and "
                "--save: export a finished run's weights from its last checkpoint)",
            )  # fmt: skip
            p.add_argument(
                "--shadow-ema", type=float, nargs="*", default=[0.98],
                help="also score warm EMAs of these decays (they do not change the training)",
            )  # fmt: skip
            p.add_argument(
                "--shadow-power", type=float, nargs="*", default=[0.0, 1.0, 2.0, 4.0, 8.0],
                help="also score EMAs (0.999) warmed up with these warmup_power values (the "
                "one that repeats the candidate's own average is left out)",
            )  # fmt: skip
        if name in ("queue", "time"):
            p.add_argument("--candidates", nargs="+", default=["reference", "improved"])
        if name == "queue":
            p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
        if name == "shadows":
            p.add_argument(
                "--prefix", default="ref+ema+residual+no_identity",
                help="only candidates whose name starts with this (default: the improved "
                "recipe and the candidates built on it)",
            )  # fmt: skip
        if name == "paired":
            p.add_argument("--base", default="improved", help="the candidate compared against")
            p.add_argument("--candidates", nargs="+", required=True)
            p.add_argument(
                "--base-shadow", default=None,
                help="score this shadow average of the base's runs (e.g. ema0.999_p0)",
            )  # fmt: skip
            p.add_argument("--shadow", default=None, help="the same for the candidates' runs")
        if name == "table":
            p.add_argument("--rst", action="store_true", help="a reStructuredText list-table")
        if name == "grid":
            p.add_argument("--candidates", nargs="+", default=["reference", "improved"])
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
            p.add_argument("--photos", nargs="*", default=[], help="photo files to translate")
            p.add_argument("--photo-width", type=int, default=256)
            p.add_argument("--dest", type=Path, default=HERE.parent / "docs" / "images")
        if name == "time":
            p.add_argument("--warmup", type=int, default=3)
            p.add_argument("--repeats", type=int, default=5)
            p.add_argument("--block", type=int, default=5, help="steps per timed block")
    args = parser.parse_args()
    commands = {
        "run": _run,
        "queue": _queue,
        "time": _time,
        "table": _table,
        "grid": _grid,
        "baselines": _baselines,
        "shadows": _shadows,
        "paired": _paired,
    }
    commands[args.command](args)


if __name__ == "__main__":
    main()
