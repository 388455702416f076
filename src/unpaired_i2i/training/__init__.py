"""Training: the trainer, its config and state, callbacks, checkpoints, LR schedules, the pool.

Layout: ``trainer`` (:class:`CycleTrainer`, the loop), ``objective`` (the CycleGAN losses and
step users override), ``run_state`` (checkpoint dicts, RNG and data position), ``config``
(:class:`TrainConfig`, :class:`TrainerState`), ``finite`` (NaN/inf detection), ``distributed``
(torchrun / DDP helpers), ``checkpoint``
(files), ``pool``, ``schedules`` and ``callbacks/`` (one built-in callback family per module).
"""

from unpaired_i2i.training.callbacks import (
    EMA,
    Callback,
    FIDCallback,
    LossPlot,
    MetricsFormat,
    MetricsLogger,
    ModelCheckpoint,
    ProgressBar,
    SampleGrid,
    TensorBoardLogger,
    translation_grid,
)
from unpaired_i2i.training.checkpoint import (
    CHECKPOINT_KEYS,
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint_file,
    load_cyclegan,
    save_checkpoint_file,
)
from unpaired_i2i.training.config import TrainConfig, TrainerState
from unpaired_i2i.training.finite import NonFiniteLossError
from unpaired_i2i.training.objective import LOSS_KEYS
from unpaired_i2i.training.pool import ImagePool
from unpaired_i2i.training.schedules import linear_decay_factor, linear_decay_lambda
from unpaired_i2i.training.speed import batch_independent, resolve_amp
from unpaired_i2i.training.trainer import CycleTrainer

__all__ = [
    "CHECKPOINT_KEYS",
    "EMA",
    "FORMAT_VERSION",
    "LOSS_KEYS",
    "Callback",
    "CheckpointError",
    "CycleTrainer",
    "FIDCallback",
    "ImagePool",
    "LossPlot",
    "MetricsFormat",
    "MetricsLogger",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "ProgressBar",
    "SampleGrid",
    "TensorBoardLogger",
    "TrainConfig",
    "TrainerState",
    "batch_independent",
    "linear_decay_factor",
    "linear_decay_lambda",
    "load_checkpoint_file",
    "load_cyclegan",
    "resolve_amp",
    "save_checkpoint_file",
    "translation_grid",
]
