"""Training: the image pool, the trainer, callbacks and checkpoints."""

from unpaired_i2i.training.pool import ImagePool

__all__ = ["ImagePool"]
