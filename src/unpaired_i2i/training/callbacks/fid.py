"""The :class:`FIDCallback`: FID and KID on a held-out set every N epochs while training."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from unpaired_i2i._checks import check_bool, check_int
from unpaired_i2i._io import StrPath
from unpaired_i2i.metrics import (
    Direction,
    ImageSource,
    _check_extractor,
    _check_options,
    _check_source,
    _extract_features,
    _fid_kid,
    _require_torchmetrics,
    _source_batches,
    inception_feature_extractor,
    resolve_inception_weights,
)
from unpaired_i2i.training.callbacks.base import Callback
from unpaired_i2i.training.callbacks.images import sample_generators
from unpaired_i2i.training.callbacks.logging import MetricsLogger, TensorBoardLogger

if TYPE_CHECKING:
    from unpaired_i2i.training.trainer import CycleTrainer

__all__ = ["FIDCallback"]

_DIRECTIONS: tuple[Direction, ...] = ("x2y", "y2x")


class FIDCallback(Callback):
    """Compute FID and KID on a held-out set every ``every_n_epochs`` epochs and log them.

    At the end of every ``every_n_epochs``-th completed epoch, for each of ``directions``, the
    held-out source images are translated (``g_xy`` for ``"x2y"``, ``g_yx`` for ``"y2x"``; an
    :class:`EMA`'s averaged generators once it has averaged, unless ``use_ema=False``) and
    scored against the held-out real target images exactly as
    :func:`~unpaired_i2i.evaluate_fid_kid` does (same sources, extractor, KID subsets and
    seed). The features of the real images are computed once and reused. One row is recorded
    per evaluation: ``step``, ``epoch`` (0-based, the epoch that ended, as in
    :class:`MetricsLogger`), and for each direction ``d`` ``fid_d``, ``kid_mean_d`` and
    ``kid_std_d`` (e.g. ``fid_x2y``). The rows go to :attr:`history`, to the CSV / JSON-lines
    file ``path`` if given (same format rules as :class:`MetricsLogger`; use a file of its
    own, e.g. ``fid.csv``), and to every open :class:`TensorBoardLogger` of the trainer as the
    scalars ``fid/d``, ``kid/d`` and ``kid_std/d`` at the global step.

    Resume: :attr:`history` is the callback's checkpointed state, so a resumed run keeps the
    scores from before; rows after the resumed step are dropped from the history and the file
    (they are computed again), as :class:`MetricsLogger` does. The scores of an epoch are in
    the checkpoint written at its end whatever the order of the callbacks (if a checkpoint is
    saved before this callback's ``on_epoch_end``, the scores are computed while it is built).
    Evaluation leaves the random state of the run untouched, so the training itself is the same
    with or without this callback.

    Under ``torchrun`` rank 0 alone computes the scores (the other ranks wait, so keep the
    held-out set small enough to score in a few minutes) and hands the row to the other ranks;
    rank 0 alone writes the file and TensorBoard.

    Needs the ``metrics`` extra; with the standard Inception the weights file must be
    available locally (see :func:`~unpaired_i2i.resolve_inception_weights`): both are checked
    when the callback is created, before any training.

    Args:
        data_x: Held-out images of domain X: any image source of
            :func:`~unpaired_i2i.evaluate_fid_kid` (tensor, Dataset, DataLoader, folder).
        data_y: Held-out images of domain Y.
        every_n_epochs: Evaluate at the end of every this many epochs.
        directions: ``"x2y"``, ``"y2x"`` or both (default both).
        path: CSV (``.csv``) or JSON-lines (``.jsonl`` / ``.json``) file for the rows; ``None``
            keeps them in :attr:`history` (and TensorBoard) only.
        weights_path: The FID Inception weights file (see
            :func:`~unpaired_i2i.evaluate_fid_kid`).
        feature_extractor: Your own ``(N, D)`` feature extractor instead of the Inception.
        inception_features: The Inception layer (2048 is the standard FID).
        image_size: Side of images read from a folder path.
        batch_size: Images per generator and extractor call.
        kid_subsets: Number of KID subsets.
        kid_subset_size: Images per KID subset (lowered to the smaller set's size).
        seed: Seed of the KID subsets.
        use_ema: Score an :class:`EMA`'s averaged generators when there are any.

    Raises:
        ImportError: The extra ``metrics`` is not installed.
        InceptionWeightsError: No ``feature_extractor`` and no local Inception weights.
        ValueError: An option is invalid (``path`` with an unknown suffix included).
        TypeError: A data source is of an unsupported kind.

    Example:
        >>> fid = FIDCallback("data/testA", "data/testB", path="runs/demo/fid.csv",
        ...     weights_path="weights-inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
        >>> trainer = CycleTrainer(model, callbacks=[fid])  # doctest: +SKIP
        >>> trainer.fit(loader)  # doctest: +SKIP
        >>> fid.history[-1]["fid_x2y"]  # doctest: +SKIP
        84.2...
    """

    def __init__(
        self,
        data_x: ImageSource,
        data_y: ImageSource,
        *,
        every_n_epochs: int = 1,
        directions: Sequence[Direction] = _DIRECTIONS,
        path: StrPath | None = None,
        weights_path: StrPath | None = None,
        feature_extractor: nn.Module | None = None,
        inception_features: int = 2048,
        image_size: int = 256,
        batch_size: int = 16,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        seed: int = 0,
        use_ema: bool = True,
    ) -> None:
        _require_torchmetrics()
        self.every_n_epochs = check_int("FIDCallback every_n_epochs", every_n_epochs, 1)
        if (
            isinstance(directions, str)
            or not isinstance(directions, Sequence)
            or not directions
            or any(d not in _DIRECTIONS for d in directions)
            or len(set(directions)) != len(directions)
        ):
            raise ValueError(
                "FIDCallback directions must be a non-empty sequence of distinct 'x2y' / 'y2x'; "
                f"got {directions!r}"
            )
        self.directions: tuple[Direction, ...] = tuple(directions)
        _check_options(
            "FIDCallback",
            batch_size=batch_size,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            seed=seed,
            image_size=image_size,
            inception_features=inception_features,
        )
        _check_extractor("FIDCallback", feature_extractor, weights_path)
        self.use_ema = check_bool("FIDCallback use_ema", use_ema)
        _check_source(data_x, "FIDCallback data_x")
        _check_source(data_y, "FIDCallback data_y")
        self.data_x = data_x
        self.data_y = data_y
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.seed = seed
        self.image_size = image_size
        self.inception_features = inception_features
        self.feature_extractor = feature_extractor
        self.weights_path: Path | None = None
        if feature_extractor is None:  # fail now, not after the first epoch
            self.weights_path = resolve_inception_weights(weights_path)
        self.path = Path(os.fspath(path)) if path is not None else None
        self._log = MetricsLogger(self.path) if self.path is not None else None
        self.history: list[dict[str, Any]] = []
        """One row per evaluation, oldest first (see above)."""
        self._extractor: nn.Module | None = feature_extractor
        self._real: dict[int, torch.Tensor] = {}  # features of the real images, by domain
        self._done_step: int | None = None

    def __repr__(self) -> str:
        return (
            f"FIDCallback(every_n_epochs={self.every_n_epochs}, directions={self.directions}, "
            f"path={str(self.path) if self.path is not None else None!r})"
        )

    @property
    def state_key(self) -> str:
        """``"FIDCallback"``, or ``"FIDCallback[<path>]"`` with a file."""
        name = type(self).__qualname__
        return name if self.path is None else f"{name}[{self.path}]"

    @property
    def latest(self) -> dict[str, Any] | None:
        """The most recent row of :attr:`history`, or ``None`` before the first evaluation."""
        return dict(self.history[-1]) if self.history else None

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"history": rows}`` (plain ints and floats)."""
        return {"history": [dict(row) for row in self.history]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the rows of a checkpoint.

        Args:
            state: The stored state.
        """
        self.history = [dict(row) for row in state.get("history", [])]
        self._done_step = None

    # ---------------------------------------------------------------------------- scoring
    def _features(self, trainer: CycleTrainer) -> nn.Module:
        if self._extractor is None:
            self._extractor = inception_feature_extractor(
                self.weights_path, features=self.inception_features, device=trainer.device
            )
        return self._extractor

    def _batches(self, domain: int) -> Any:
        source = self.data_x if domain == 0 else self.data_y
        return _source_batches(
            source,
            which=domain,
            name="FIDCallback " + ("data_x" if domain == 0 else "data_y"),
            batch_size=self.batch_size,
            image_size=self.image_size,
        )

    def evaluate(self, trainer: CycleTrainer) -> dict[str, Any]:
        """Score the trainer's generators now and return the row (nothing is recorded).

        Args:
            trainer: The trainer.

        Returns:
            ``{"step", "epoch", "fid_<d>", "kid_mean_<d>", "kid_std_<d>"}`` for each direction.
        """
        extractor = self._features(trainer)
        if self.use_ema:
            g_xy, g_yx = sample_generators(trainer)
        else:
            g_xy, g_yx = trainer.model.g_xy, trainer.model.g_yx
        device = trainer.device
        state = trainer.state
        row: dict[str, Any] = {"step": state.step, "epoch": state.epoch}
        with torch.random.fork_rng(devices=[]):  # DataLoaders draw from the global RNG
            for direction in self.directions:
                source, target = (0, 1) if direction == "x2y" else (1, 0)
                if target not in self._real:
                    self._real[target] = _extract_features(
                        extractor,
                        self._batches(target),
                        generator=None,
                        device=device,
                        name="the real images",
                    )
                fake = _extract_features(
                    extractor,
                    self._batches(source),
                    generator=g_xy if direction == "x2y" else g_yx,
                    device=device,
                    name="the translated images",
                )
                scores = _fid_kid(
                    fake,
                    self._real[target],
                    kid_subsets=self.kid_subsets,
                    kid_subset_size=self.kid_subset_size,
                    seed=self.seed,
                    device=device,
                )
                row[f"fid_{direction}"] = scores["fid"]
                row[f"kid_mean_{direction}"] = scores["kid_mean"]
                row[f"kid_std_{direction}"] = scores["kid_std"]
        return row

    def _due(self, trainer: CycleTrainer) -> bool:
        state = trainer.state
        return (
            state.epoch_complete
            and (state.epoch + 1) % self.every_n_epochs == 0
            and self._done_step != state.step
        )

    def _evaluate_if_due(self, trainer: CycleTrainer) -> bool:
        if not self._due(trainer):
            return False
        from unpaired_i2i.training.distributed import from_rank_zero

        self._done_step = trainer.state.step
        row = self.evaluate(trainer) if trainer.is_global_zero else None
        row = from_rank_zero(row)
        assert row is not None
        self.history.append(row)
        if trainer.is_global_zero:
            self._publish(trainer, row)
        return True

    def _publish(self, trainer: CycleTrainer, row: Mapping[str, Any]) -> None:
        if self._log is not None:
            self._log._write_row(dict(row))
        step = int(row["step"])
        for cb in trainer.callbacks:
            writer = cb.writer if isinstance(cb, TensorBoardLogger) else None
            if writer is None:
                continue
            for direction in self.directions:
                writer.add_scalar(f"fid/{direction}", row[f"fid_{direction}"], step)
                writer.add_scalar(f"kid/{direction}", row[f"kid_mean_{direction}"], step)
                writer.add_scalar(f"kid_std/{direction}", row[f"kid_std_{direction}"], step)

    # ------------------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: CycleTrainer) -> None:
        """Drop rows after the current step (from the history, and from the file on rank 0)."""
        step = trainer.state.step
        self.history = [row for row in self.history if int(row["step"]) <= step]
        self._done_step = None
        if self._log is not None:
            self._log.on_fit_start(trainer)  # rank 0 rewrites the file without those rows

    def on_epoch_end(self, trainer: CycleTrainer) -> None:
        """Evaluate at the end of every ``every_n_epochs``-th completed epoch."""
        self._evaluate_if_due(trainer)

    def on_checkpoint_save(self, trainer: CycleTrainer, checkpoint: dict[str, Any]) -> None:
        """At an epoch end that is due, evaluate first so the checkpoint holds the scores."""
        if self._evaluate_if_due(trainer):
            checkpoint.setdefault("callbacks", {})[self.state_key] = self.state_dict()

    def on_fit_end(self, trainer: CycleTrainer) -> None:
        """Close the file."""
        if self._log is not None:
            self._log.on_fit_end(trainer)

    def on_exception(self, trainer: CycleTrainer, exc: BaseException) -> None:
        """Close the file."""
        if self._log is not None:
            self._log.on_exception(trainer, exc)
