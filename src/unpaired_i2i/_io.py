"""File helpers at the bottom floor: the path type and atomic writes used everywhere.

A file is written to a temporary name in its own folder, flushed and ``fsync``-ed, then renamed
over the target, so a crash or a failing write leaves the previous file intact. Errors are
re-raised as they come (after the temporary file is removed): callers wrap them in their own
error type with their own wording.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeAlias

__all__ = [
    "StrPath",
    "copy_atomic",
    "fsync_dir",
    "leftover_temps",
    "temp_path",
    "write_atomic",
]

#: A filesystem path as users pass it: ``str`` or any ``os.PathLike[str]``.
StrPath: TypeAlias = str | os.PathLike[str]


def temp_path(path: Path) -> Path:
    """A unique hidden temporary name next to ``path``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


#: The names :func:`temp_path` gives: ``.<target name>.<32 hex digits>.tmp``.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


def leftover_temps(folder: Path) -> list[Path]:
    """The temporary files of atomic writes in ``folder`` (none if it does not exist).

    A write that finished or failed has removed its own; those that remain were left by a
    process that was killed while writing, or belong to a write still under way.
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _TEMP_NAME.fullmatch(p.name) and p.is_file())


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, target: Path, fill: Callable[[Path], None]) -> Path:
    """Run ``fill(tmp)``, rename ``tmp`` over ``target``; on any failure remove ``tmp``."""
    try:
        fill(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return target


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``path`` all at once through ``write(file)``; creates the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def fill(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())

    return _publish(temp_path(path), path, fill)


def copy_atomic(source: Path, target: Path) -> Path:
    """Atomically make ``target`` a copy of the finished file ``source``.

    Hard-links ``source`` to a temporary name next to ``target`` (copying and ``fsync``-ing
    where links are not supported) and renames it over ``target``.
    """

    def fill(tmp: Path) -> None:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())

    return _publish(temp_path(target), target, fill)
