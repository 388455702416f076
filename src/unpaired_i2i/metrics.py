"""Distribution metrics: FID and KID of translated images against real ones, fully offline.

Paired scores (:func:`~unpaired_i2i.evaluate_paired`) need the true counterpart of every image;
two unpaired photo folders have none, and a translation is then judged by how close the
*distribution* of its outputs is to the real target images: the Fréchet Inception Distance (FID,
Heusel et al. 2017) and the Kernel Inception Distance (KID, Bińkowski et al. 2018), both on
Inception-v3 features.

* :func:`evaluate_fid_kid` translates the source images with a generator and scores them against
  the real target images. The statistics come from torchmetrics
  (:class:`~torchmetrics.image.fid.FrechetInceptionDistance` and
  :class:`~torchmetrics.image.kid.KernelInceptionDistance`); the features from torch-fidelity's
  port of the TensorFlow FID Inception (:func:`inception_feature_extractor`), or from any
  ``nn.Module`` returning ``(N, D)`` features.
* The Inception weights are never downloaded: they come from an explicit file, the environment
  variable :data:`FID_WEIGHTS_ENV` or torch's cache when the file is already there
  (:func:`resolve_inception_weights`), else :class:`InceptionWeightsError` says which file is
  needed and where it is published.
* :func:`to_extractor_input` is the one conversion from the generator's ``[-1, 1]`` images to
  what a feature extractor takes.

Needs the optional extra ``metrics`` (``pip install "unpaired-i2i[metrics]"``: torchmetrics and
torch-fidelity); this module imports without it and raises :class:`ImportError` naming the extra
when a score is asked for. The protocol (which images, sizes, counts, KID subsets, the bias of
FID on small sets) is in the documentation's "Distribution metrics" page.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, SupportsIndex, TypeAlias

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from unpaired_i2i._checks import ShapeError, check_choice, check_int, format_shape
from unpaired_i2i._io import StrPath
from unpaired_i2i._modules import device_and_dtype, eval_mode, on_device
from unpaired_i2i.data.datasets import UnpairedImageDataset, list_images, load_image
from unpaired_i2i.data.transforms import CycleGANTransform

__all__ = [
    "FID_WEIGHTS_ENV",
    "FID_WEIGHTS_FILE",
    "FID_WEIGHTS_URL",
    "Direction",
    "ImageSource",
    "InceptionWeightsError",
    "evaluate_fid_kid",
    "inception_feature_extractor",
    "resolve_inception_weights",
    "to_extractor_input",
]

#: Environment variable naming the FID Inception weights file (used when ``weights_path`` is
#: not given).
FID_WEIGHTS_ENV = "UNPAIRED_I2I_FID_WEIGHTS"

#: File name of the FID Inception weights: torch-fidelity's conversion of the TensorFlow
#: Inception (2015-12-05) that the original FID code uses. It is also the name torch's cache
#: (``torch.hub.get_dir()/checkpoints/``) gives it.
FID_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"

#: Where :data:`FID_WEIGHTS_FILE` is published (torch-fidelity's v0.2.0 release).
FID_WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + FID_WEIGHTS_FILE
)

_INSTALL = 'pip install "unpaired-i2i[metrics]"'
_INCEPTION_FEATURES = (64, 192, 768, 2048)

#: Which generator is scored: ``"x2y"`` translates ``data_x`` and compares with ``data_y``;
#: ``"y2x"`` the reverse.
Direction: TypeAlias = Literal["x2y", "y2x"]

#: What ``data_x`` / ``data_y`` may be: an image tensor ``(N, C, H, W)`` in ``[-1, 1]``, a
#: Dataset or an iterable of batches (a DataLoader), or a folder of image files.
ImageSource: TypeAlias = torch.Tensor | Dataset[Any] | Iterable[Any] | str | os.PathLike[str]


class InceptionWeightsError(FileNotFoundError):
    """The FID Inception weights file is not available locally (it is never downloaded).

    The message names :data:`FID_WEIGHTS_FILE`, where it is published (:data:`FID_WEIGHTS_URL`)
    and the three ways to pass it: ``weights_path``, the environment variable
    :data:`FID_WEIGHTS_ENV`, or a copy in torch's cache folder.
    """


# ------------------------------------------------------------------------- optional imports
def _require_torchmetrics() -> tuple[Any, Any]:
    """The FID and KID classes of torchmetrics, or an ImportError naming the extra."""
    try:
        importlib.import_module("torchmetrics")
        fid = importlib.import_module("torchmetrics.image.fid")
        kid = importlib.import_module("torchmetrics.image.kid")
    except ImportError as err:
        raise ImportError(
            f"FID and KID need torchmetrics and torch-fidelity (the optional extra 'metrics'): "
            f"{_INSTALL} ({type(err).__name__}: {err})"
        ) from err
    return fid.FrechetInceptionDistance, kid.KernelInceptionDistance


def _require_torch_fidelity() -> Any:
    """torch-fidelity's ``FeatureExtractorInceptionV3``, or an ImportError naming the extra."""
    try:
        importlib.import_module("torch_fidelity")
        module = importlib.import_module("torch_fidelity.feature_extractor_inceptionv3")
    except ImportError as err:
        raise ImportError(
            "The FID Inception comes from torch-fidelity (the optional extra 'metrics'): "
            f"{_INSTALL} ({type(err).__name__}: {err})"
        ) from err
    return module.FeatureExtractorInceptionV3


# ---------------------------------------------------------------------------------- weights
def _cache_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_FILE


def _missing(reason: str) -> InceptionWeightsError:
    return InceptionWeightsError(
        f"{reason}. FID and KID with the standard Inception need its weights file "
        f"{FID_WEIGHTS_FILE} (torch-fidelity's port of the TensorFlow FID Inception), published "
        f"at {FID_WEIGHTS_URL}; unpaired-i2i never downloads it. Download it once and pass its "
        f"path: weights_path=PATH in Python, --weights PATH on the command line, or the "
        f"environment variable {FID_WEIGHTS_ENV}=PATH; a copy at {_cache_file()} (torch's cache) "
        "is found as well"
    )


def resolve_inception_weights(weights_path: StrPath | None = None) -> Path:
    """Find the FID Inception weights file locally, without any network access.

    Looked up in this order: ``weights_path``; the file named by the environment variable
    :data:`FID_WEIGHTS_ENV` (``UNPAIRED_I2I_FID_WEIGHTS``); :data:`FID_WEIGHTS_FILE` in torch's
    cache folder ``torch.hub.get_dir()/checkpoints/`` (where torch-fidelity and torchmetrics
    would have downloaded it). A path that is given (argument or variable) must exist; the
    cache is only used when neither is given.

    Args:
        weights_path: The weights file, or ``None`` to use the variable or the cache.

    Returns:
        The path of the weights file.

    Raises:
        InceptionWeightsError: The file is not there; the message says which file is needed,
            where it is published (:data:`FID_WEIGHTS_URL`) and how to pass it.

    Example:
        >>> try:
        ...     resolve_inception_weights("no/such/file.pth")
        ... except InceptionWeightsError as err:
        ...     print(FID_WEIGHTS_FILE in str(err), FID_WEIGHTS_URL in str(err))
        True True
    """
    if weights_path is not None:
        path = Path(os.fspath(weights_path))
        if not path.is_file():
            raise _missing(f"FID Inception weights not found: {path} (weights_path does not exist)")
        return path
    from_env = os.environ.get(FID_WEIGHTS_ENV, "").strip()
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise _missing(
                f"FID Inception weights not found: {path} (from the environment variable "
                f"{FID_WEIGHTS_ENV}, which names no file)"
            )
        return path
    cached = _cache_file()
    if cached.is_file():
        return cached
    raise _missing(
        f"FID Inception weights not found: no weights_path, {FID_WEIGHTS_ENV} is not set and "
        f"torch's cache has no {cached}"
    )


class _InceptionFeatures(nn.Module):
    """torch-fidelity's FID Inception-v3 as an extractor of ``(N, features)`` float32 features.

    Takes ``uint8`` images ``(N, 3, H, W)`` in ``[0, 255]`` (:attr:`input_dtype`) of any size:
    torch-fidelity resizes them to 299x299 itself, with the bilinear resize that reproduces the
    original TensorFlow FID code.
    """

    input_dtype = torch.uint8

    def __init__(self, inception: nn.Module, features: int) -> None:
        super().__init__()
        self.inception = inception
        self.num_features = features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inception(images)[0]
        return out.reshape(images.shape[0], -1)


def inception_feature_extractor(
    weights_path: StrPath | None = None,
    *,
    features: int = 2048,
    device: torch.device | str | None = None,
) -> nn.Module:
    """Build the standard FID Inception-v3 (torch-fidelity's) from a local weights file.

    The weights are found by :func:`resolve_inception_weights` (never downloaded) and checked
    to be a plain state dict (read with ``weights_only=True``) before torch-fidelity loads them.
    The module takes ``uint8`` images ``(N, 3, H, W)`` in ``[0, 255]`` of any size (its
    attribute ``input_dtype`` is ``torch.uint8``, which :func:`evaluate_fid_kid` honours) and
    resizes them to 299x299 itself, as the original TensorFlow FID code did; it returns
    ``(N, features)`` float32 features. It is frozen and in eval mode.

    Args:
        weights_path: The weights file :data:`FID_WEIGHTS_FILE`; ``None`` uses the environment
            variable :data:`FID_WEIGHTS_ENV` or torch's cache.
        features: The feature layer: 2048 (the pool features every published FID uses), or 64,
            192 or 768 (earlier layers; numbers are not comparable with FID, only useful for
            quick checks).
        device: Where to put the module (default: the CPU).

    Returns:
        The feature extractor.

    Raises:
        ImportError: The extra ``metrics`` is not installed.
        InceptionWeightsError: The weights file is not available locally.
        ValueError: ``features`` is not one of 64, 192, 768, 2048, or the file does not hold
            the FID Inception weights.

    Example:
        >>> extractor = inception_feature_extractor("weights.pth")  # doctest: +SKIP
        >>> extractor(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape  # doctest: +SKIP
        torch.Size([2, 2048])
    """
    check_choice("inception_feature_extractor features", features, _INCEPTION_FEATURES)
    inception_cls = _require_torch_fidelity()
    path = resolve_inception_weights(weights_path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"cannot read the FID Inception weights {path}: {type(err).__name__}: {err} "
            f"(expected {FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL})"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"{path} is not a state dict of tensors, so not the FID Inception weights "
            f"{FID_WEIGHTS_FILE} (published at {FID_WEIGHTS_URL})"
        )
    del state
    try:  # the path is always given, so torch-fidelity never downloads
        inception = inception_cls(
            "inception-v3-compat", [str(features)], feature_extractor_weights_path=str(path)
        )
    except (RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path} does not hold the FID Inception weights {FID_WEIGHTS_FILE} "
            f"(published at {FID_WEIGHTS_URL}): {first}"
        ) from err
    module = _InceptionFeatures(inception, features)
    module.requires_grad_(False)
    module.eval()
    return module.to(torch.device(device) if device is not None else torch.device("cpu"))


# ------------------------------------------------------------------------------- conversion
def to_extractor_input(images: torch.Tensor, *, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """Convert generator-range images ``[-1, 1]`` to what a feature extractor takes.

    The one place where images change range before feature extraction; real and translated
    images go through it alike. Values are clamped to ``[-1, 1]`` and mapped to ``[0, 1]``;
    one-channel images are repeated to three (Inception is an RGB network). For
    ``dtype=torch.uint8`` (what torch-fidelity's Inception takes) the result is
    ``round((x + 1) / 2 * 255)``: exactly the original bytes of an 8-bit image that the data
    pipeline mapped to ``[-1, 1]``, and a translated image quantised as if saved to PNG. For
    ``dtype=torch.float32`` the ``[0, 1]`` values are returned unquantised. The spatial size
    is kept: the standard Inception resizes to 299x299 itself.

    Args:
        images: ``(N, C, H, W)`` floating-point images in ``[-1, 1]``, ``C`` 1 or 3.
        dtype: ``torch.uint8`` (values ``0..255``) or ``torch.float32`` (values in ``[0, 1]``).

    Returns:
        ``(N, 3, H, W)`` on the images' device.

    Raises:
        TypeError: ``images`` is not a floating-point tensor.
        ShapeError: ``images`` is not ``(N, 1 or 3, H, W)``.
        ValueError: ``dtype`` is neither ``torch.uint8`` nor ``torch.float32``.

    Shape:
        - images: ``(N, C, H, W)`` with ``C`` 1 or 3.
        - Output: ``(N, 3, H, W)``.

    Example:
        >>> x = torch.tensor([-1.0, -0.5, 0.0, 1.0, 1.5]).view(1, 1, 1, 5)
        >>> to_extractor_input(x)[0, :, 0]
        tensor([[  0,  64, 128, 255, 255],
                [  0,  64, 128, 255, 255],
                [  0,  64, 128, 255, 255]], dtype=torch.uint8)
        >>> to_extractor_input(x, dtype=torch.float32)[0, 0, 0]
        tensor([0.0000, 0.2500, 0.5000, 1.0000, 1.0000])
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        got = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"to_extractor_input expects floating-point images in [-1, 1]; got {got}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ShapeError(
            "to_extractor_input expects images of shape (N, C, H, W) with C 1 or 3; got "
            f"{format_shape(images.shape)}"
        )
    if dtype not in (torch.uint8, torch.float32):
        raise ValueError(
            f"to_extractor_input dtype must be torch.uint8 or torch.float32; got {dtype}"
        )
    unit = (images.detach().float().clamp(-1.0, 1.0) + 1.0) / 2.0
    if unit.shape[1] == 1:
        unit = unit.expand(-1, 3, -1, -1)
    if dtype == torch.uint8:
        return (unit * 255.0).round().to(torch.uint8)
    return unit.contiguous()


# ------------------------------------------------------------------------------ image input
class _ImageFiles(Dataset[torch.Tensor]):
    """Image files read with :func:`load_image` and transformed to ``(3, S, S)`` in [-1, 1]."""

    def __init__(self, paths: Sequence[Path], transform: Any) -> None:
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: SupportsIndex) -> torch.Tensor:
        image = load_image(self.paths[int(index)])
        out: torch.Tensor = self.transform(image)
        return out


def _check_images(batch: torch.Tensor, name: str, index: int) -> torch.Tensor:
    if batch.dim() == 3:
        batch = batch.unsqueeze(0)
    if batch.dim() != 4 or batch.shape[1] not in (1, 3) or batch.shape[0] < 1:
        raise ShapeError(
            f"{name} must hold images of shape (N, C, H, W) with C 1 or 3; got "
            f"{format_shape(batch.shape)} in batch {index}"
        )
    if not batch.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point images in [-1, 1]; got dtype {batch.dtype} in "
            f"batch {index}"
        )
    low, high = float(batch.min()), float(batch.max())
    if not (-1.001 <= low and high <= 1.001):  # also catches NaN
        raise ValueError(
            f"{name} must hold images with values in [-1, 1] (the generator's range); got "
            f"values in [{low:.4g}, {high:.4g}] in batch {index}"
        )
    return batch


def _pick(item: Any, which: int, name: str, index: int) -> torch.Tensor:
    """The images of a batch: the tensor itself, or element ``which`` of an ``(x, y)`` pair."""
    if isinstance(item, torch.Tensor):
        return _check_images(item, name, index)
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) >= 1:
        chosen = item[0] if len(item) == 1 else item[which]
        if isinstance(chosen, torch.Tensor):
            return _check_images(chosen, name, index)
    raise TypeError(
        f"{name} must yield image tensors or (x, y) pairs of them; got "
        f"{type(item).__name__} in batch {index}"
    )


def _source_batches(
    source: ImageSource, *, which: int, name: str, batch_size: int, image_size: int
) -> Iterator[torch.Tensor]:
    """Batches ``(B, C, H, W)`` in [-1, 1] of one image source (see :func:`evaluate_fid_kid`).

    ``which`` is 0 for X and 1 for Y: the element taken from ``(x, y)`` pairs and the folder
    taken from an :class:`UnpairedImageDataset`.
    """
    batches: Iterable[Any]
    if isinstance(source, torch.Tensor):
        images = _check_images(source, name, 0)
        batches = torch.split(images, batch_size)
    elif isinstance(source, str | os.PathLike):
        paths = list_images(source, argument=name)
        files = _ImageFiles(paths, CycleGANTransform(image_size, train=False))
        batches = DataLoader(files, batch_size=batch_size, shuffle=False, num_workers=0)
    elif isinstance(source, UnpairedImageDataset):
        # Each file of the domain once (the dataset itself repeats the smaller folder), with
        # its own transform, or the deterministic test transform at its size.
        paths = source.paths_x if which == 0 else source.paths_y
        transform: Any = source.transform
        if transform is None:
            transform = (
                source.default_transform
                if not source.train
                else CycleGANTransform(source.size, load_size=source.load_size, train=False)
            )
        batches = DataLoader(
            _ImageFiles(paths, transform), batch_size=batch_size, shuffle=False, num_workers=0
        )
    elif isinstance(source, Dataset):
        batches = DataLoader(source, batch_size=batch_size, shuffle=False, num_workers=0)
    elif isinstance(source, Iterable):
        batches = source
    else:
        raise TypeError(
            f"{name} must be an image tensor (N, C, H, W), a Dataset, a DataLoader or iterable "
            f"of batches, or a folder path; got {type(source).__name__}"
        )
    for index, item in enumerate(batches):
        yield _pick(item, which, name, index)


def _check_source(source: object, name: str) -> None:
    """Check what can be checked of an image source without reading it all."""
    if isinstance(source, torch.Tensor):
        _check_images(source, name, 0)
    elif isinstance(source, str | os.PathLike):
        list_images(source, argument=name)
    elif not isinstance(source, Dataset | Iterable):
        raise TypeError(
            f"{name} must be an image tensor (N, C, H, W), a Dataset, a DataLoader or iterable "
            f"of batches, or a folder path; got {type(source).__name__}"
        )


# ---------------------------------------------------------------------- features and scores
def _extract_features(
    extractor: nn.Module,
    batches: Iterable[torch.Tensor],
    *,
    generator: nn.Module | None,
    device: torch.device,
    name: str,
) -> torch.Tensor:
    """Features ``(N, D)`` (float64, CPU) of the batches, translated by ``generator`` if given.

    Runs under :func:`torch.no_grad` with both modules in eval mode on ``device`` (each moved
    there for the call and back afterwards).
    """
    input_dtype = getattr(extractor, "input_dtype", torch.float32)
    if input_dtype not in (torch.uint8, torch.float32):
        raise ValueError(
            f"feature_extractor.input_dtype must be torch.uint8 or torch.float32; got "
            f"{input_dtype!r}"
        )
    features: list[torch.Tensor] = []
    modules = [extractor] if generator is None else [generator, extractor]
    with (
        on_device(extractor, device),
        on_device(generator, device) if generator is not None else contextlib.nullcontext(),
        eval_mode(*modules),
        torch.no_grad(),
    ):
        gen_dtype = device_and_dtype(generator)[1] if generator is not None else torch.float32
        for index, batch in enumerate(batches):
            images = batch.to(device)
            if generator is not None:
                out = generator(images.to(gen_dtype))
                if not isinstance(out, torch.Tensor) or out.shape != images.shape:
                    got = format_shape(out.shape) if isinstance(out, torch.Tensor) else type(out)
                    raise ShapeError(
                        f"the generator must return images of its input's shape "
                        f"{format_shape(images.shape)}; got {got} in batch {index} of {name}"
                    )
                images = out.float()
            feats = extractor(to_extractor_input(images, dtype=input_dtype))
            if (
                not isinstance(feats, torch.Tensor)
                or feats.dim() != 2
                or feats.shape[0] != images.shape[0]
            ):
                got = format_shape(feats.shape) if isinstance(feats, torch.Tensor) else type(feats)
                raise ShapeError(
                    f"the feature extractor must return features of shape (N, D) with N = "
                    f"{images.shape[0]} (the batch); got {got}"
                )
            features.append(feats.detach().to("cpu", torch.float64))
    if not features:
        raise ValueError(f"{name} holds no images")
    return torch.cat(features)


class _Precomputed(nn.Module):
    """The identity, as the ``feature`` module of torchmetrics' FID and KID.

    The features are extracted once per image (:func:`_extract_features`) and handed to both
    metrics, instead of each metric running the extractor again.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2:  # a probe image, where a metric asks for the feature size
            return features.new_zeros(features.shape[0], self.num_features, dtype=torch.float64)
        return features


def _fid_kid(
    fake: torch.Tensor,
    real: torch.Tensor,
    *,
    kid_subsets: int,
    kid_subset_size: int,
    seed: int,
    device: torch.device,
) -> dict[str, float]:
    """FID and KID (torchmetrics) of ``fake`` against ``real`` features; see evaluate_fid_kid."""
    fid_cls, kid_cls = _require_torchmetrics()
    n_fake, n_real = int(fake.shape[0]), int(real.shape[0])
    if n_fake < 2 or n_real < 2:
        raise ValueError(
            f"FID and KID need at least 2 images in each set; got {n_fake} translated and "
            f"{n_real} real images"
        )
    if fake.shape[1] != real.shape[1]:
        raise ShapeError(
            f"translated and real features differ in size: {fake.shape[1]} and {real.shape[1]}"
        )
    dim = int(fake.shape[1])
    if device.type == "mps":  # no float64 there
        device = torch.device("cpu")
    fake, real = fake.to(device, torch.float64), real.to(device, torch.float64)
    # sync_on_compute=False: under torchrun only the calling process evaluates.
    fid = fid_cls(feature=_Precomputed(dim), sync_on_compute=False).to(device)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    fid_value = float(fid.compute())
    subset = min(kid_subset_size, n_fake, n_real)
    with warnings.catch_warnings():  # its note that it keeps every feature in memory
        warnings.simplefilter("ignore")
        kid = kid_cls(
            feature=_Precomputed(dim),
            subsets=kid_subsets,
            subset_size=subset,
            sync_on_compute=False,
        ).to(device)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    # KID draws its subsets with torch.randperm from the global CPU generator: seed it for the
    # call only, so the scores repeat and the caller's random stream is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {
        "fid": fid_value,
        "kid_mean": float(kid_mean),
        "kid_std": float(kid_std),
        "kid_subset_size": subset,
        "n_translated": n_fake,
        "n_real": n_real,
    }


def _check_options(
    owner: str,
    *,
    batch_size: object,
    kid_subsets: object,
    kid_subset_size: object,
    seed: object,
    image_size: object,
    inception_features: object,
) -> None:
    check_int(f"{owner} batch_size", batch_size, 1)
    check_int(f"{owner} kid_subsets", kid_subsets, 1)
    check_int(f"{owner} kid_subset_size", kid_subset_size, 2)
    check_int(f"{owner} seed", seed, 0)
    check_int(f"{owner} image_size", image_size, 1)
    check_choice(f"{owner} inception_features", inception_features, _INCEPTION_FEATURES)


def _check_extractor(owner: str, feature_extractor: object, weights_path: object) -> None:
    if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
        raise TypeError(
            f"{owner} feature_extractor must be an nn.Module returning (N, D) features or None; "
            f"got {type(feature_extractor).__name__}"
        )
    if feature_extractor is not None and weights_path is not None:
        raise ValueError(
            f"{owner} takes weights_path (the standard Inception) or feature_extractor (your "
            "own), not both"
        )


def evaluate_fid_kid(
    generator: nn.Module,
    data_x: ImageSource,
    data_y: ImageSource,
    *,
    direction: Direction = "x2y",
    weights_path: StrPath | None = None,
    feature_extractor: nn.Module | None = None,
    inception_features: int = 2048,
    image_size: int = 256,
    batch_size: int = 16,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """FID and KID of the translated source images against the real target images.

    With ``direction="x2y"`` every image of ``data_x`` is translated by ``generator`` and the
    translations are compared with the images of ``data_y``; ``"y2x"`` translates ``data_y``
    and compares with ``data_x`` (pass the Y-to-X generator then). Features come from the
    standard FID Inception (:func:`inception_feature_extractor`, weights from a local file,
    never downloaded) or from ``feature_extractor``; each image is passed through the
    extractor once, after :func:`to_extractor_input`. The statistics are torchmetrics':
    :class:`~torchmetrics.image.fid.FrechetInceptionDistance` (in float64) and
    :class:`~torchmetrics.image.kid.KernelInceptionDistance` (cubic polynomial kernel,
    ``kid_subsets`` random subsets of ``kid_subset_size`` images of each set, drawn from a
    generator seeded with ``seed``: the same call gives the same numbers).

    Image sources (``data_x`` and ``data_y`` alike): an image tensor ``(N, C, H, W)`` in
    ``[-1, 1]``; a folder of image files (searched recursively, each read like the training
    data and brought to ``image_size`` by the test transform: resize to ``image_size * 286 /
    256`` and centre crop); a Dataset yielding images ``(C, H, W)`` or ``(x, y)`` pairs; or an
    iterable of batches such as a DataLoader, yielding ``(B, C, H, W)`` tensors or ``(x, y)``
    pairs. From pairs, ``data_x`` takes the first element and ``data_y`` the second, so one
    paired dataset can be passed as both. An
    :class:`~unpaired_i2i.UnpairedImageDataset` contributes each file of its X (``data_x``)
    or Y (``data_y``) folder exactly once (the dataset itself repeats the smaller folder), with
    its transform (its test transform if it was built with ``train=True``). Datasets are read
    in order without workers.

    The generator and a given extractor run in eval mode under :func:`torch.no_grad` on
    ``device`` and are moved back and given their modes back afterwards. The global random
    state is left as it was.

    Args:
        generator: The generator to score, ``(N, C, H, W)`` in ``[-1, 1]`` to the same shape.
        data_x: Images of domain X (see above).
        data_y: Images of domain Y.
        direction: ``"x2y"`` or ``"y2x"`` (see above).
        weights_path: The FID Inception weights file :data:`FID_WEIGHTS_FILE`; ``None`` looks
            at the environment variable :data:`FID_WEIGHTS_ENV`, then torch's cache.
        feature_extractor: Any ``nn.Module`` mapping images to ``(N, D)`` features, used
            instead of the Inception. It gets ``(N, 3, H, W)`` float32 images in ``[0, 1]``
            at their own size, or ``uint8`` in ``[0, 255]`` if it has an attribute
            ``input_dtype = torch.uint8``. Scores are then not comparable with published FID.
        inception_features: The Inception layer (2048, the standard; 64, 192 or 768 only for
            quick checks).
        image_size: Side of the images read from a folder path.
        batch_size: Images per generator and extractor call.
        kid_subsets: Number of KID subsets.
        kid_subset_size: Images per KID subset (1000 by default, as in torch-fidelity); lowered
            to the smaller set's size when that has fewer images (the value used is returned).
        seed: Seed of the KID subsets.
        device: Where to run; defaults to the device of the generator's first parameter.

    Returns:
        A dict: ``fid`` (FID), ``kid_mean`` (mean KID over the subsets), ``kid_std`` (its
        standard deviation), ``kid_subset_size`` (images per KID subset used),
        ``n_translated`` (translated images) and ``n_real`` (real target images); the counts
        are ints, the scores floats (lower is better, 0 for identical feature distributions).

    Raises:
        ImportError: The extra ``metrics`` is not installed (the message gives the pip
            command).
        InceptionWeightsError: No ``feature_extractor`` and the Inception weights file is not
            available locally.
        ValueError: An option is invalid, a set has fewer than 2 images, or images fall
            outside ``[-1, 1]``.
        ShapeError: Images are not ``(N, 1 or 3, H, W)``, the generator changes the shape, or
            the extractor does not return ``(N, D)``.
        TypeError: A source is of an unsupported kind or yields something else than images.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> class MeanColour(nn.Module):  # a toy extractor: per-channel means and spreads
        ...     def forward(self, x: torch.Tensor) -> torch.Tensor:
        ...         return torch.cat([x.mean((2, 3)), x.std((2, 3))], dim=1)
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(32, 3, 16, 16, generator=g) * 2 - 1
        >>> scores = evaluate_fid_kid(nn.Identity(), x, x.clone(),
        ...     feature_extractor=MeanColour())  # doctest: +SKIP
        >>> round(scores["fid"], 6), scores["n_translated"]  # doctest: +SKIP
        (0.0, 32)
    """
    check_choice("evaluate_fid_kid direction", direction, ("x2y", "y2x"))
    _check_options(
        "evaluate_fid_kid",
        batch_size=batch_size,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        seed=seed,
        image_size=image_size,
        inception_features=inception_features,
    )
    _check_extractor("evaluate_fid_kid", feature_extractor, weights_path)
    if not isinstance(generator, nn.Module):
        raise TypeError(
            f"evaluate_fid_kid expects generator to be an nn.Module; got {type(generator).__name__}"
        )
    _require_torchmetrics()  # before any work
    run_device = torch.device(device) if device is not None else device_and_dtype(generator)[0]
    extractor = feature_extractor
    if extractor is None:
        extractor = inception_feature_extractor(
            weights_path, features=inception_features, device=run_device
        )
    source, target = (data_x, data_y) if direction == "x2y" else (data_y, data_x)
    names = ("data_x", "data_y") if direction == "x2y" else ("data_y", "data_x")
    which = (0, 1) if direction == "x2y" else (1, 0)
    # DataLoaders draw their base seed from the global RNG: leave the caller's stream intact.
    with torch.random.fork_rng(devices=[]):
        fake = _extract_features(
            extractor,
            _source_batches(
                source, which=which[0], name=names[0], batch_size=batch_size, image_size=image_size
            ),
            generator=generator,
            device=run_device,
            name=names[0],
        )
        real = _extract_features(
            extractor,
            _source_batches(
                target, which=which[1], name=names[1], batch_size=batch_size, image_size=image_size
            ),
            generator=None,
            device=run_device,
            name=names[1],
        )
    return _fid_kid(
        fake,
        real,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        seed=seed,
        device=run_device,
    )
