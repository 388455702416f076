"""Data: unpaired image folders, the reference transforms, demo data, downloads and evaluation.

* :class:`UnpairedImageDataset` serves ``(x, y)`` pairs from two image folders.
* :class:`CycleGANTransform` is the reference resize / crop / flip / normalise pipeline, with
  the reference's ``preprocess`` modes (:data:`PREPROCESS_MODES`).
* :func:`make_season_dataset` and :func:`draw_scene` make the built-in summer/winter demo data.
* :func:`download_dataset` fetches the public CycleGAN sets by name (:data:`DATASET_NAMES`),
  :func:`download_model` the published pretrained generators (:data:`MODEL_NAMES`).
* :func:`evaluate_paired`, :func:`psnr` and :func:`ssim` score translations on paired data.
"""

from __future__ import annotations

from unpaired_i2i.data.datasets import (
    IMAGE_EXTENSIONS,
    CorruptImageError,
    CorruptImageWarning,
    UnpairedImageDataset,
    list_images,
    load_image,
    verify_images,
)
from unpaired_i2i.data.download import (
    DATASET_NAMES,
    DATASET_SHA256,
    DATASET_URL,
    MODEL_NAMES,
    MODEL_URL,
    DownloadError,
    download_dataset,
    download_model,
    model_cache_dir,
)
from unpaired_i2i.data.evaluation import ColorTransfer, evaluate_paired, psnr, ssim
from unpaired_i2i.data.synthetic import SEASONS, Season, draw_scene, make_season_dataset
from unpaired_i2i.data.transforms import (
    PREPROCESS_MODES,
    CycleGANTransform,
    PreprocessName,
    default_load_size,
    to_rgb,
)

__all__ = [
    "DATASET_NAMES",
    "DATASET_SHA256",
    "DATASET_URL",
    "IMAGE_EXTENSIONS",
    "MODEL_NAMES",
    "MODEL_URL",
    "PREPROCESS_MODES",
    "SEASONS",
    "ColorTransfer",
    "CorruptImageError",
    "CorruptImageWarning",
    "CycleGANTransform",
    "DownloadError",
    "PreprocessName",
    "Season",
    "UnpairedImageDataset",
    "default_load_size",
    "download_dataset",
    "download_model",
    "draw_scene",
    "evaluate_paired",
    "list_images",
    "load_image",
    "make_season_dataset",
    "model_cache_dir",
    "psnr",
    "ssim",
    "to_rgb",
    "verify_images",
]
