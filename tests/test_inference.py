from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from unpaired_i2i import (
    CorruptImageError,
    ResnetGenerator,
    ShapeError,
    UnreadableImagesError,
    export_generator,
    load_exported,
    translate,
)

# torch deprecates TorchScript (FutureWarning on trace/save/load); the export still works.
jit_deprecation = pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")


def tiny(seed: int = 0, **overrides: object) -> ResnetGenerator:
    torch.manual_seed(seed)
    return ResnetGenerator.from_preset("cyclegan", base_channels=4, n_blocks=1, **overrides)


@pytest.fixture
def gen() -> ResnetGenerator:
    return tiny()


def eager(g: nn.Module, x: torch.Tensor) -> torch.Tensor:
    was = g.training
    g.eval()
    with torch.no_grad():
        out: torch.Tensor = g(x)
    g.train(was)
    return out


def write_image(path: Path, width: int, height: int, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    img = Image.fromarray(rgb)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def as_input(path: Path) -> torch.Tensor:
    """An 8-bit RGB file as a (1, 3, H, W) batch in [-1, 1], computed independently."""
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(array).permute(2, 0, 1)[None] / 127.5 - 1.0


# --------------------------------------------------------------------------------- tensor inputs
@pytest.mark.parametrize(("n", "h", "w"), [(3, 16, 16), (2, 30, 21), (1, 17, 40)])
def test_tensor_in_tensor_out_keeps_shape(gen: ResnetGenerator, n: int, h: int, w: int) -> None:
    x = torch.rand(n, 3, h, w) * 2 - 1
    out = translate(gen, x, batch_size=2)
    assert isinstance(out, torch.Tensor)
    assert out.shape == (n, 3, h, w)
    assert out.dtype == torch.float32
    assert out.abs().max() <= 1.0
    assert not out.is_inference()  # usable outside inference mode


def test_tensor_matches_eager_and_batching_is_invisible(gen: ResnetGenerator) -> None:
    x = torch.rand(5, 3, 24, 32) * 2 - 1
    expected = eager(gen, x)
    torch.testing.assert_close(translate(gen, x), expected)
    torch.testing.assert_close(translate(gen, x, batch_size=2), expected, rtol=1e-5, atol=1e-6)


def test_non_divisible_tensor_is_reflect_padded_centred_and_cropped(gen: ResnetGenerator) -> None:
    x = torch.rand(1, 3, 18, 21) * 2 - 1  # -> 20 x 24: pad rows 1 + 1, columns 1 + 2
    padded = F.pad(x, (1, 2, 1, 1), mode="reflect")
    expected = eager(gen, padded)[..., 1:19, 1:22]
    torch.testing.assert_close(translate(gen, x), expected)


def test_resize_fit_keeps_shape(gen: ResnetGenerator) -> None:
    out = translate(gen, torch.rand(2, 3, 18, 27) * 2 - 1, fit="resize")
    assert out.shape == (2, 3, 18, 27)
    assert out.abs().max() <= 1.0


_PROPERTY_GEN = tiny(seed=3)


@given(h=st.integers(8, 40), w=st.integers(8, 40), fit=st.sampled_from(["pad", "resize"]))
def test_property_any_size_is_preserved(h: int, w: int, fit: str) -> None:
    out = translate(_PROPERTY_GEN, torch.zeros(1, 3, h, w), fit=fit)  # type: ignore[call-overload]
    assert out.shape == (1, 3, h, w)


def test_self_ensemble_averages_the_translation_of_the_mirrored_image(gen: ResnetGenerator) -> None:
    x = torch.rand(2, 3, 18, 21) * 2 - 1  # padded to 20 x 24, the mirror padded the same way
    plain = translate(gen, x)
    mirrored = translate(gen, x.flip(-1)).flip(-1)
    averaged = translate(gen, x, self_ensemble=True)
    torch.testing.assert_close(averaged, 0.5 * (plain + mirrored))
    assert (averaged - plain).abs().max() > 1e-3  # the generator is not mirror-symmetric
    assert averaged.shape == x.shape and averaged.abs().max() <= 1.0
    # tiled: each half is tiled exactly, so the average is the whole-image one
    big = torch.rand(1, 3, 72, 100) * 2 - 1  # overlap 32 covers the receptive field: exact
    torch.testing.assert_close(
        translate(gen, big, self_ensemble=True, tile=32, overlap=32),
        translate(gen, big, self_ensemble=True),
        rtol=1e-4,
        atol=1e-5,
    )


def test_self_ensemble_averages_in_the_generators_precision(gen: ResnetGenerator) -> None:
    g64 = gen.double()
    x = torch.rand(1, 3, 16, 20) * 2 - 1
    expected = 0.5 * (eager(g64, x.double()) + eager(g64, x.double().flip(-1)).flip(-1))
    out = translate(g64, x, self_ensemble=True)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected.float())
    under_bf16 = translate(gen.float(), x, self_ensemble=True, amp="bf16")
    assert under_bf16.dtype == torch.float32
    torch.testing.assert_close(under_bf16, translate(gen, x, self_ensemble=True), atol=0.1, rtol=0)
    with pytest.raises(ValueError, match="translate self_ensemble must be a bool; got 'yes'"):
        translate(gen, x, self_ensemble="yes")  # type: ignore[call-overload]


def test_tiny_images_are_padded_up_to_the_minimum_size(gen: ResnetGenerator) -> None:
    assert translate(gen, torch.zeros(1, 3, 3, 5)).shape == (1, 3, 3, 5)


def test_other_dtype_generator_and_empty_batch(gen: ResnetGenerator) -> None:
    g64 = gen.double()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    out = translate(g64, x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, eager(g64, x.double()).float())
    assert translate(g64, x[:0]).shape == (0, 3, 16, 16)


def test_generator_without_downsampling_factor_uses_four() -> None:
    class NeedsFour(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0, x.shape
            return torch.tanh(x)

    x = torch.rand(2, 3, 18, 23) * 2 - 1
    torch.testing.assert_close(translate(NeedsFour(), x), torch.tanh(x))


def test_generator_modes_are_restored(gen: ResnetGenerator) -> None:
    gen.train()
    gen.blocks.eval()  # a mixed state must come back exactly
    before = [m.training for m in gen.modules()]
    translate(gen, torch.zeros(1, 3, 16, 16))
    assert [m.training for m in gen.modules()] == before
    gen.eval()
    translate(gen, torch.zeros(1, 3, 16, 16))
    assert not any(m.training for m in gen.modules())


def test_tensor_input_errors(gen: ResnetGenerator) -> None:
    with pytest.raises(ShapeError, match=r"translate expects inputs of shape \(N, 3, H, W\)"):
        translate(gen, torch.zeros(1, 1, 16, 16))
    with pytest.raises(ShapeError, match="4-D"):
        translate(gen, torch.zeros(3, 16, 16))
    with pytest.raises(ValueError, match="output_dir applies to image files"):
        translate(gen, torch.zeros(1, 3, 16, 16), output_dir="out")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="size applies to image files"):
        translate(gen, torch.zeros(1, 3, 16, 16), size=8)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="batch_size"):
        translate(gen, torch.zeros(1, 3, 16, 16), batch_size=0)
    with pytest.raises(ValueError, match="'pad', 'resize'"):
        translate(gen, torch.zeros(1, 3, 16, 16), fit="crop")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="suffix is only used with output_dir"):
        translate(gen, torch.zeros(1, 3, 16, 16), suffix="_x")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="got int"):
        translate(gen, 3)  # type: ignore[call-overload]


# ----------------------------------------------------------------------------------- path inputs
def test_folder_is_translated_sorted_and_saved(gen: ResnetGenerator, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    write_image(src / "b.jpg", 20, 20)
    write_image(src / "a.png", 24, 16)  # rectangular, W=24 H=16
    write_image(src / "c.PNG", 19, 37)  # not divisible by 4
    write_image(src / ".hidden.png", 16, 16)
    (src / "notes.txt").write_text("not an image")
    (src / "nested").mkdir()
    write_image(src / "nested" / "d.png", 16, 16)

    out_dir = tmp_path / "out" / "fake"
    written = translate(gen, src, output_dir=out_dir, suffix="_fake")
    assert written == [out_dir / "a_fake.png", out_dir / "b_fake.png", out_dir / "c_fake.png"]
    sizes = {"a_fake.png": (24, 16), "b_fake.png": (20, 20), "c_fake.png": (19, 37)}
    for path in written:
        with Image.open(path) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", sizes[path.name])
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(sizes)


def test_saved_png_matches_returned_tensor(gen: ResnetGenerator, tmp_path: Path) -> None:
    path = write_image(tmp_path / "x.png", 18, 26)
    (tensor,) = translate(gen, path)
    (saved,) = translate(gen, path, output_dir=tmp_path / "out")
    png = torch.from_numpy(np.asarray(Image.open(saved), dtype=np.float32)).permute(2, 0, 1)
    expected = ((tensor + 1) / 2 * 255).round()
    assert (png - expected).abs().max() <= 1.0


def test_list_and_single_path_return_tensors_in_order(gen: ResnetGenerator, tmp_path: Path) -> None:
    a = write_image(tmp_path / "a.png", 24, 16, seed=1)
    b = write_image(tmp_path / "b.bmp", 17, 30, seed=2)
    out = translate(gen, [b, str(a)])
    assert [t.shape for t in out] == [(3, 30, 17), (3, 16, 24)]
    for t, p in zip(out, [b, a], strict=True):
        assert t.dtype == torch.float32 and t.device.type == "cpu"
        assert not t.is_inference()
        torch.testing.assert_close(t, translate(gen, as_input(p))[0])
    (single,) = translate(gen, a)
    torch.testing.assert_close(single, out[1])
    assert translate(gen, []) == []


def test_size_resizes_the_shorter_side(gen: ResnetGenerator, tmp_path: Path) -> None:
    path = write_image(tmp_path / "tall.png", 20, 40)  # W=20, H=40
    (out,) = translate(gen, path, size=16)
    assert out.shape == (3, 32, 16)
    (saved,) = translate(gen, path, size=16, output_dir=tmp_path / "out")
    assert Image.open(saved).size == (16, 32)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA", "CMYK"])
def test_other_colour_modes_become_rgb(gen: ResnetGenerator, tmp_path: Path, mode: str) -> None:
    ext = ".jpg" if mode == "CMYK" else ".png"
    path = write_image(tmp_path / f"img{ext}", 21, 18, mode=mode)
    (out,) = translate(gen, path)
    assert out.shape == (3, 18, 21)


def test_sixteen_bit_is_scaled_not_clipped(gen: ResnetGenerator, tmp_path: Path) -> None:
    ramp = (np.arange(20 * 16).reshape(16, 20) * 200).astype(np.uint16)  # up to 63800
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    eight = np.round(ramp.astype(np.float64) * 255 / 65535).astype(np.uint8)
    Image.fromarray(eight).save(tmp_path / "eight.png")
    deep, reference = translate(gen, [tmp_path / "deep.png", tmp_path / "eight.png"])
    torch.testing.assert_close(deep, reference)


def test_rgba_transparency_is_white_like_training_data(
    gen: ResnetGenerator, tmp_path: Path
) -> None:
    Image.new("RGBA", (16, 16), (10, 200, 30, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (16, 16), (255, 255, 255)).save(tmp_path / "white.png")
    clear, white = translate(gen, [tmp_path / "clear.png", tmp_path / "white.png"])
    torch.testing.assert_close(clear, white)


def test_single_channel_generator_reads_grayscale(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g = ResnetGenerator(1, 1, base_channels=4, n_blocks=1)
    path = write_image(tmp_path / "c.png", 20, 16)
    (out,) = translate(g, path)
    assert out.shape == (1, 16, 20)
    (saved,) = translate(g, path, output_dir=tmp_path / "out")
    assert Image.open(saved).size == (20, 16)


def test_equal_sizes_are_batched_and_order_is_kept(tmp_path: Path) -> None:
    calls: list[tuple[int, ...]] = []

    class Recorder(nn.Module):
        downsampling_factor = 1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape))
            return x

    sizes = [(16, 16), (20, 12), (16, 16), (16, 16), (20, 12)]
    paths = [write_image(tmp_path / f"{i}.png", w, h, seed=i) for i, (w, h) in enumerate(sizes)]
    out = translate(Recorder(), paths, batch_size=2)
    assert sorted(calls) == [(1, 3, 16, 16), (2, 3, 12, 20), (2, 3, 16, 16)]
    for t, p in zip(out, paths, strict=True):  # identity generator: outputs are the inputs
        torch.testing.assert_close(t, as_input(p)[0])

    calls.clear()  # many distinct sizes: bounded waiting, results still in order
    paths = [write_image(tmp_path / f"s{i}.png", 8 + i, 8, seed=i) for i in range(10)]
    out = translate(Recorder(), paths, batch_size=2)
    assert len(calls) == 10
    assert [t.shape[-1] for t in out] == [8 + i for i in range(10)]


def test_path_errors_name_the_path(gen: ResnetGenerator, tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match="missing.png"):
        translate(gen, missing)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        translate(gen, [write_image(tmp_path / "ok.png", 16, 16), tmp_path / "nowhere"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no images found in folder .*empty"):
        translate(gen, empty)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not a png")
    with pytest.raises(CorruptImageError, match="bad.png"):
        translate(gen, bad)
    with pytest.raises(TypeError, match="containing int"):
        translate(gen, [bad, 3])  # type: ignore[list-item]


def test_output_name_clashes_are_refused(gen: ResnetGenerator, tmp_path: Path) -> None:
    a_png = write_image(tmp_path / "a.png", 16, 16)
    a_jpg = write_image(tmp_path / "a.jpg", 16, 16)
    with pytest.raises(ValueError, match=r"would both be saved as .*a\.png"):
        translate(gen, [a_png, a_jpg], output_dir=tmp_path / "out")
    with pytest.raises(ValueError, match="would overwrite the input image"):
        translate(gen, a_png, output_dir=tmp_path)
    assert not (tmp_path / "out").exists()  # checked before anything is written
    (written,) = translate(gen, a_png, output_dir=tmp_path, suffix="_fake")
    assert written == tmp_path / "a_fake.png"


def test_modes_restored_when_an_image_fails(gen: ResnetGenerator, tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", 16, 16)
    (tmp_path / "b.png").write_bytes(b"broken")
    gen.train()
    with pytest.raises(OSError, match="b.png"):
        translate(gen, tmp_path, batch_size=1)
    assert all(m.training for m in gen.modules())


def test_unreadable_images_are_reported_after_the_others_are_translated(
    gen: ResnetGenerator, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", 16, 16, seed=1)
    (src / "b.jpg").write_text("not an image")
    write_image(src / "c.png", 20, 12, seed=2)
    truncated = write_image(src / "d.png", 32, 32, seed=3)
    truncated.write_bytes(truncated.read_bytes()[:60])

    out_dir = tmp_path / "out"
    with pytest.raises(UnreadableImagesError) as info:
        translate(gen, src, output_dir=out_dir, batch_size=1)
    err = info.value
    assert isinstance(err, CorruptImageError) and isinstance(err, OSError)
    assert [p.name for p, _ in err.failures] == ["b.jpg", "d.png"]
    assert err.path == src / "b.jpg" and err.total == 4
    assert err.results == [out_dir / "a.png", out_dir / "c.png"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "c.png"]
    message = str(err)
    assert message.startswith("cannot read 2 of 4 input images (the other 2 were translated)")
    assert str(src / "b.jpg") in message and str(truncated) in message

    # Without output_dir the readable images' tensors come with the error, in input order.
    with pytest.raises(UnreadableImagesError) as info:
        translate(gen, [src / "c.png", src / "b.jpg", src / "a.png"])
    tensors = [t for t in info.value.results if isinstance(t, torch.Tensor)]
    assert len(tensors) == len(info.value.results)  # tensors, not paths
    assert [tuple(t.shape) for t in tensors] == [(3, 12, 20), (3, 16, 16)]
    torch.testing.assert_close(info.value.results[1], translate(gen, src / "a.png")[0])


def test_no_output_folder_when_nothing_is_saved(
    gen: ResnetGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"broken")
    with pytest.raises(UnreadableImagesError):
        translate(gen, bad, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()

    good = write_image(tmp_path / "good.png", 16, 16)

    def full_disk(image: object, fp: Any, format: object = None) -> None:
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("unpaired_i2i.inference.save_image", full_disk)
    with pytest.raises(OSError, match="No space left"):
        translate(gen, good, output_dir=tmp_path / "out2")
    assert not (tmp_path / "out2").exists()  # no empty folder, no temporary file


# ---------------------------------------------------------------------------------------- export
@jit_deprecation
def test_torchscript_export_matches_eager_at_another_size(
    gen: ResnetGenerator, tmp_path: Path
) -> None:
    gen.train()
    path = export_generator(gen, tmp_path / "models" / "g.pt", size=32)
    assert path == tmp_path / "models" / "g.pt"
    assert [p.name for p in path.parent.iterdir()] == ["g.pt"]  # no temporary files left
    assert gen.training
    scripted = load_exported(path)
    x = torch.rand(2, 3, 24, 40) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), eager(gen, x), rtol=1e-5, atol=1e-6)


@jit_deprecation
@pytest.mark.parametrize("options", [{"upsampling": "resize_conv"}, {"residual": True}])
def test_torchscript_export_of_other_layouts(tmp_path: Path, options: dict[str, Any]) -> None:
    g = tiny(**options)
    path = export_generator(g, tmp_path / "g.pt", example_input=torch.zeros(1, 3, 16, 16))
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(load_exported(path)(x), eager(g, x), rtol=1e-5, atol=1e-6)


@jit_deprecation
@pytest.mark.parametrize("detail", [None, 7])
def test_torchscript_export_keeps_the_local_affine_matrix_at_another_size(
    tmp_path: Path, detail: int | None
) -> None:
    g = tiny(residual=True, local_affine=True, local_affine_detail=detail)
    with torch.no_grad():  # a matrix that mixes the channels (it starts at zero)
        g.get_parameter("head.conv.bias")[3:] = torch.linspace(-0.5, 0.5, 9)
    plain = tiny(residual=True)
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    assert not torch.allclose(eager(g, x), eager(plain, x), atol=1e-3)
    path = export_generator(g, tmp_path / "g.pt", example_input=torch.zeros(1, 3, 16, 16))
    with torch.no_grad():
        torch.testing.assert_close(load_exported(path)(x), eager(g, x), rtol=1e-5, atol=1e-6)


@jit_deprecation
def test_export_copies_a_float64_generator_and_leaves_it_alone(tmp_path: Path) -> None:
    g = tiny().double().train()
    path = export_generator(g, tmp_path / "g.pt", size=16)
    assert g.training and next(g.parameters()).dtype == torch.float64
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        out = load_exported(path)(x)
    torch.testing.assert_close(out, eager(g, x.double()).float(), rtol=1e-4, atol=1e-5)


def test_export_checks_shape_eagerly_and_validates_options(
    gen: ResnetGenerator, tmp_path: Path
) -> None:
    with pytest.raises(ShapeError, match=r"divisible by 4; got \(1, 3, 30, 30\)"):
        export_generator(gen, tmp_path / "g.pt", example_input=torch.zeros(1, 3, 30, 30))
    assert not (tmp_path / "g.pt").exists()
    with pytest.raises(ValueError, match="'torchscript', 'onnx'"):
        export_generator(gen, tmp_path / "g.bin", format="tflite")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="opset applies to format='onnx'"):
        export_generator(gen, tmp_path / "g.pt", opset=17)


@jit_deprecation
def test_failed_save_keeps_the_previous_file(
    gen: ResnetGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "g.pt"
    target.write_bytes(b"previous export")

    def broken_save(module: object, f: Any) -> None:
        f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export_generator(gen, target, size=16)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]


@jit_deprecation
def test_load_exported_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_exported(tmp_path / "nope.pt")
    (tmp_path / "g.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="onnxruntime"):
        load_exported(tmp_path / "g.onnx")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.pt"):
        load_exported(tmp_path / "junk.pt")


def test_onnx_without_onnxscript_says_how_to_install(
    gen: ResnetGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    with pytest.raises(ImportError, match=r"pip install 'unpaired-i2i\[onnx\]'"):
        export_generator(gen, tmp_path / "g.onnx", format="onnx", size=16)
    assert not (tmp_path / "g.onnx").exists()


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[ResnetGenerator, Path]:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnx")
    g = tiny(seed=5).train()
    path = export_generator(g, tmp_path_factory.mktemp("onnx") / "g.onnx", format="onnx", size=32)
    assert g.training
    return g, path


def test_onnx_export_has_dynamic_axes_and_matches_eager(
    onnx_export: tuple[ResnetGenerator, Path],
) -> None:
    ort = pytest.importorskip("onnxruntime")
    g, path = onnx_export
    assert [p.name for p in path.parent.iterdir()] == ["g.onnx"]  # one self-contained file
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "input"
    assert isinstance(inp.shape[0], str) and isinstance(inp.shape[2], str)  # symbolic axes
    for shape in [(1, 3, 32, 32), (2, 3, 24, 40)]:
        x = torch.rand(*shape) * 2 - 1
        (out,) = session.run(["output"], {"input": x.numpy()})
        torch.testing.assert_close(torch.from_numpy(out), eager(g, x), rtol=1e-4, atol=1e-5)


def test_onnx_export_keeps_the_improved_recipes_detail_matrix(tmp_path: Path) -> None:
    """The improved recipe's generator (residual, matrix on the 7x7 detail) exports to ONNX."""
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    g = tiny(residual=True, local_affine=True, local_affine_detail=7)
    with torch.no_grad():  # a matrix that mixes the channels (it starts at zero)
        g.get_parameter("head.conv.bias")[3:] = torch.linspace(-0.5, 0.5, 9)
    path = export_generator(g, tmp_path / "g.onnx", format="onnx", size=32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # at the export's size and another one: the box mean's border windows follow the size
    for shape in [(1, 3, 32, 32), (2, 3, 20, 36)]:
        x = torch.rand(*shape) * 2 - 1
        (out,) = session.run(["output"], {"input": x.numpy()})
        expected = eager(g, x)
        assert not torch.allclose(expected, eager(tiny(residual=True), x), atol=1e-3)
        torch.testing.assert_close(torch.from_numpy(out), expected, rtol=1e-4, atol=1e-5)


def test_onnx_static_export_has_fixed_shape(gen: ResnetGenerator, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    path = export_generator(gen, tmp_path / "g.onnx", format="onnx", size=16, dynamic=False)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 16, 16]
