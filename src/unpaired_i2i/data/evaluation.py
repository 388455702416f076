"""Paired evaluation: score a translation against its true counterpart (L1, PSNR, SSIM).

Only meaningful where true pairs exist, e.g. the test split of
:func:`~unpaired_i2i.data.synthetic.make_season_dataset`, where each summer test scene has a
winter twin with the same geometry.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from unpaired_i2i._checks import ShapeError, check_bool, check_image_batch
from unpaired_i2i._generators import mirror_ensemble

__all__ = ["ColorTransfer", "evaluate_paired", "psnr", "ssim"]


def _check_pair(pred: torch.Tensor, target: torch.Tensor, fn: str) -> None:
    for arg, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{fn} expects {arg} to be a torch.Tensor; got {type(t).__name__}")
        if t.dim() not in (3, 4):
            raise ShapeError(
                f"{fn} expects {arg} of shape (N, C, H, W) or (C, H, W); "
                f"got a {t.dim()}-D tensor of shape {tuple(t.shape)}"
            )
    if pred.shape != target.shape:
        raise ShapeError(
            f"{fn} expects pred and target of the same shape; "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def psnr(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB.

    ``10 * log10(data_range**2 / MSE)`` with the MSE taken over each image's channels and pixels;
    ``inf`` for identical images.

    Args:
        pred: Predicted images with values in ``[0, data_range]``.
        target: Reference images, same shape and range.
        data_range: The span of possible values (1 for ``[0, 1]`` images).

    Returns:
        One PSNR per image (float32).

    Raises:
        ShapeError: The inputs are not 3-D or 4-D or differ in shape.

    Shape:
        - pred, target: ``(N, C, H, W)`` or ``(C, H, W)``, values in ``[0, data_range]``.
        - Output: ``(N,)``, or ``()`` for 3-D inputs.

    Example:
        >>> import torch
        >>> target = torch.zeros(2, 3, 8, 8)
        >>> psnr(target + 0.1, target).round(decimals=3)
        tensor([20., 20.])
    """
    _check_pair(pred, target, "psnr")
    single = pred.dim() == 3
    p = pred.unsqueeze(0) if single else pred
    t = target.unsqueeze(0) if single else target
    mse = (p.double() - t.double()).pow(2).flatten(1).mean(dim=1)
    out = (10.0 * torch.log10(data_range**2 / mse)).float()
    return out[0] if single else out


def _gaussian_window(
    size: int, sigma: float, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004), Gaussian window, channel-averaged.

    The standard formulation: local means, variances and covariance from an ``11 x 11`` Gaussian
    window with ``sigma = 1.5`` applied per channel without padding (only windows that fit in the
    image), ``C1 = (k1 * data_range)**2``, ``C2 = (k2 * data_range)**2``; the SSIM map is averaged
    over positions and channels. Computed in float64; exactly 1 for identical images. The test
    suite checks it against torchmetrics' ``structural_similarity_index_measure`` (extra
    ``metrics``): equal to ``1e-5`` on these windows (torchmetrics also averages windows over a
    reflection-padded border, so its mean differs slightly near small images' edges).

    Args:
        pred: Predicted images with values in ``[0, data_range]``.
        target: Reference images, same shape and range.
        data_range: The span of possible values (1 for ``[0, 1]`` images).
        window_size: Side of the Gaussian window (odd).
        sigma: Standard deviation of the Gaussian window.
        k1: Stabiliser for the luminance term.
        k2: Stabiliser for the contrast-structure term.

    Returns:
        One SSIM per image (float32), at most 1.

    Raises:
        ShapeError: The inputs are not 3-D or 4-D, differ in shape, or are smaller than the
            window.
        ValueError: ``window_size`` is not a positive odd int.

    Shape:
        - pred, target: ``(N, C, H, W)`` or ``(C, H, W)`` with ``H, W >= window_size``, values in
          ``[0, data_range]``.
        - Output: ``(N,)``, or ``()`` for 3-D inputs.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim(x, x)
        tensor([1., 1.])
        >>> bool((ssim(x, 1 - x) < 0).all())
        True
    """
    _check_pair(pred, target, "ssim")
    if (
        isinstance(window_size, bool)
        or not isinstance(window_size, int)
        or window_size < 1
        or (window_size % 2 == 0)
    ):
        raise ValueError(f"ssim expects window_size to be a positive odd int; got {window_size!r}")
    single = pred.dim() == 3
    p = (pred.unsqueeze(0) if single else pred).double()
    t = (target.unsqueeze(0) if single else target).double()
    _, channels, height, width = p.shape
    if height < window_size or width < window_size:
        raise ShapeError(
            f"ssim expects images of at least {window_size}x{window_size} (the window size); "
            f"got {height}x{width} in shape {tuple(pred.shape)}"
        )
    window = _gaussian_window(window_size, sigma, p.dtype, p.device)
    kernel = window.expand(channels, 1, window_size, window_size).contiguous()

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, kernel, groups=channels)

    mu_p, mu_t = blur(p), blur(t)
    var_p = blur(p * p) - mu_p * mu_p
    var_t = blur(t * t) - mu_t * mu_t
    cov = blur(p * t) - mu_p * mu_t
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    num = (2 * mu_p * mu_t + c1) * (2 * cov + c2)
    den = (mu_p * mu_p + mu_t * mu_t + c1) * (var_p + var_t + c2)
    out = (num / den).flatten(1).mean(dim=1).float()
    return out[0] if single else out


def _as_batch(item: Any, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(item, Sequence) or len(item) < 2:
        raise TypeError(
            "evaluate_paired expects each batch to be an (x, y) pair of tensors; "
            f"got {type(item).__name__} at batch {index}"
        )
    x, y = item[0], item[1]
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            "evaluate_paired expects each batch to be an (x, y) pair of tensors; got "
            f"({type(x).__name__}, {type(y).__name__}) at batch {index}"
        )
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if y.dim() == 3:
        y = y.unsqueeze(0)
    if x.dim() != 4 or x.shape != y.shape:
        raise ShapeError(
            "evaluate_paired expects x and y batches of the same shape (N, C, H, W); "
            f"got {tuple(x.shape)} and {tuple(y.shape)} at batch {index}"
        )
    return x, y


def _default_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")


def _in_order(data: Dataset[Any] | Iterable[Any], batch_size: int) -> Iterable[Any]:
    """A Dataset's items in order, batched without workers; any other iterable as it is.

    Iterate it inside ``torch.random.fork_rng(devices=[])``: a DataLoader draws a seed from
    the global RNG each time it is iterated, which would make a run that evaluates during
    training diverge from one that does not.
    """
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    return data


def _checked_output(
    generator: nn.Module, x: torch.Tensor, *, shape: torch.Size, index: int
) -> torch.Tensor:
    out = generator(x)
    if not isinstance(out, torch.Tensor) or out.shape != shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ShapeError(
            f"evaluate_paired expects generator output of shape {tuple(shape)}; "
            f"got {got} at batch {index}"
        )
    return out


def evaluate_paired(
    generator: nn.Module,
    data: Dataset[Any] | Iterable[Any],
    *,
    device: torch.device | str | None = None,
    batch_size: int = 8,
    self_ensemble: bool = False,
) -> dict[str, float]:
    """Score ``generator`` on paired data where ``y`` is the true translation of ``x``.

    For every pair the prediction ``generator(x)`` is compared with ``y``: ``l1`` is the mean
    absolute error in ``[-1, 1]`` units; ``psnr`` (dB, ``data_range=1``) and ``ssim``
    (:func:`ssim`) are computed after mapping both to ``[0, 1]`` (predictions are clamped to
    ``[-1, 1]`` first). Each metric is computed per image and averaged over all images, so
    ``psnr`` is ``inf`` when any prediction is exact. ``identity_*`` score ``x`` itself as the
    prediction: the baseline a useful generator must beat.

    The generator runs under :func:`torch.inference_mode` in eval mode; the train/eval mode of
    every submodule is restored afterwards, also when an error is raised. The global RNG is left
    as it was (a DataLoader draws a seed from it each time it is iterated), so calling this
    during training (e.g. from a callback) leaves the run's trajectory as it would be without it.

    Args:
        generator: Maps a batch ``(N, 3, H, W)`` in ``[-1, 1]`` to the same shape.
        data: A :class:`~torch.utils.data.Dataset` of ``(x, y)`` pairs (batched internally, in
            order, without workers) or any iterable of ``(x, y)`` batches, e.g. a DataLoader.
            An :class:`~unpaired_i2i.data.UnpairedImageDataset` must have ``train=False``.
        device: Where to run; defaults to the device of the generator's first parameter.
        batch_size: Batch size used when ``data`` is a Dataset.
        self_ensemble: Score the mirror self-ensemble ``0.5 * (G(x) + flip(G(flip(x))))``
            instead of ``G(x)`` (two generator calls per batch; what
            ``translate(..., self_ensemble=True)`` returns, see :ref:`self-ensemble`).

    Returns:
        ``{"l1", "psnr", "ssim", "identity_l1", "identity_psnr", "identity_ssim"}`` as floats.

    Raises:
        ValueError: ``data`` is empty, is an ``UnpairedImageDataset`` with ``train=True``,
            ``batch_size`` is not a positive int, or ``self_ensemble`` is not a bool.
        ShapeError: A batch's ``x`` and ``y`` differ in shape, or the output shape differs.
        TypeError: A batch is not an ``(x, y)`` pair of tensors.

    Shape:
        - x, y: ``(N, C, H, W)`` (or ``(C, H, W)`` items of a Dataset), values in ``[-1, 1]``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
        >>> pairs = torch.utils.data.TensorDataset(x, -x)
        >>> class Negate(nn.Module):
        ...     def forward(self, t: torch.Tensor) -> torch.Tensor:
        ...         return -t
        >>> scores = evaluate_paired(Negate(), pairs)
        >>> scores["l1"], scores["psnr"], scores["ssim"]
        (0.0, inf, 1.0)
        >>> scores["identity_l1"] > 0.5
        True
    """
    from unpaired_i2i.data.datasets import UnpairedImageDataset

    check_bool("evaluate_paired self_ensemble", self_ensemble)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"evaluate_paired expects batch_size to be a positive int; got {batch_size!r}"
        )
    if isinstance(data, UnpairedImageDataset) and data.train:
        raise ValueError(
            "evaluate_paired needs true pairs, but got an UnpairedImageDataset with train=True "
            "(random crops, flips and random y partners); build it with train=False, e.g. "
            "UnpairedImageDataset.from_root(root, 'test')"
        )
    batches = _in_order(data, batch_size)
    run_device = torch.device(device) if device is not None else _default_device(generator)
    modes = [(module, module.training) for module in generator.modules()]
    sums = dict.fromkeys(
        ("l1", "psnr", "ssim", "identity_l1", "identity_psnr", "identity_ssim"), 0.0
    )
    count = 0
    generator.eval()
    try:
        # DataLoaders draw their base seed from the global RNG: leave the caller's stream intact
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            for index, item in enumerate(batches):
                x, y = _as_batch(item, index)
                x = x.to(run_device, torch.float32)
                y = y.to(run_device, torch.float32)
                run = functools.partial(_checked_output, generator, shape=y.shape, index=index)
                out = mirror_ensemble(run, x) if self_ensemble else run(x)
                pred = out.float().clamp(-1.0, 1.0)
                target01 = (y.clamp(-1.0, 1.0) + 1.0) / 2.0
                for prefix, guess in (("", pred), ("identity_", x.clamp(-1.0, 1.0))):
                    guess01 = (guess + 1.0) / 2.0
                    sums[f"{prefix}l1"] += float((guess - y).abs().flatten(1).mean(1).sum())
                    sums[f"{prefix}psnr"] += float(psnr(guess01, target01).double().sum())
                    sums[f"{prefix}ssim"] += float(ssim(guess01, target01).double().sum())
                count += x.shape[0]
    finally:
        for module, mode in modes:
            module.training = mode
    if count == 0:
        raise ValueError("evaluate_paired got no data: the dataset or iterable is empty")
    return {key: (math.inf if math.isinf(value) else value / count) for key, value in sums.items()}


class ColorTransfer(nn.Module):
    """Plain colour-transfer baseline: match each channel's mean and spread from X to Y.

    ``out = clamp((x - mean_x) / std_x * std_y + mean_y, -1, 1)`` per RGB channel, with the
    statistics of all training pixels of each domain (a global version of Reinhard et al. 2001).
    It learns no structure, only the average colour shift, so a translation model worth its
    training scores clearly better than it under :func:`evaluate_paired`.

    Args:
        mean_x: Per-channel mean of domain X, shape ``(C,)``.
        std_x: Per-channel standard deviation of domain X, shape ``(C,)``.
        mean_y: Per-channel mean of domain Y, shape ``(C,)``.
        std_y: Per-channel standard deviation of domain Y, shape ``(C,)``.

    Shape:
        - Input: ``(N, C, H, W)`` in ``[-1, 1]``.
        - Output: ``(N, C, H, W)`` in ``[-1, 1]``.

    Example:
        >>> import torch
        >>> x = torch.zeros(2, 3, 4, 4) - 0.5
        >>> y = torch.zeros(2, 3, 4, 4) + 0.5
        >>> baseline = ColorTransfer.fit([(x, y)])
        >>> baseline(x).mean().item()
        0.5
    """

    mean_x: torch.Tensor
    std_x: torch.Tensor
    mean_y: torch.Tensor
    std_y: torch.Tensor

    def __init__(
        self, mean_x: torch.Tensor, std_x: torch.Tensor, mean_y: torch.Tensor, std_y: torch.Tensor
    ) -> None:
        super().__init__()
        shapes = {tuple(t.shape) for t in (mean_x, std_x, mean_y, std_y)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ShapeError(
                "ColorTransfer expects mean_x, std_x, mean_y and std_y of one shape (C,); "
                f"got {[tuple(t.shape) for t in (mean_x, std_x, mean_y, std_y)]}"
            )
        for name, t in (("mean_x", mean_x), ("std_x", std_x), ("mean_y", mean_y), ("std_y", std_y)):
            self.register_buffer(name, t.detach().float().clone().view(1, -1, 1, 1))

    @classmethod
    def fit(cls, data: Dataset[Any] | Iterable[Any], *, batch_size: int = 16) -> ColorTransfer:
        """Estimate the per-channel statistics from ``(x, y)`` pairs or batches.

        Args:
            data: A Dataset of ``(x, y)`` items or an iterable of ``(x, y)`` batches, values in
                ``[-1, 1]`` (x and y need not be true pairs: only their statistics are used).
            batch_size: Batch size used when ``data`` is a Dataset.

        Returns:
            The fitted baseline.

        Raises:
            ValueError: ``data`` is empty.
        """
        batches = _in_order(data, batch_size)
        sums: dict[str, torch.Tensor] = {}
        counts = {"x": 0, "y": 0}
        # DataLoaders draw their base seed from the global RNG: leave the caller's stream intact
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            for index, item in enumerate(batches):
                x, y = _as_batch(item, index)
                for key, t in (("x", x), ("y", y)):
                    flat = t.double().transpose(0, 1).flatten(1)  # (C, N*H*W)
                    sums[f"s{key}"] = sums.get(f"s{key}", 0) + flat.sum(1)
                    sums[f"q{key}"] = sums.get(f"q{key}", 0) + flat.square().sum(1)
                    counts[key] += flat.shape[1]
        if not counts["x"]:
            raise ValueError("ColorTransfer.fit got no data: the dataset or iterable is empty")
        stats: list[torch.Tensor] = []
        for key in ("x", "y"):
            mean = sums[f"s{key}"] / counts[key]
            var = (sums[f"q{key}"] / counts[key] - mean.square()).clamp_min(1e-12)
            stats += [mean.float(), var.sqrt().float()]
        return cls(*stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shift and scale each channel of ``x`` from X's statistics to Y's."""
        check_image_batch(x, module="ColorTransfer", channels=self.mean_x.shape[1])
        out = (x - self.mean_x) / self.std_x * self.std_y + self.mean_y
        return out.clamp(-1.0, 1.0)
