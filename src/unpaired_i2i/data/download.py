"""Download the public CycleGAN datasets and pretrained generators by their published names.

Files are streamed in chunks to ``<root>/<file>.part`` with a progress bar and verified (byte
count against ``Content-Length``, SHA-256 where a digest is known or given) before anything
is put in place. Dataset archives are then checked (zip integrity, no member escaping the
target folder) and extracted to ``<root>/<name>/`` through a temporary folder that is renamed
only when everything succeeded; a generator file must load as a state dict of tensors
(``weights_only``) before it is renamed to ``<root>/<name>.pth``. So an interrupted or refused
download never leaves a half-filled dataset or a damaged model file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import torch
from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "DATASET_NAMES",
    "DATASET_SHA256",
    "DATASET_URL",
    "MODEL_NAMES",
    "MODEL_URL",
    "DownloadError",
    "download_dataset",
    "download_model",
    "model_cache_dir",
]

#: Names of the archives published with the reference implementation.
DATASET_NAMES: tuple[str, ...] = (
    "ae_photos",
    "apple2orange",
    "cezanne2photo",
    "facades",
    "grumpifycat",
    "horse2zebra",
    "iphone2dslr_flower",
    "maps",
    "mini",
    "mini_colorization",
    "mini_pix2pix",
    "monet2photo",
    "summer2winter_yosemite",
    "ukiyoe2photo",
    "vangogh2photo",
)

#: URL pattern of the reference's dataset server; ``{name}`` is one of :data:`DATASET_NAMES`.
DATASET_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"

#: SHA-256 digests of the dataset archives, where one is published: TensorFlow Datasets
#: records them (``url_checksums/cycle_gan.txt``) for the same archives at the reference's
#: former address ``people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/``. No digest is
#: published for the other names (``ae_photos``, ``grumpifycat``, the ``mini*`` sets).
DATASET_SHA256: Mapping[str, str] = MappingProxyType(
    {
        "apple2orange": "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8",
        "cezanne2photo": "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff",
        "facades": "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0",
        "horse2zebra": "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1",
        "iphone2dslr_flower": "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113",
        "maps": "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e",
        "monet2photo": "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04",
        "summer2winter_yosemite": (
            "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9"
        ),
        "ukiyoe2photo": "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08",
        "vangogh2photo": "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff",
    }
)

#: Names of the pretrained CycleGAN generators published with the reference implementation
#: (its ``scripts/download_cyclegan_model.sh``). Each file holds one generator, in one
#: direction: ``summer2winter_yosemite`` and ``winter2summer_yosemite`` are two files.
MODEL_NAMES: tuple[str, ...] = (
    "apple2orange",
    "cityscapes_label2photo",
    "cityscapes_photo2label",
    "facades_label2photo",
    "facades_photo2label",
    "horse2zebra",
    "iphone2dslr_flower",
    "map2sat",
    "monet2photo",
    "orange2apple",
    "sat2map",
    "style_cezanne",
    "style_monet",
    "style_ukiyoe",
    "style_vangogh",
    "summer2winter_yosemite",
    "winter2summer_yosemite",
    "zebra2horse",
)

#: URL pattern of the reference's pretrained generators; ``{name}`` is one of
#: :data:`MODEL_NAMES`. No digests are published for these files.
MODEL_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"

#: Environment variable naming the cache folder of :func:`model_cache_dir`.
_CACHE_ENV = "UNPAIRED_I2I_CACHE"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download reached the server but failed.

    Raised for an HTTP error, a truncated or corrupt archive, a checksum mismatch, or an archive
    member that would escape the target folder; the message names the URL.
    """


def _check_name(
    name: str, url: str | None, *, caller: str, names: tuple[str, ...], what: str, plain: str
) -> None:
    if not isinstance(name, str):
        raise ValueError(f"{caller} expects name to be a str; got {type(name).__name__}")
    if name == "cityscapes" and caller == "download_dataset":
        raise ValueError(
            "download_dataset cannot fetch 'cityscapes': its license forbids redistribution; "
            "download it from https://www.cityscapes-dataset.com and prepare it yourself"
        )
    if url is None and name not in names:
        raise ValueError(
            f"{caller} expects name to be one of {', '.join(names)} "
            f"(or pass url= for another {what}); got {name!r}"
        )
    if not _NAME_RE.match(name):
        raise ValueError(
            f"{caller} expects name to be a plain {plain} name (letters, digits, '_', '-', "
            f"'.'); got {name!r}"
        )


def _expected_digest(
    caller: str, sha256: str | None, known: str | None, *, verify: bool
) -> tuple[str | None, str]:
    """The digest to check (lower case) and where it comes from, for the mismatch message."""
    if sha256 is not None:
        if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
            raise ValueError(f"{caller} expects sha256 to be 64 hex digits; got {sha256!r}")
        return sha256.lower(), "given"
    if known is not None and verify:
        return known, (
            "recorded for this name; if the server now publishes a different file, "
            "pass verify=False (--no-verify) to accept it"
        )
    return None, ""


def _fetch(url: str, part: Path, *, timeout: float, progress: bool, label: str) -> str:
    """Stream ``url`` into ``part``; return the SHA-256 hex digest of the bytes written."""
    request = urllib.request.Request(url, headers={"User-Agent": "unpaired-i2i"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()  # the error carries the open response
        raise DownloadError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise ConnectionError(
            f"could not reach {url}: {err.reason}; check the network connection, or pass url= "
            "pointing to a reachable copy of the archive"
        ) from err
    except (TimeoutError, OSError, HTTPException) as err:
        raise ConnectionError(f"could not reach {url}: {err}") from err
    digest = hashlib.sha256()
    received = 0
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None and length.isdigit() else None
        try:
            with (
                open(part, "wb") as sink,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=label,
                    disable=not progress,
                ) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (HTTPException, TimeoutError, ConnectionError) as err:
            raise DownloadError(
                f"download of {url} was interrupted after {received} bytes: {err}"
            ) from err
    if total is not None and received != total:
        raise DownloadError(
            f"download of {url} is truncated: received {received} of {total} bytes "
            "(Content-Length); try again"
        )
    return digest.hexdigest()


def _unsafe_member(member: str) -> bool:
    normalised = member.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return True
    return ".." in PurePosixPath(normalised).parts


def _verify_zip(archive: Path, url: str) -> None:
    if not zipfile.is_zipfile(archive):
        raise DownloadError(f"{url} did not return a valid zip archive")
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if _unsafe_member(info.filename):
                    raise DownloadError(
                        f"refusing to extract the archive from {url}: member {info.filename!r} "
                        "has an absolute path or '..' and would be written outside the target"
                    )
            broken = zf.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as err:
        raise DownloadError(f"the archive from {url} is corrupt: {err}") from err
    if broken is not None:
        raise DownloadError(f"the archive from {url} is corrupt: bad CRC in member {broken!r}")


def _extract(archive: Path, staging: Path, target: Path, url: str) -> None:
    """Extract into ``staging`` and move the dataset folder to ``target``."""
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DownloadError(f"the archive from {url} is corrupt: {err}") from err
    shutil.rmtree(staging / "__MACOSX", ignore_errors=True)
    entries = [p for p in staging.iterdir() if not p.name.startswith(".")]
    # Published archives hold one top-level folder named like the dataset: unwrap it.
    source = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    if target.exists():  # only an empty folder can be here (a full one is returned early)
        target.rmdir()
    os.replace(source, target)


def _download(
    url: str, part: Path, *, expected: tuple[str | None, str], timeout: float, progress: bool
) -> None:
    """Stream ``url`` into ``part`` (``<file>.part``); check its SHA-256 against ``expected``."""
    label = part.name.removesuffix(".part")
    digest = _fetch(url, part, timeout=timeout, progress=progress, label=label)
    want, source = expected
    if want is not None and digest != want:
        raise DownloadError(
            f"checksum mismatch for {url}: expected sha256 {want} ({source}), got {digest}; "
            "the file was deleted"
        )


def download_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    url: str | None = None,
    sha256: str | None = None,
    verify: bool = True,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download and extract a public CycleGAN dataset to ``root/name``.

    The archive comes from :data:`DATASET_URL` (the reference server) unless ``url`` is given
    (any ``http(s)://`` or ``file://`` URL; then ``name`` may be any plain folder name). After the
    call ``root/name`` holds the reference layout (``trainA``, ``trainB``, ``testA``, ``testB``
    for the unpaired sets), ready for
    :meth:`UnpairedImageDataset.from_root <unpaired_i2i.data.UnpairedImageDataset.from_root>`.
    When ``root/name`` already exists and is not empty, nothing is downloaded.

    The archive's SHA-256 is checked against ``sha256`` when given, else against the digest
    recorded in :data:`DATASET_SHA256` for ``name`` (from the default server or a mirror
    ``url`` alike) unless ``verify=False``; names without a recorded digest are checked for
    their byte count and zip integrity only.

    Args:
        name: One of :data:`DATASET_NAMES`.
        root: Folder that receives ``name/`` (created if needed).
        url: Archive URL overriding the default pattern, e.g. a mirror.
        sha256: Expected SHA-256 hex digest of the archive; always checked when given.
        verify: Check the digest recorded in :data:`DATASET_SHA256` (when ``sha256`` is not
            given); ``False`` accepts an archive that differs from the recorded one.
        timeout: Socket timeout in seconds for connecting and for each read.
        progress: Show a tqdm progress bar.

    Returns:
        The dataset folder ``root/name``.

    Raises:
        ValueError: ``name`` is unknown (the message lists :data:`DATASET_NAMES`) or not a plain
            folder name, or ``sha256`` is not 64 hex digits.
        ConnectionError: The server cannot be reached (message names the URL).
        DownloadError: HTTP error, truncated download, checksum mismatch, corrupt archive or an
            archive member with an absolute path or ``..`` (message names the URL). Partial files
            are removed first.

    Example:
        >>> try:
        ...     download_dataset("horse2dog", "/nonexistent")
        ... except ValueError as err:
        ...     print(str(err)[:60])
        download_dataset expects name to be one of ae_photos, apple2
    """
    _check_name(
        name, url, caller="download_dataset", names=DATASET_NAMES, what="archive", plain="folder"
    )
    expected = _expected_digest("download_dataset", sha256, DATASET_SHA256.get(name), verify=verify)
    base = Path(root)
    target = base / name
    if target.is_dir() and any(target.iterdir()):
        return target
    source_url = url if url is not None else DATASET_URL.format(name=name)
    base.mkdir(parents=True, exist_ok=True)
    part = base / f"{name}.zip.part"
    staging = base / f".{name}.extracting"
    try:
        _download(source_url, part, expected=expected, timeout=timeout, progress=progress)
        _verify_zip(part, source_url)
        _extract(part, staging, target, source_url)
    finally:
        part.unlink(missing_ok=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def model_cache_dir() -> Path:
    """The folder :func:`download_model` keeps generators in by default.

    ``$UNPAIRED_I2I_CACHE/models`` when that variable is set, else
    ``$XDG_CACHE_HOME/unpaired-i2i/models``, else ``~/.cache/unpaired-i2i/models``.

    Returns:
        The folder (not created here).
    """
    override = os.environ.get(_CACHE_ENV)
    if override:
        return Path(override).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "unpaired-i2i" / "models"


def _check_state_dict(file: Path, url: str) -> None:
    """Refuse a downloaded file that is not a state dict of tensors (e.g. an HTML error page)."""
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types on foreign data
        raise DownloadError(
            f"{url} did not return a PyTorch state dict ({type(err).__name__}); nothing in "
            "it was run"
        ) from None
    if not isinstance(loaded, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise DownloadError(
            f"{url} returned a {type(loaded).__name__}, not a generator state dict "
            "(a mapping of names to tensors)"
        )


def download_model(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download a pretrained generator of the reference implementation to ``root/name.pth``.

    The file comes from :data:`MODEL_URL` unless ``url`` is given (a mirror, or any
    ``http(s)://`` or ``file://`` URL; then ``name`` may be any plain file name). It is a bare
    state dict in the reference layout, which
    :func:`~unpaired_i2i.pretrained.load_generator_file` and ``unpaired-i2i translate`` read.
    When ``root/name.pth`` already exists, nothing is downloaded. No SHA-256 digests are
    published for these files, so the download is checked for its byte count and for loading
    as a state dict of tensors (with ``weights_only``, so nothing in it runs), and against
    ``sha256`` when you give one.

    Args:
        name: One of :data:`MODEL_NAMES`, e.g. ``"summer2winter_yosemite"``.
        root: Folder that receives ``name.pth`` (created if needed); default
            :func:`model_cache_dir`.
        url: File URL overriding the default pattern, e.g. a mirror.
        sha256: Expected SHA-256 hex digest of the file; checked when given.
        timeout: Socket timeout in seconds for connecting and for each read.
        progress: Show a tqdm progress bar.

    Returns:
        The generator file ``root/name.pth``.

    Raises:
        ValueError: ``name`` is unknown (the message lists :data:`MODEL_NAMES`) or not a plain
            file name, or ``sha256`` is not 64 hex digits.
        ConnectionError: The server cannot be reached (message names the URL).
        DownloadError: HTTP error, truncated download, checksum mismatch, or a file that is not
            a state dict of tensors (message names the URL). Partial files are removed first.

    Example:
        >>> try:
        ...     download_model("horse2dog", "/nonexistent")
        ... except ValueError as err:
        ...     print(str(err)[:58])
        download_model expects name to be one of apple2orange, cit
    """
    _check_name(name, url, caller="download_model", names=MODEL_NAMES, what="file", plain="file")
    expected = _expected_digest("download_model", sha256, None, verify=True)
    base = model_cache_dir() if root is None else Path(root)
    target = base / f"{name}.pth"
    if target.is_file():
        return target
    source_url = url if url is not None else MODEL_URL.format(name=name)
    base.mkdir(parents=True, exist_ok=True)
    part = base / f"{name}.pth.part"
    try:
        _download(source_url, part, expected=expected, timeout=timeout, progress=progress)
        _check_state_dict(part, source_url)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target
