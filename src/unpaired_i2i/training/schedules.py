"""Learning-rate schedules: the reference CycleGAN "constant, then linear decay" rule."""

from __future__ import annotations

from collections.abc import Callable

from unpaired_i2i._checks import check_int

__all__ = ["linear_decay_factor", "linear_decay_lambda"]


def linear_decay_factor(epoch: int, *, epochs: int, decay_epochs: int) -> float:
    """Return the LR multiplier of the reference schedule for a 0-based epoch.

    ``1 - max(0, epoch + 1 - epochs) / (decay_epochs + 1)``: 1 for the first ``epochs``
    epochs, then falling linearly by ``1 / (decay_epochs + 1)`` per epoch, to
    ``1 / (decay_epochs + 1)`` in the last of the ``epochs + decay_epochs`` epochs (the
    reference's ``n_epochs`` / ``n_epochs_decay`` with ``epoch_count = 1``). Past the planned
    end the factor keeps falling and is clamped at 0.

    Args:
        epoch: Number of completed epochs (0 during the first epoch).
        epochs: Epochs at the full learning rate.
        decay_epochs: Epochs of linear decay after them.

    Returns:
        The multiplier in ``[0, 1]``.

    Raises:
        ValueError: An argument is not an int ``>= 0``.

    Example:
        >>> [round(linear_decay_factor(e, epochs=2, decay_epochs=3), 2) for e in range(5)]
        [1.0, 1.0, 0.75, 0.5, 0.25]
    """
    check_int("epoch", epoch, 0)
    check_int("epochs", epochs, 0)
    check_int("decay_epochs", decay_epochs, 0)
    return max(0.0, 1.0 - max(0, epoch + 1 - epochs) / float(decay_epochs + 1))


def linear_decay_lambda(epochs: int, decay_epochs: int) -> Callable[[int], float]:
    """Return ``epoch -> linear_decay_factor(epoch, ...)`` for ``LambdaLR``.

    The result is a plain function, so ``LambdaLR.state_dict()`` does not store it: a resumed
    trainer keeps the schedule of its own :class:`~unpaired_i2i.TrainConfig`.

    Args:
        epochs: Epochs at the full learning rate.
        decay_epochs: Epochs of linear decay after them.

    Returns:
        The multiplier function.

    Raises:
        ValueError: An argument is not an int ``>= 0``.

    Example:
        >>> rule = linear_decay_lambda(1, 1)
        >>> rule(0), rule(1)
        (1.0, 0.5)
    """
    check_int("epochs", epochs, 0)
    check_int("decay_epochs", decay_epochs, 0)

    def factor(epoch: int) -> float:
        return linear_decay_factor(epoch, epochs=epochs, decay_epochs=decay_epochs)

    return factor
