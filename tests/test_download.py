"""Tests for unpaired_i2i.data.download against a local HTTP server (no internet needed)."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from unpaired_i2i.data import (
    DATASET_NAMES,
    DATASET_URL,
    DownloadError,
    UnpairedImageDataset,
    download_dataset,
)


def png_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (value, value, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def dataset_zip(prefix: str = "mini/") -> bytes:
    members = {f"{prefix}{split}/": b"" for split in ("trainA", "trainB", "testA", "testB")}
    for split in ("trainA", "trainB", "testA", "testB"):
        for i in range(2):
            members[f"{prefix}{split}/{i}.png"] = png_bytes(40 * i)
    members["__MACOSX/._junk"] = b"resource fork"
    return make_zip(members)


@dataclass
class Route:
    body: bytes
    status: int = 200
    send_bytes: int | None = None  # truncate the body after this many bytes


@dataclass
class Server:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(route.status)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            payload = route.body if route.send_bytes is None else route.body[: route.send_bytes]
            self.wfile.write(payload)
            if route.send_bytes is not None:
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def leftovers(root: Path) -> list[str]:
    """Files a failed download must not leave behind."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir())


def test_names_and_url_pattern() -> None:
    assert isinstance(DATASET_NAMES, tuple)
    for name in ("summer2winter_yosemite", "horse2zebra", "monet2photo", "maps", "facades", "mini"):
        assert name in DATASET_NAMES
    assert DATASET_URL.format(name="horse2zebra") == (
        "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    )


def test_success_extracts_reference_layout(server: Server, tmp_path: Path) -> None:
    body = dataset_zip()
    server.routes["/mini.zip"] = Route(body)
    digest = hashlib.sha256(body).hexdigest()
    out = download_dataset(
        "mini", tmp_path, url=f"{server.base}/mini.zip", sha256=digest.upper(), progress=False
    )
    assert out == tmp_path / "mini"
    assert sorted(p.name for p in out.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    assert leftovers(tmp_path) == ["mini"]  # no .part file, no staging folder, no __MACOSX
    ds = UnpairedImageDataset.from_root(out, "test", size=8, load_size=8)
    assert len(ds) == 2
    # already present: returns at once without touching the network
    assert download_dataset("mini", tmp_path, url="http://127.0.0.1:9/x.zip") == out
    assert server.hits == ["/mini.zip"]


def test_archive_without_top_folder(server: Server, tmp_path: Path) -> None:
    server.routes["/flat.zip"] = Route(dataset_zip(prefix=""))
    out = download_dataset("facades", tmp_path, url=f"{server.base}/flat.zip", progress=True)
    assert sorted(p.name for p in out.iterdir()) == ["testA", "testB", "trainA", "trainB"]


def test_file_url(tmp_path: Path) -> None:
    archive = tmp_path / "archive.zip"
    archive.write_bytes(dataset_zip())
    out = download_dataset("mini", tmp_path / "data", url=archive.as_uri(), progress=False)
    assert (out / "trainA" / "1.png").is_file()


def test_http_404(server: Server, tmp_path: Path) -> None:
    url = f"{server.base}/missing.zip"
    with pytest.raises(DownloadError, match="404") as info:
        download_dataset("mini", tmp_path, url=url, progress=False)
    assert url in str(info.value)
    assert leftovers(tmp_path) == []


def test_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mini.zip"
    with pytest.raises(ConnectionError, match="could not reach") as info:
        download_dataset("mini", tmp_path, url=url, progress=False, timeout=5)
    assert url in str(info.value)
    assert leftovers(tmp_path) == []


def test_truncated_download(server: Server, tmp_path: Path) -> None:
    body = dataset_zip()
    server.routes["/mini.zip"] = Route(body, send_bytes=len(body) // 2)
    with pytest.raises(DownloadError, match="truncated") as info:
        download_dataset("mini", tmp_path, url=f"{server.base}/mini.zip", progress=False)
    assert f"{server.base}/mini.zip" in str(info.value)
    assert leftovers(tmp_path) == []


def test_not_a_zip(server: Server, tmp_path: Path) -> None:
    server.routes["/mini.zip"] = Route(b"<html>maintenance</html>")
    with pytest.raises(DownloadError, match="valid zip"):
        download_dataset("mini", tmp_path, url=f"{server.base}/mini.zip", progress=False)
    assert leftovers(tmp_path) == []


def test_corrupt_zip_member(server: Server, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    body = bytearray(make_zip({"mini/trainA/a.bin": data}))
    offset = body.index(b"a.bin") + 40  # inside the compressed data of the member
    body[offset] ^= 0xFF
    server.routes["/mini.zip"] = Route(bytes(body))
    with pytest.raises(DownloadError, match="corrupt"):
        download_dataset("mini", tmp_path, url=f"{server.base}/mini.zip", progress=False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("member", ["../evil.png", "mini/../../evil.png", "/abs/evil.png"])
def test_zip_slip_rejected(server: Server, tmp_path: Path, member: str) -> None:
    body = make_zip({"mini/trainA/0.png": png_bytes(1), member: b"evil"})
    server.routes["/mini.zip"] = Route(body)
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="outside") as info:
        download_dataset("mini", root, url=f"{server.base}/mini.zip", progress=False)
    assert member in str(info.value)
    assert not list(tmp_path.rglob("evil.png"))
    assert leftovers(root) == []


def test_checksum_mismatch(server: Server, tmp_path: Path) -> None:
    server.routes["/mini.zip"] = Route(dataset_zip())
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_dataset(
            "mini", tmp_path, url=f"{server.base}/mini.zip", sha256="0" * 64, progress=False
        )
    assert leftovers(tmp_path) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="horse2zebra") as info:
        download_dataset("horse2dog", tmp_path)
    assert "summer2winter_yosemite" in str(info.value)
    with pytest.raises(ValueError, match="license"):
        download_dataset("cityscapes", tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        download_dataset("mini", tmp_path, sha256="abc")
    with pytest.raises(ValueError, match="plain folder name"):
        download_dataset("../mini", tmp_path, url="http://127.0.0.1:9/x.zip")
    assert leftovers(tmp_path) == []
