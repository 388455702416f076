"""unpaired-i2i: typed, composable PyTorch parts for unpaired image-to-image translation.

The public API is flat: every public name is importable from ``unpaired_i2i``. The
benchmark harness is a tool rather than a model part: it lives in :mod:`unpaired_i2i.bench`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# --- core (models, losses, pool, checks) ---
from unpaired_i2i._checks import ShapeError
from unpaired_i2i.losses import (
    GANLoss,
    cycle_consistency_loss,
    fake_mse_loss,
    gan_loss,
    identity_loss,
    real_mse_loss,
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
    DATASET_URL,
    IMAGE_EXTENSIONS,
    SEASONS,
    ColorTransfer,
    CorruptImageError,
    CorruptImageWarning,
    CycleGANTransform,
    DownloadError,
    Season,
    UnpairedImageDataset,
    default_load_size,
    download_dataset,
    draw_scene,
    evaluate_paired,
    list_images,
    load_image,
    make_season_dataset,
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
    linear_decay_factor,
    linear_decay_lambda,
    load_checkpoint_file,
    load_cyclegan,
    save_checkpoint_file,
    translation_grid,
)

# --- inference / cli ---
# isort: split
from unpaired_i2i.inference import (
    UnreadableImagesError,
    export_generator,
    load_exported,
    translate,
)


# --- benchmarks: a tool, not a model part; reachable as ``unpaired_i2i.bench`` and, for
# code written against 0.1, as attributes of the package (loaded on first use) ---
def __getattr__(name: str) -> Any:
    if not name.startswith("__"):
        bench = importlib.import_module("unpaired_i2i.bench")
        if name in bench.__all__:
            return getattr(bench, name)
    raise AttributeError(f"module 'unpaired_i2i' has no attribute {name!r}")


__all__ = [
    "DATASET_NAMES",
    "DATASET_URL",
    "EMA",
    "IMAGE_EXTENSIONS",
    "LOSS_KEYS",
    "SEASONS",
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
    "GANLoss",
    "ImagePool",
    "LossPlot",
    "MetricsFormat",
    "MetricsLogger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ProgressBar",
    "ResidualBlock",
    "ResnetGenerator",
    "SampleGrid",
    "Season",
    "ShapeError",
    "TensorBoardLogger",
    "TrainConfig",
    "TrainerState",
    "UnpairedImageDataset",
    "UnreadableImagesError",
    "__version__",
    "cycle_consistency_loss",
    "default_load_size",
    "download_dataset",
    "draw_scene",
    "evaluate_paired",
    "export_generator",
    "fake_mse_loss",
    "gan_loss",
    "identity_loss",
    "init_weights",
    "linear_decay_factor",
    "linear_decay_lambda",
    "list_images",
    "load_checkpoint_file",
    "load_cyclegan",
    "load_exported",
    "load_image",
    "make_season_dataset",
    "psnr",
    "real_mse_loss",
    "save_checkpoint_file",
    "ssim",
    "to_rgb",
    "translate",
    "translation_grid",
    "verify_images",
]
