"""Callbacks: the :class:`Callback` hook base class and the built-in callbacks, one family a module.

========================  ===============================================================
Module                    Holds
========================  ===============================================================
``base``                  :class:`Callback`, the hook base class (what the trainer imports)
``checkpoint``            :class:`ModelCheckpoint` (checkpoint files)
``progress``              :class:`ProgressBar` (a tqdm bar, or plain lines off a terminal)
``logging``               :class:`MetricsLogger` (CSV / JSON lines), :data:`MetricsFormat`,
                          :class:`TensorBoardLogger`
``images``                :func:`translation_grid`, :class:`SampleGrid` (PNG grids),
                          :class:`LossPlot` (loss curves as PNG)
``ema``                   :class:`EMA` (averaged generators)
``fid``                   :class:`FIDCallback` (FID / KID on a held-out set, extra ``metrics``)
========================  ===============================================================

Each built-in callback is an ordinary :class:`Callback` subclass; every name is importable from
here and from :mod:`unpaired_i2i`.
"""

from unpaired_i2i._io import StrPath as StrPath
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.checkpoint import ModelCheckpoint
from unpaired_i2i.training.callbacks.ema import EMA
from unpaired_i2i.training.callbacks.fid import FIDCallback
from unpaired_i2i.training.callbacks.images import LossPlot, SampleGrid, translation_grid
from unpaired_i2i.training.callbacks.logging import (
    MetricsFormat,
    MetricsLogger,
    TensorBoardLogger,
)
from unpaired_i2i.training.callbacks.progress import ProgressBar

__all__ = [
    "EMA",
    "Callback",
    "FIDCallback",
    "LossPlot",
    "MetricsFormat",
    "MetricsLogger",
    "ModelCheckpoint",
    "ProgressBar",
    "SampleGrid",
    "TensorBoardLogger",
    "translation_grid",
]
