"""Download the public CycleGAN datasets by their published names.

Archives are streamed in chunks to ``<root>/<name>.zip.part`` with a progress bar, verified
(byte count against ``Content-Length``, optional SHA-256, zip integrity, no member escaping the
target folder) and extracted to ``<root>/<name>/`` through a temporary folder that is renamed only
when everything succeeded, so an interrupted download never leaves a half-filled dataset behind.
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
from http.client import HTTPException
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]

__all__ = ["DATASET_NAMES", "DATASET_URL", "DownloadError", "download_dataset"]

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

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download reached the server but failed.

    Raised for an HTTP error, a truncated or corrupt archive, a checksum mismatch, or an archive
    member that would escape the target folder; the message names the URL.
    """


def _check_name(name: str, url: str | None) -> None:
    if not isinstance(name, str):
        raise ValueError(f"download_dataset expects name to be a str; got {type(name).__name__}")
    if name == "cityscapes":
        raise ValueError(
            "download_dataset cannot fetch 'cityscapes': its license forbids redistribution; "
            "download it from https://www.cityscapes-dataset.com and prepare it yourself"
        )
    if url is None and name not in DATASET_NAMES:
        raise ValueError(
            f"download_dataset expects name to be one of {', '.join(DATASET_NAMES)} "
            f"(or pass url= for another archive); got {name!r}"
        )
    if not _NAME_RE.match(name):
        raise ValueError(
            f"download_dataset expects name to be a plain folder name (letters, digits, '_', '-', "
            f"'.'); got {name!r}"
        )


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


def download_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    url: str | None = None,
    sha256: str | None = None,
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

    Args:
        name: One of :data:`DATASET_NAMES`.
        root: Folder that receives ``name/`` (created if needed).
        url: Archive URL overriding the default pattern, e.g. a mirror.
        sha256: Expected SHA-256 hex digest of the archive; checked when given.
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
    _check_name(name, url)
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA_RE.match(sha256)):
        raise ValueError(f"download_dataset expects sha256 to be 64 hex digits; got {sha256!r}")
    base = Path(root)
    target = base / name
    if target.is_dir() and any(target.iterdir()):
        return target
    source_url = url if url is not None else DATASET_URL.format(name=name)
    base.mkdir(parents=True, exist_ok=True)
    part = base / f"{name}.zip.part"
    staging = base / f".{name}.extracting"
    try:
        digest = _fetch(source_url, part, timeout=timeout, progress=progress, label=f"{name}.zip")
        if sha256 is not None and digest != sha256.lower():
            raise DownloadError(
                f"checksum mismatch for {source_url}: expected sha256 {sha256.lower()}, "
                f"got {digest}"
            )
        _verify_zip(part, source_url)
        _extract(part, staging, target, source_url)
    finally:
        part.unlink(missing_ok=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
