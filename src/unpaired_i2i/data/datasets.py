"""Unpaired image folders as a :class:`torch.utils.data.Dataset`.

Randomness: every random choice (the random ``y`` partner, crop offsets, flips) comes either from
torch's global RNG (``seed=None``: DataLoader seeds it per worker from a base seed drawn from the
main process's global RNG, so checkpointing and restoring ``torch.get_rng_state()`` reproduces the
stream) or, when ``seed`` is given, from a :class:`torch.Generator` seeded from
``(seed, epoch, index)``, which makes every item a pure function of those three numbers whatever
the worker count or the state of the global RNG.
"""

from __future__ import annotations

import hashlib
import operator
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import SupportsIndex

import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset
from tqdm.auto import tqdm
from typing_extensions import Self

from unpaired_i2i._checks import check_int
from unpaired_i2i._io import StrPath
from unpaired_i2i.data.transforms import CycleGANTransform, PreprocessName, to_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "CorruptImageError",
    "CorruptImageWarning",
    "UnpairedImageDataset",
    "list_images",
    "load_image",
    "verify_images",
]

#: File extensions (lower case) recognised as images; matching is case-insensitive.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


class CorruptImageError(OSError):
    """An image file exists but cannot be decoded; the message names its path.

    Attributes:
        path: The file that could not be read.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = path
        self.reason = reason


class CorruptImageWarning(UserWarning):
    """Warned once per file when :class:`UnpairedImageDataset` skips a corrupt image."""


#: EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def load_image(path: StrPath, *, min_size: tuple[int, int] | None = None) -> Image.Image:
    """Read an image file fully into memory as 8-bit RGB.

    EXIF orientation is applied, then the mode is normalised by
    :func:`~unpaired_i2i.data.transforms.to_rgb` (grayscale, palette, 16-bit and alpha images all
    become RGB; alpha is composited onto white).

    Args:
        path: The image file.
        min_size: ``(width, height)`` the result must keep at least (after EXIF orientation):
            a JPEG larger than twice that is decoded at a reduced scale (1/2, 1/4 or 1/8,
            libjpeg's DCT scaling, several times faster for large photos). Other formats,
            and ``None``, decode at full size.

    Returns:
        A loaded image in mode ``RGB``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CorruptImageError: The file cannot be decoded (message names the path).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d) / "gray.png"
        ...     Image.new("L", (4, 3), 7).save(p)
        ...     img = load_image(p)
        >>> img.mode, img.size, img.getpixel((0, 0))
        ('RGB', (4, 3), (7, 7, 7))
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"image file not found: {file}")
    try:
        with Image.open(file) as opened:
            if min_size is not None and opened.format == "JPEG":
                width, height = min_size
                if opened.getexif().get(0x0112) in _SWAPPING_ORIENTATIONS:
                    width, height = height, width
                opened.draft(None, (width, height))
            opened.load()
            oriented = ImageOps.exif_transpose(opened)
            return to_rgb(oriented if oriented is not None else opened)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as err:  # Pillow raises many types on malformed data
        raise CorruptImageError(file, f"{type(err).__name__}: {err}") from err


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: StrPath, *, argument: str = "folder") -> list[Path]:
    """List the image files under ``folder``, recursively, in sorted order.

    Files whose extension is not in :data:`IMAGE_EXTENSIONS` (case-insensitive) and hidden files
    and folders (names starting with ``.``, e.g. macOS ``._*`` files) are ignored. Files are not
    opened; decoding errors surface when an item is loaded, or up front with
    :func:`verify_images`.

    Args:
        folder: The folder to scan.
        argument: Name of the caller's argument, used in error messages.

    Returns:
        Image paths sorted by their path relative to ``folder``.

    Raises:
        FileNotFoundError: ``folder`` does not exist ("not found").
        NotADirectoryError: ``folder`` is a file.
        ValueError: ``folder`` holds no image files ("empty").

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for name in ["b.PNG", "a.jpg", "notes.txt"]:
        ...         _ = (pathlib.Path(d) / name).write_bytes(b"")
        ...     print([p.name for p in list_images(d)])
        ['a.jpg', 'b.PNG']
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"{argument} folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"{argument} must be a folder of images; got a file: {root}")
    found: list[Path] = []
    ignored = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if _is_image_name(name):
                found.append(Path(dirpath) / name)
            else:
                ignored += 1
    if not found:
        extra = f" ({ignored} non-image files ignored)" if ignored else ""
        raise ValueError(
            f"{argument} folder is empty: no image files with extensions "
            f"{', '.join(IMAGE_EXTENSIONS)} found in {root}{extra}"
        )
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _image_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an image, or ``None`` when it can (see verify_images)."""
    try:
        with Image.open(path) as opened:
            image_format = opened.format
            opened.verify()
        if image_format != "PNG":
            # verify() checks a PNG's chunks and their CRCs up to IEND, but for other formats it
            # reads only the header; decode those (a JPEG at 1/8 scale), which finds truncation.
            with Image.open(path) as opened:
                opened.draft(None, (1, 1))
                opened.load()
    except Exception as err:  # Pillow raises many types on malformed data
        return f"{type(err).__name__}: {err}"
    return None


def verify_images(
    paths: Iterable[StrPath], *, progress: bool = False, description: str = "checking images"
) -> list[tuple[Path, str]]:
    """Check that image files can be read, cheaply, and return every one that cannot.

    Meant to run before training starts, so that a damaged file is reported at once rather than
    when the loader reaches it hours later. Each file is opened with Pillow and
    :meth:`PIL.Image.Image.verify`-ed without a full decode: for a PNG that checks every chunk
    and its checksum up to the end marker, which catches truncated files. Other formats are
    decoded as cheaply as the format allows (JPEGs at 1/8 scale), since ``verify`` reads only
    their header. A file that passes can still fail in rare cases (data damaged inside a PNG's
    compressed stream with a valid checksum); :class:`UnpairedImageDataset` then raises
    :class:`CorruptImageError` or, with ``skip_corrupt=True``, skips it.

    Args:
        paths: The image files, e.g. ``dataset.paths_x + dataset.paths_y``.
        progress: Show a progress bar (tqdm, on stderr) while checking.
        description: Label of the progress bar.

    Returns:
        ``(path, reason)`` for every file that cannot be read, in input order; empty when all
        are readable. ``reason`` reads like ``"OSError: Truncated File Read"``.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     good, bad = pathlib.Path(d) / "good.png", pathlib.Path(d) / "bad.jpg"
        ...     Image.new("RGB", (8, 8)).save(good)
        ...     _ = bad.write_text("not an image")
        ...     [(p.name, reason.split(":")[0]) for p, reason in verify_images([good, bad])]
        [('bad.jpg', 'UnidentifiedImageError')]
    """
    files = [Path(p) for p in paths]
    bad: list[tuple[Path, str]] = []
    bar = tqdm(files, desc=description, unit="img", disable=not progress, leave=False)
    try:
        for path in bar:
            problem = _image_problem(path)
            if problem is not None:
                bad.append((path, problem))
    finally:
        bar.close()
    return bad


def _mix_seed(*values: int) -> int:
    digest = hashlib.blake2b(
        b"/".join(str(int(v)).encode() for v in values), digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _order_domains(dirs: Sequence[Path]) -> tuple[Path, Path]:
    """Order two domain folders: ``X`` before ``Y``, ``A`` before ``B``, else by name."""
    first, second = sorted(dirs, key=lambda p: p.name)
    names = {first.name.lower(): first, second.name.lower(): second}
    for x_name, y_name in (("x", "y"), ("a", "b")):
        if set(names) == {x_name, y_name}:
            return names[x_name], names[y_name]
    return first, second


def _describe(folder: Path, limit: int = 20) -> str:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    if len(entries) > limit:
        shown.append(f"... ({len(entries) - limit} more)")
    return ", ".join(shown) if shown else "nothing (the folder is empty)"


class UnpairedImageDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Two folders of images, one per domain, served as ``(x, y)`` pairs for CycleGAN training.

    Item ``i`` takes ``x`` from ``paths_x[i % len(paths_x)]`` and, when training, ``y`` from a
    random index into ``paths_y`` (the reference behaviour); with ``serial=True`` or
    ``train=False``, ``y`` is ``paths_y[i % len(paths_y)]``, so a test set whose two folders hold
    the same sorted file names is served as true pairs. The length is the larger folder's.

    Images are read lazily in :meth:`__getitem__` with :func:`load_image` (any mode becomes RGB,
    alpha composited onto white, 16-bit data scaled to 8-bit; a JPEG at least twice as large as
    the resize needs is decoded at a reduced scale, see
    :attr:`CycleGANTransform.min_input_size
    <unpaired_i2i.data.transforms.CycleGANTransform.min_input_size>`) and transformed by a
    :class:`~unpaired_i2i.data.transforms.CycleGANTransform` built from ``size``, ``load_size``,
    ``preprocess``, ``flip`` and ``multiple`` unless ``transform`` is given. The preprocessing
    modes are the reference's (``resize_and_crop``: 286 then a 256 crop by default;
    ``scale_width_and_crop``; ``crop`` from the original resolution; ``scale_width``;
    ``none``), and an image smaller than the crop is scaled up, keeping its aspect ratio,
    until its shorter side is ``size``: see the transform for the rules.

    Randomness and determinism:

    * ``seed=None``: the ``y`` index, crops and flips are drawn from torch's global RNG. Under a
      DataLoader each worker's global RNG is seeded from a base seed drawn from the main process's
      global RNG, so restoring ``torch.get_rng_state()`` (and the sampler's state) reproduces a
      run bit for bit, with or without workers.
    * ``seed=s``: item ``i`` in epoch ``e`` draws everything from a :class:`torch.Generator`
      seeded from ``(s, e, i)``: the same ``(seed, epoch, index)`` always gives the same
      tensors, independent of workers, batch order and the global RNG. Call :meth:`set_epoch`
      at the start of each epoch to get fresh crops and partners (as with
      ``DistributedSampler.set_epoch``); DataLoader workers copy the dataset when an iterator is
      created, so do not combine this with ``persistent_workers=True``. A custom ``transform``
      is run with torch's global RNG temporarily seeded from ``(s, e, i)`` and restored after.
    * ``train=False``: nothing is random.

    Args:
        root_x: Folder of domain ``X`` images (searched recursively).
        root_y: Folder of domain ``Y`` images (searched recursively).
        size: Side of the square output crop in pixels (the reference's ``crop_size``).
        load_size: Side (``resize_and_crop``) or width (``scale_width*``) images are resized to
            before cropping; defaults to ``size * 286 / 256`` rounded (286 for 256), see
            :func:`~unpaired_i2i.data.transforms.default_load_size`.
        preprocess: One of :data:`~unpaired_i2i.data.transforms.PREPROCESS_MODES`. The modes
            without a crop (``scale_width``, ``none``) give each image its own size: use
            ``batch_size=1``.
        flip: Random horizontal flips when training (the reference's ``--no_flip`` is
            ``flip=False``).
        train: Random crop, flip and ``y`` partner when ``True``; resize, center crop and ``y`` by
            index when ``False``.
        seed: Makes items a deterministic function of ``(seed, epoch, index)``; see above.
        serial: Pair ``y`` by index (modulo its length) instead of at random.
        skip_corrupt: Instead of raising :class:`CorruptImageError`, warn once per file with
            :class:`CorruptImageWarning` and use the next readable image of the same folder.
        transform: Replaces the default transform; called on each RGB PIL image, must return a
            tensor.
        multiple: In the modes without a crop, output sides are rounded to a multiple of this
            (the generator's downsampling factor: 4 for ``cyclegan``, 8 for ``basic``).

    Attributes:
        paths_x: Sorted image paths of domain ``X``.
        paths_y: Sorted image paths of domain ``Y``.
        domains: Names of the two domain folders.
        epoch: The epoch set by :meth:`set_epoch` (0 initially).

    Raises:
        FileNotFoundError: A folder does not exist ("not found"; the folder is named).
        ValueError: A folder holds no image files ("empty"), or an option is invalid.

    Shape:
        - Item: ``(x, y)``, each ``(3, size, size)`` float32 with values in ``[-1, 1]``
          (``(3, H, W)``, per image, with ``preprocess="scale_width"`` or ``"none"``).

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as d:
        ...     for dom, n in [("A", 3), ("B", 2)]:
        ...         (pathlib.Path(d) / dom).mkdir()
        ...         for i in range(n):
        ...             Image.new("RGB", (20, 20), (40 * i, 0, 0)).save(f"{d}/{dom}/{i}.png")
        ...     ds = UnpairedImageDataset(f"{d}/A", f"{d}/B", size=16, seed=0)
        ...     x, y = ds[0]
        >>> len(ds), tuple(x.shape), tuple(y.shape), x.dtype
        (3, (3, 16, 16), (3, 16, 16), torch.float32)
    """

    def __init__(
        self,
        root_x: StrPath,
        root_y: StrPath,
        *,
        size: int = 256,
        load_size: int | None = None,
        preprocess: PreprocessName = "resize_and_crop",
        flip: bool = True,
        train: bool = True,
        seed: int | None = None,
        serial: bool = False,
        skip_corrupt: bool = False,
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        multiple: int = 4,
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(
                f"UnpairedImageDataset expects seed to be an int or None; got {seed!r}"
            )
        if transform is not None and not callable(transform):
            raise ValueError(
                "UnpairedImageDataset expects transform to be a callable taking a PIL image and "
                f"returning a tensor, or None; got {type(transform).__name__}"
            )
        self.root_x = Path(root_x)
        self.root_y = Path(root_y)
        self.paths_x: list[Path] = list_images(self.root_x, argument="root_x")
        self.paths_y: list[Path] = list_images(self.root_y, argument="root_y")
        self.domains: tuple[str, str] = (self.root_x.name, self.root_y.name)
        self.default_transform = CycleGANTransform(
            size,
            load_size=load_size,
            preprocess=preprocess,
            flip=flip,
            train=train,
            multiple=multiple,
        )
        self.size = size
        self.load_size = self.default_transform.load_size
        self.preprocess: PreprocessName = preprocess
        self.flip = self.default_transform.flip
        self.train = bool(train)
        self.seed = seed
        self.serial = bool(serial)
        self.skip_corrupt = bool(skip_corrupt)
        self.transform = transform
        self.epoch = 0
        self._skipped: set[Path] = set()
        # JPEGs are decoded no larger than the default transform needs (a custom one: in full).
        self._min_size = None if transform is not None else self.default_transform.min_input_size

    @classmethod
    def from_root(
        cls,
        root: StrPath,
        split: str = "train",
        *,
        size: int = 256,
        load_size: int | None = None,
        preprocess: PreprocessName = "resize_and_crop",
        flip: bool = True,
        train: bool | None = None,
        seed: int | None = None,
        serial: bool = False,
        skip_corrupt: bool = False,
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        multiple: int = 4,
    ) -> Self:
        """Build a dataset from a dataset root in one of the supported layouts.

        Layouts, tried in this order:

        1. Reference layout: ``root/<split>A`` and ``root/<split>B`` (``trainA``/``trainB``,
           ``testA``/``testB``), as in the published CycleGAN sets.
        2. Split folder with two domains: ``root/<split>/`` holding exactly two folders, e.g.
           ``root/train/summer`` and ``root/train/winter``.
        3. Two domain folders directly under ``root`` (only for ``split="train"``, since there is
           no split to tell train from test data).

        Domain order: folders named ``X``/``Y`` (any case) give ``X`` first, ``A``/``B`` give
        ``A`` first; otherwise the two names are sorted (``summer`` before ``winter``).
        ``train`` defaults to ``True`` for ``split="train"`` and ``False`` for other splits.

        Args:
            root: The dataset root.
            split: Split name, e.g. ``"train"`` or ``"test"``.
            size: As in the constructor.
            load_size: As in the constructor.
            preprocess: As in the constructor.
            flip: As in the constructor.
            train: As in the constructor; ``None`` picks the split's default (see above).
            seed: As in the constructor.
            serial: As in the constructor.
            skip_corrupt: As in the constructor.
            transform: As in the constructor.
            multiple: As in the constructor.

        Returns:
            The dataset; its ``domains`` attribute names the two folders used.

        Raises:
            FileNotFoundError: ``root`` does not exist.
            ValueError: No layout matches; the message names ``root`` and lists what it holds.

        Example:
            >>> import tempfile
            >>> from unpaired_i2i.data import make_season_dataset
            >>> with tempfile.TemporaryDirectory() as d:
            ...     root = make_season_dataset(d, n_train=2, n_test=2, size=32)
            ...     test = UnpairedImageDataset.from_root(root, "test", size=32)
            >>> test.domains, test.train, len(test)
            (('testA', 'testB'), False, 2)
        """
        if not isinstance(split, str) or not split or "/" in split or "\\" in split:
            raise ValueError(
                f"UnpairedImageDataset.from_root expects split to be a folder-name string such as "
                f"'train' or 'test'; got {split!r}"
            )
        base = Path(root)
        if not base.exists():
            raise FileNotFoundError(f"UnpairedImageDataset.from_root: root not found: {base}")
        if not base.is_dir():
            raise NotADirectoryError(f"UnpairedImageDataset.from_root: root is a file: {base}")
        pair: tuple[Path, Path] | None = None
        if (base / f"{split}A").is_dir() and (base / f"{split}B").is_dir():
            pair = (base / f"{split}A", base / f"{split}B")
        elif (base / split).is_dir():
            domains = _visible_dirs(base / split)
            if len(domains) != 2:
                raise ValueError(
                    f"UnpairedImageDataset.from_root expects {base / split} to hold exactly two "
                    f"domain folders; found {len(domains)}: {_describe(base / split)}"
                )
            pair = _order_domains(domains)
        elif split == "train":
            domains = _visible_dirs(base)
            if len(domains) == 2:
                pair = _order_domains(domains)
        if pair is None:
            raise ValueError(
                f"UnpairedImageDataset.from_root found no {split!r} split under {base}: expected "
                f"{split}A/ and {split}B/ (reference layout), or {split}/ holding two domain "
                f"folders, or (split 'train' only) exactly two domain folders; found: "
                f"{_describe(base)}"
            )
        return cls(
            pair[0],
            pair[1],
            size=size,
            load_size=load_size,
            preprocess=preprocess,
            flip=flip,
            train=(split == "train") if train is None else train,
            seed=seed,
            serial=serial,
            skip_corrupt=skip_corrupt,
            transform=transform,
            multiple=multiple,
        )

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch mixed into the per-item seed (only matters when ``seed`` is given).

        Call it at the start of every epoch, before the DataLoader iterator is created.

        Args:
            epoch: A non-negative epoch number.

        Raises:
            ValueError: ``epoch`` is not a non-negative int.
        """
        self.epoch = check_int("UnpairedImageDataset.set_epoch epoch", epoch, 0)

    def __len__(self) -> int:
        return max(len(self.paths_x), len(self.paths_y))

    def _item_seed(self, index: int) -> int | None:
        if self.seed is None or not self.train:
            return None
        return _mix_seed(self.seed, self.epoch, index)

    def _load(self, paths: list[Path], index: int, root: Path) -> Image.Image:
        count = len(paths)
        for offset in range(count):
            path = paths[(index + offset) % count]
            if path in self._skipped:
                continue
            try:
                return load_image(path, min_size=self._min_size)
            except CorruptImageError as err:
                if not self.skip_corrupt:
                    raise
                self._skipped.add(path)
                warnings.warn(
                    f"skipping corrupt image {path}: {err.reason}",
                    CorruptImageWarning,
                    stacklevel=3,
                )
        raise CorruptImageError(root, "no readable image left in this folder (all corrupt)")

    def _apply(
        self, image: Image.Image, generator: torch.Generator | None, sub_seed: int | None
    ) -> torch.Tensor:
        if self.transform is None:
            return self.default_transform(image, generator=generator)
        if sub_seed is None:
            out = self.transform(image)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(sub_seed)
                out = self.transform(image)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"UnpairedImageDataset expects transform to return a torch.Tensor; "
                f"got {type(out).__name__}"
            )
        return out

    def __getitem__(self, index: SupportsIndex) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the pair ``(x, y)`` for ``index`` (negative indices count from the end).

        Raises:
            IndexError: ``index`` is out of range.
            CorruptImageError: An image cannot be decoded and ``skip_corrupt`` is off.
        """
        i = operator.index(index)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(
                f"UnpairedImageDataset index {operator.index(index)} out of range for length {n}"
            )
        item_seed = self._item_seed(i)
        generator = None if item_seed is None else torch.Generator().manual_seed(item_seed)
        if self.train and not self.serial:
            j = int(torch.randint(len(self.paths_y), (1,), generator=generator).item())
        else:
            j = i % len(self.paths_y)
        x_image = self._load(self.paths_x, i % len(self.paths_x), self.root_x)
        y_image = self._load(self.paths_y, j, self.root_y)
        x_seed = None if item_seed is None else _mix_seed(item_seed, 1)
        y_seed = None if item_seed is None else _mix_seed(item_seed, 2)
        return self._apply(x_image, generator, x_seed), self._apply(y_image, generator, y_seed)

    def __repr__(self) -> str:
        options = [f"size={self.size}", f"load_size={self.load_size}"]
        if self.preprocess != "resize_and_crop":
            options.append(f"preprocess={self.preprocess!r}")
        if not self.flip:
            options.append("flip=False")
        options.append(f"train={self.train}")
        if self.seed is not None:
            options.append(f"seed={self.seed}")
        if self.serial:
            options.append("serial=True")
        if self.skip_corrupt:
            options.append("skip_corrupt=True")
        if self.transform is not None:
            options.append(f"transform={self.transform!r}")
        return (
            f"{type(self).__name__}(root_x={str(self.root_x)!r} [{len(self.paths_x)} images], "
            f"root_y={str(self.root_y)!r} [{len(self.paths_y)} images], {', '.join(options)})"
        )
