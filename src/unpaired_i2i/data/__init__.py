"""Data: unpaired image folders, the reference transforms, demo data, downloads and evaluation.

* :class:`UnpairedImageDataset` serves ``(x, y)`` pairs from two image folders.
* :class:`CycleGANTransform` is the reference resize / crop / flip / normalise pipeline.
* :func:`make_season_dataset` and :func:`draw_scene` make the built-in summer/winter demo data.
* :func:`download_dataset` fetches the public CycleGAN sets by name (:data:`DATASET_NAMES`).
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
from unpaired_i2i.data.download import DATASET_NAMES, DATASET_URL, DownloadError, download_dataset
from unpaired_i2i.data.evaluation import ColorTransfer, evaluate_paired, psnr, ssim
from unpaired_i2i.data.synthetic import SEASONS, Season, draw_scene, make_season_dataset
from unpaired_i2i.data.transforms import CycleGANTransform, default_load_size, to_rgb

__all__ = [
    "DATASET_NAMES",
    "DATASET_URL",
    "IMAGE_EXTENSIONS",
    "SEASONS",
    "ColorTransfer",
    "CorruptImageError",
    "CorruptImageWarning",
    "CycleGANTransform",
    "DownloadError",
    "Season",
    "UnpairedImageDataset",
    "default_load_size",
    "download_dataset",
    "draw_scene",
    "evaluate_paired",
    "list_images",
    "load_image",
    "make_season_dataset",
    "psnr",
    "ssim",
    "to_rgb",
    "verify_images",
]
