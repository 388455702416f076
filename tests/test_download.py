"""Tests for unpaired_i2i.data.download against a local HTTP server (no internet needed).

Datasets (download_dataset and the recorded archive digests) and pretrained generators
(download_model) are both fetched from a ThreadingHTTPServer on 127.0.0.1.
"""

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
import torch
from PIL import Image

import unpaired_i2i.data.download as download_module
from unpaired_i2i import ResnetGenerator, load_generator_file
from unpaired_i2i.cli import main
from unpaired_i2i.data import (
    DATASET_NAMES,
    DATASET_SHA256,
    DATASET_URL,
    MODEL_NAMES,
    MODEL_URL,
    DownloadError,
    UnpairedImageDataset,
    download_dataset,
    download_model,
    model_cache_dir,
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
    # not the published facades archive: its recorded digest would refuse it
    out = download_dataset(
        "facades", tmp_path, url=f"{server.base}/flat.zip", progress=True, verify=False
    )
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


# ------------------------------------------------------------------ pretrained generators
def generator_bytes() -> bytes:
    """A small reference-layout generator file, as the published ones are laid out."""
    torch.manual_seed(0)
    state = {}
    widths = [(8, 3, 7), (16, 8, 3), (32, 16, 3)]
    for index, (out, inp, k) in zip((1, 4, 7), widths, strict=True):
        state[f"model.{index}.weight"] = torch.randn(out, inp, k, k) * 0.05
        state[f"model.{index}.bias"] = torch.zeros(out)
    for conv in (1, 5):
        state[f"model.10.conv_block.{conv}.weight"] = torch.randn(32, 32, 3, 3) * 0.05
        state[f"model.10.conv_block.{conv}.bias"] = torch.zeros(32)
    for index, (inp, out) in zip((11, 14), [(32, 16), (16, 8)], strict=True):
        state[f"model.{index}.weight"] = torch.randn(inp, out, 3, 3) * 0.05
        state[f"model.{index}.bias"] = torch.zeros(out)
    state["model.18.weight"] = torch.randn(3, 8, 7, 7) * 0.05
    state["model.18.bias"] = torch.zeros(3)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------ the models


def test_names_and_url_pattern_are_the_references() -> None:
    for name in ("summer2winter_yosemite", "winter2summer_yosemite", "horse2zebra", "style_monet"):
        assert name in MODEL_NAMES
    assert len(MODEL_NAMES) == 18
    assert MODEL_URL.format(name="horse2zebra") == (
        "https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth"
    )


def test_download_then_load(server: Server, tmp_path: Path) -> None:
    body = generator_bytes()
    server.routes["/m/summer2winter_yosemite.pth"] = Route(body)
    url = f"{server.base}/m/summer2winter_yosemite.pth"
    digest = hashlib.sha256(body).hexdigest()
    path = download_model(
        "summer2winter_yosemite", tmp_path, url=url, sha256=digest, progress=False
    )
    assert path == tmp_path / "summer2winter_yosemite.pth"
    assert leftovers(tmp_path) == ["summer2winter_yosemite.pth"]  # no .part file
    generator = load_generator_file(path)
    assert isinstance(generator, ResnetGenerator)
    assert generator.get_config()["n_blocks"] == 1
    # already there: no second request
    assert download_model("summer2winter_yosemite", tmp_path, url=url) == path
    assert server.hits == ["/m/summer2winter_yosemite.pth"]


def test_wrong_digest_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/horse2zebra.pth"] = Route(generator_bytes())
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_model(
            "horse2zebra",
            tmp_path,
            url=f"{server.base}/horse2zebra.pth",
            sha256="ab" * 32,
            progress=False,
        )
    assert f"{server.base}/horse2zebra.pth" in str(info.value)
    assert leftovers(tmp_path) == []


def test_a_file_that_is_no_state_dict_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/x.pth"] = Route(b"<html>moved</html>")
    with pytest.raises(DownloadError, match="not return a PyTorch state dict"):
        download_model("horse2zebra", tmp_path, url=f"{server.base}/x.pth", progress=False)
    buffer = io.BytesIO()
    torch.save([torch.zeros(1)], buffer)
    server.routes["/list.pth"] = Route(buffer.getvalue())
    with pytest.raises(DownloadError, match="returned a list"):
        download_model("horse2zebra", tmp_path, url=f"{server.base}/list.pth", progress=False)
    server.routes["/cut.pth"] = Route(generator_bytes(), send_bytes=100)
    with pytest.raises(DownloadError, match="truncated"):
        download_model("horse2zebra", tmp_path, url=f"{server.base}/cut.pth", progress=False)
    with pytest.raises(DownloadError, match="404"):
        download_model("horse2zebra", tmp_path, url=f"{server.base}/none.pth", progress=False)
    assert leftovers(tmp_path) == []


def test_default_root_is_the_cache(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNPAIRED_I2I_CACHE", str(tmp_path / "cache"))
    assert model_cache_dir() == tmp_path / "cache" / "models"
    server.routes["/style_monet.pth"] = Route(generator_bytes())
    path = download_model("style_monet", url=f"{server.base}/style_monet.pth", progress=False)
    assert path == tmp_path / "cache" / "models" / "style_monet.pth"
    monkeypatch.delenv("UNPAIRED_I2I_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "unpaired-i2i" / "models"


def test_bad_model_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="summer2winter_yosemite") as info:
        download_model("horse2dog", tmp_path)
    assert "style_vangogh" in str(info.value)
    with pytest.raises(ValueError, match="sha256"):
        download_model("horse2zebra", tmp_path, sha256="abc")
    with pytest.raises(ValueError, match="plain file name"):
        download_model("../g", tmp_path, url="http://127.0.0.1:9/g.pth")
    assert leftovers(tmp_path) == []


def test_cli_download_model(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = generator_bytes()
    server.routes["/zebra2horse.pth"] = Route(body)
    url = f"{server.base}/zebra2horse.pth"
    args = ["download-model", "zebra2horse", "--root", str(tmp_path), "--url", url]
    assert main([*args, "--sha256", "0" * 64]) == 1
    err = capsys.readouterr().err
    assert "unpaired-i2i download-model: error: checksum mismatch" in err  # after the bar
    assert leftovers(tmp_path) == []
    assert main([*args, "--sha256", hashlib.sha256(body).hexdigest()]) == 0
    assert f"model ready: {tmp_path / 'zebra2horse.pth'}" in capsys.readouterr().out
    assert main(["download-model", "zebra2horsie"]) == 1
    assert "expects name to be one of" in capsys.readouterr().err


# ------------------------------------------------------------- recorded dataset digests


def test_recorded_dataset_digests() -> None:
    assert set(DATASET_SHA256) <= set(DATASET_NAMES)
    assert "summer2winter_yosemite" in DATASET_SHA256 and "mini" not in DATASET_SHA256
    for digest in DATASET_SHA256.values():
        assert len(digest) == 64 and int(digest, 16) >= 0 and digest == digest.lower()


def test_an_archive_that_is_not_the_recorded_one_is_refused(server: Server, tmp_path: Path) -> None:
    server.routes["/horse2zebra.zip"] = Route(dataset_zip("horse2zebra/"))
    url = f"{server.base}/horse2zebra.zip"  # a mirror: the recorded digest applies
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download_dataset("horse2zebra", tmp_path, url=url, progress=False)
    assert DATASET_SHA256["horse2zebra"] in str(info.value) and "--no-verify" in str(info.value)
    assert leftovers(tmp_path) == []
    out = download_dataset("horse2zebra", tmp_path, url=url, progress=False, verify=False)
    assert (out / "trainA").is_dir()


def test_an_archive_matching_the_recorded_digest_is_accepted(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = dataset_zip("maps/")
    monkeypatch.setattr(
        download_module, "DATASET_SHA256", {"maps": hashlib.sha256(body).hexdigest()}
    )
    server.routes["/maps.zip"] = Route(body)
    out = download_dataset("maps", tmp_path, url=f"{server.base}/maps.zip", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["testA", "testB", "trainA", "trainB"]


def test_cli_download_verifies_and_can_be_told_not_to(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.routes["/monet2photo.zip"] = Route(dataset_zip("monet2photo/"))
    args = ["download", "monet2photo", "--root", str(tmp_path), "--url"]
    args.append(f"{server.base}/monet2photo.zip")
    assert main(args) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert main([*args, "--no-verify"]) == 0
    assert (tmp_path / "monet2photo" / "trainB").is_dir()
