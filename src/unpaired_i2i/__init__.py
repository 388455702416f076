"""unpaired-i2i: typed, composable PyTorch parts for unpaired image-to-image translation.

The public API is flat: every public name is importable from ``unpaired_i2i``.
"""

from __future__ import annotations

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

# --- training ---

# --- inference / cli ---

__all__ = [
    "ConvDiscriminator",
    "ConvNormAct",
    "CycleGAN",
    "GANLoss",
    "ImagePool",
    "ResidualBlock",
    "ResnetGenerator",
    "ShapeError",
    "__version__",
    "cycle_consistency_loss",
    "fake_mse_loss",
    "gan_loss",
    "identity_loss",
    "init_weights",
    "real_mse_loss",
]
