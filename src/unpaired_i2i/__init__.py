"""unpaired-i2i: typed, composable PyTorch parts for unpaired image-to-image translation.

The public API is flat: every public name is importable from ``unpaired_i2i``. The
benchmark harness is a tool rather than a model part: it lives in :mod:`unpaired_i2i.bench`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# --- core (models, losses, pool, checks) ---
from unpaired_i2i._checks import ShapeError
from unpaired_i2i.augment import AUGMENT_POLICIES, AugmentPolicy, diff_augment
from unpaired_i2i.losses import (
    GANLoss,
    cycle_consistency_loss,
    fake_mse_loss,
    gan_loss,
    identity_loss,
    r1_penalty,
    real_mse_loss,
    relativistic_gan_loss,
)
from unpaired_i2i.models import (
    ConvDiscriminator,
    ConvNormAct,
    CycleGAN,
    ResidualBlock,
    ResnetGenerator,
    init_weights,
)
from unpaired_i2i.training.pool import ImagePool

# --- data ---
# isort: split
from unpaired_i2i.data import (
    DATASET_NAMES,
    DATASET_SHA256,
    DATASET_URL,
    IMAGE_EXTENSIONS,
    MODEL_NAMES,
    MODEL_URL,
    PREPROCESS_MODES,
    SEASONS,
    ColorTransfer,
    CorruptImageError,
    CorruptImageWarning,
    CycleGANTransform,
    DownloadError,
    PreprocessName,
    Season,
    UnpairedImageDataset,
    default_load_size,
    download_dataset,
    download_model,
    draw_scene,
    evaluate_paired,
    list_images,
    load_image,
    make_season_dataset,
    model_cache_dir,
    psnr,
    ssim,
    to_rgb,
    verify_images,
)

# --- training ---
# isort: split
from unpaired_i2i.training import (
    EMA,
    LOSS_KEYS,
    Callback,
    CheckpointError,
    CycleTrainer,
    LossPlot,
    MetricsFormat,
    MetricsLogger,
    ModelCheckpoint,
    NonFiniteLossError,
    ProgressBar,
    SampleGrid,
    TensorBoardLogger,
    TrainConfig,
    TrainerState,
    batch_independent,
    linear_decay_factor,
    linear_decay_lambda,
    load_checkpoint_file,
    load_cyclegan,
    resolve_amp,
    save_checkpoint_file,
    translation_grid,
)

# --- distribution metrics (FID / KID; the scores need the extra "metrics") ---
# isort: split
from unpaired_i2i.metrics import (
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_FILE,
    FID_WEIGHTS_URL,
    InceptionWeightsError,
    evaluate_fid_kid,
    inception_feature_extractor,
    resolve_inception_weights,
    to_extractor_input,
)
from unpaired_i2i.training.callbacks import FIDCallback

# --- recipes (a model, a config and callbacks that belong together) ---
# isort: split
from unpaired_i2i.recipes import IMPROVED_RECIPE, RECIPES, RecipeName, RecipeSpec, recipe

# --- inference / cli ---
# isort: split
from unpaired_i2i.export import export_generator, load_exported
from unpaired_i2i.inference import UnreadableImagesError, translate
from unpaired_i2i.pretrained import load_generator_file
from unpaired_i2i.tiling import TileStats, TilingPlan, plan_tiling, translate_tiled

# --- benchmarks: a tool, not a model part; reachable as ``unpaired_i2i.bench`` and, for
# code written against 0.1, as attributes of the package (loaded on first use) ---
if TYPE_CHECKING:  # the same names, typed for type checkers (at run time: __getattr__)
    from unpaired_i2i.bench import (  # noqa: F401
        BASELINE,
        BENCH_KINDS,
        BENCH_VARIANTS,
        BenchKind,
        BenchVariant,
        benchmark_train_step,
        format_markdown,
        format_result,
        machine_info,
        run_benchmarks,
    )


def __getattr__(name: str) -> Any:
    if not name.startswith("__"):
        bench = importlib.import_module("unpaired_i2i.bench")
        if name in bench.__all__:
            return getattr(bench, name)
    raise AttributeError(f"module 'unpaired_i2i' has no attribute {name!r}")


__all__ = [
    "AUGMENT_POLICIES",
    "DATASET_NAMES",
    "DATASET_SHA256",
    "DATASET_URL",
    "EMA",
    "FID_WEIGHTS_ENV",
    "FID_WEIGHTS_FILE",
    "FID_WEIGHTS_URL",
    "IMAGE_EXTENSIONS",
    "IMPROVED_RECIPE",
    "LOSS_KEYS",
    "MODEL_NAMES",
    "MODEL_URL",
    "PREPROCESS_MODES",
    "RECIPES",
    "SEASONS",
    "AugmentPolicy",
    "Callback",
    "CheckpointError",
    "ColorTransfer",
    "ConvDiscriminator",
    "ConvNormAct",
    "CorruptImageError",
    "CorruptImageWarning",
    "CycleGAN",
    "CycleGANTransform",
    "CycleTrainer",
    "DownloadError",
    "FIDCallback",
    "GANLoss",
    "ImagePool",
    "InceptionWeightsError",
    "LossPlot",
    "MetricsFormat",
    "MetricsLogger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "PreprocessName",
    "ProgressBar",
    "RecipeName",
    "RecipeSpec",
    "ResidualBlock",
    "ResnetGenerator",
    "SampleGrid",
    "Season",
    "ShapeError",
    "TensorBoardLogger",
    "TileStats",
    "TilingPlan",
    "TrainConfig",
    "TrainerState",
    "UnpairedImageDataset",
    "UnreadableImagesError",
    "__version__",
    "batch_independent",
    "cycle_consistency_loss",
    "default_load_size",
    "diff_augment",
    "download_dataset",
    "download_model",
    "draw_scene",
    "evaluate_fid_kid",
    "evaluate_paired",
    "export_generator",
    "fake_mse_loss",
    "gan_loss",
    "identity_loss",
    "inception_feature_extractor",
    "init_weights",
    "linear_decay_factor",
    "linear_decay_lambda",
    "list_images",
    "load_checkpoint_file",
    "load_cyclegan",
    "load_exported",
    "load_generator_file",
    "load_image",
    "make_season_dataset",
    "model_cache_dir",
    "plan_tiling",
    "psnr",
    "r1_penalty",
    "real_mse_loss",
    "recipe",
    "relativistic_gan_loss",
    "resolve_amp",
    "resolve_inception_weights",
    "save_checkpoint_file",
    "ssim",
    "to_extractor_input",
    "to_rgb",
    "translate",
    "translate_tiled",
    "translation_grid",
    "verify_images",
]
