"""The candidates of ``benchmarks/recipes.py`` (issue 13): name -> recipe builder.

Each candidate is ``recipe(name, **overrides)`` plus optional changes to it: options of the
library, or a *prototype* in ``benchmarks/<stem>.py`` (a method not in the library unless it is
adopted) that edits the spec or trains with its own :class:`~unpaired_i2i.CycleTrainer`
subclass (:data:`PROTOTYPE_TRAINERS`). ``recipes.py`` trains, scores and times them; this
module only says what each name builds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _layer_norm(channels: int) -> Any:
    """``GroupNorm`` with one group and no affine parameters: a layer norm of each sample."""
    from torch import nn

    return nn.GroupNorm(1, channels, affine=False)


def _affine_instance_norm(channels: int) -> Any:
    """``InstanceNorm2d`` with a learned per-channel scale and shift (``affine=True``)."""
    from torch import nn

    return nn.InstanceNorm2d(channels, affine=True)


def prototype(stem: str) -> Any:
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
PROTOTYPE_TRAINERS = {
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
    "mirror_consistency": ("mirror_consistency", "MirrorConsistencyTrainer"),
}


def trainer_class(candidate: str) -> Any:
    """The trainer a candidate trains with: ``CycleTrainer``, or a prototype's subclass."""
    for method, (stem, trainer) in PROTOTYPE_TRAINERS.items():
        if f"+{method}" in candidate:
            return getattr(prototype(stem), trainer)
    from unpaired_i2i import CycleTrainer

    return CycleTrainer


def candidates() -> dict[str, Callable[[int, dict[str, Any]], Any]]:
    """Candidate name -> builder ``(seed, model_overrides) -> RecipeSpec``.

    Every candidate is ``recipe("reference", ...)`` with the named methods added, so a name
    means the same runs whatever ``"improved"`` is at the time; ``"improved"`` is the recipe
    as the library defines it now: since 2026-12-05 the same runs as
    ``ref+ema+residual+no_identity+d_no_norm+detail_affine`` (the trajectories of
    ``ref+ema_p2+residual+no_identity+d_no_norm+detail_affine``, averaged with power 8); from
    the night of 2026-12-04, as that ``ema_p2`` form; from the evening of
    2026-12-01, as ``ref+ema_p2+residual+no_identity+d_no_norm``; earlier that day, as
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
        # the PatchNCE prototype's MLPs (train with trainer_class)
        prototype("patch_nce").add_patch_heads(generator)

    def lookahead(spec: Any) -> None:
        # the Lookahead prototype's callback, first, so the average sees synchronised weights
        spec.callbacks.insert(0, prototype("lookahead").Lookahead(k=5, alpha=0.5))

    def optimism(spec: Any) -> None:
        # the optimistic-step prototype's callback, first, so the average sees corrected weights
        spec.callbacks.insert(0, prototype("optimism").OptimisticStep())

    def warmup(spec: Any) -> None:
        # the warm-up prototype's callback (it only sets the optimisers' rates)
        spec.callbacks.insert(0, prototype("lr_warmup").LinearWarmup(100))

    def attention(generator: Any) -> None:
        # the self-attention prototype's block
        prototype("self_attention").add_self_attention(generator)

    def up_blur(generator: Any) -> None:
        # the blur prototype's filter after the transposed convolutions
        prototype("blur").add_up_blur(generator)

    def down_blur(generator: Any) -> None:
        # the blur prototype's filter before the encoder's stride-2 convolutions
        prototype("blur").add_down_blur(generator.encoder)

    def d_blur(spec: Any) -> None:
        # the same filter before the discriminators' stride-2 convolutions
        for discriminator in spec.model.discriminators:
            prototype("blur").add_down_blur(discriminator.features)

    def unet_skips(generator: Any) -> None:
        # the U-Net prototype's gated skips from the encoder to the decoder
        prototype("unet_skips").add_unet_skips(generator)

    def pixel_shuffle(generator: Any) -> None:
        # the sub-pixel prototype's upsampling, ICNR-initialised from the recipe's own draw
        prototype("pixel_shuffle").add_pixel_shuffle(generator)

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
        two_scale = prototype("multiscale").two_scale
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
        # BATCH_SIZES): the generators at 0.56x their multiply-adds see twice the images per
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
        # local affine colour transforms of the input (HDRNet, Gharbi et al. 2017; Luan et al.
        # 2017): the generators' last conv also writes a per-pixel 3x3 matrix M, the output
        # tanh(atanh(x) + r + M x); M's channels start at zero. Screened as a prototype in
        # benchmarks/ (its state-dict keys under stem.stem. and head.head.), bit for bit this
        # library option, which replaced it
        "ref+ema_p2+residual+no_identity+d_no_norm+local_affine": cur(local_affine=True),
        # local_affine with noise in the cycle (Chu et al. 2017; Bashkirova et al. 2019): at
        # 128x128 local_affine's generators stuck as a desaturating colour map and its inverse,
        # a pair that hides the summer's colours at low amplitude; noise on the translation
        # makes undoing that cost cycle loss. Half the cycle_noise that lost on the recipe
        "ref+ema_p2+residual+no_identity+d_no_norm+local_affine+cycle_noise0.05": cur(
            local_affine=True, cycle_noise=0.05
        ),
        # local_affine's matrix on the input's detail only, x - mean_7(x): at 128x128
        # local_affine's two generators stuck as near-inverse colour maps of each other; with M
        # on the detail a region's own colour changes only through r. Screened as a prototype
        # (benchmarks/detail_affine.py, the same state-dict keys), bit for bit this library
        # option, which replaced it
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine": cur(
            local_affine=True, local_affine_detail=7
        ),
        # the improved recipe since 2026-12-05: the same with the average warmed up with EMA's
        # default power 8. Its trajectories are the line above's (an average only reads the
        # weights), so that line's runs, scored with their ema0.999 shadow, are its runs too
        "ref+ema+residual+no_identity+d_no_norm+detail_affine": imp(
            discriminator_overrides={"norm": "none"}, local_affine=True, local_affine_detail=7
        ),
        # the improved recipe (since the night of 2026-12-04: the detail matrix) with the noise
        # in the cycle that let the full matrix train at 128x128: does the noise help the
        # detail form as well?
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine+cycle_noise0.05": cur(
            local_affine=True, local_affine_detail=7, cycle_noise=0.05
        ),
        # the improved recipe with a wider detail window: more of what the full matrix (no
        # window) gained at 64x64, without its stall at 128x128?
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine15": cur(
            local_affine=True, local_affine_detail=15
        ),
        # ... and with a narrower one: the 15x15 window lost to the 7x7 on seed 0; does the
        # trend continue, M on the finest detail (edges, single-pixel texture) and r on the rest?
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine3": cur(
            local_affine=True, local_affine_detail=3
        ),
        # the improved recipe with two-time-scale learning rates (Heusel et al. 2017), the
        # discriminators at twice the generators' rate: the matrix makes the generators more
        # expressive than the ones fast_d was screened with (level there)
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine+fast_d": cur(
            local_affine=True, local_affine_detail=7, lr_d=4e-4
        ),
        # ... with the R1 penalty on real images (r1_gamma=1, as "+r1"): fast_d's failed run
        # (seed 4) was no early collapse but a blow-up in mid-run (its trained generator's
        # validation L1 0.176 at step 350, 1.174 at step 400), and R1 is the usual guard of a
        # fast discriminator (Mescheder et al. 2018: it keeps the discriminator's gradient small
        # on the data, where a sharp one throws the generators off)
        "ref+ema_p2+residual+no_identity+d_no_norm+detail_affine+fast_d+r1": cur(
            local_affine=True, local_affine_detail=7, lr_d=4e-4, r1_gamma=1.0
        ),
        # SimGAN's half-history discriminator batches (Shrivastava et al. 2017; train with
        # trainer_class): the newest translation always scored, with the pool's pick beside it,
        # where the reference's pool replaces the newest half of the time
        "ref+ema_p2+residual+no_identity+d_no_norm+half_history": cur(),
        # R3GAN's objective (Huang et al. 2024; benchmarks/r2.py, trained with its trainer): the
        # relativistic logistic loss with R1 on the reals and R2 on the fakes, one gamma (the r1
        # candidate's), which converges where R1 alone can oscillate
        "ref+ema_p2+residual+no_identity+d_no_norm+r3gan": cur(
            gan_mode="vanilla", relativistic=True, r1_gamma=1.0
        ),
        # GcGAN's geometry consistency with the horizontal mirror (Fu et al. 2019; train with
        # trainer_class, benchmarks/mirror_consistency.py): G(flip(x)) = flip(G(x)), weight 2,
        # for both generators; the mirror self-ensemble's gain says the trained generators
        # break this symmetry of the data a little
        "ref+ema_p2+residual+no_identity+d_no_norm+mirror_consistency": cur(),
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
BATCH_SIZES = {
    "ref+ema+residual+no_identity+batch2": 2,
    "ref+ema_p2+residual+no_identity+d_no_norm+g_width48+batch2": 2,
}
