"""The reference's preprocessing modes in CycleGANTransform and UnpairedImageDataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from unpaired_i2i.cli import main
from unpaired_i2i.data import (
    PREPROCESS_MODES,
    CycleGANTransform,
    UnpairedImageDataset,
    load_image,
)

CROPPING = ("resize_and_crop", "scale_width_and_crop", "crop")
WHOLE = ("scale_width", "none")


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """An RGB image whose pixels are (almost surely) all different, so crops can be located."""
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (3, height, width), generator=g, dtype=torch.uint8)
    image: Image.Image = F.to_pil_image(data)
    return image


def as_tensor(image: Image.Image) -> torch.Tensor:
    """The [-1, 1] tensor the transform would produce for ``image`` without any resize."""
    tensor: torch.Tensor = F.to_dtype(F.to_image(image), torch.float32, scale=True) * 2 - 1
    return tensor


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_modes_are_the_reference_names() -> None:
    assert PREPROCESS_MODES == (
        "resize_and_crop",
        "scale_width_and_crop",
        "crop",
        "scale_width",
        "none",
    )
    assert CycleGANTransform(256).preprocess == "resize_and_crop"  # the reference default
    assert CycleGANTransform(256).load_size == 286


# ------------------------------------------------------------------- properties (hypothesis)

modes = st.sampled_from(PREPROCESS_MODES)


@settings(max_examples=60, deadline=None)
@given(
    mode=modes,
    size=st.integers(1, 24),
    extra=st.integers(0, 12),
    width=st.integers(1, 48),
    height=st.integers(1, 48),
    train=st.booleans(),
    flip=st.booleans(),
    multiple=st.sampled_from([1, 4, 8]),
    seed=st.integers(0, 2**31),
)
def test_output_size_and_range(
    mode: str,
    size: int,
    extra: int,
    width: int,
    height: int,
    train: bool,
    flip: bool,
    multiple: int,
    seed: int,
) -> None:
    t = CycleGANTransform(
        size,
        load_size=size + extra,
        preprocess=mode,  # type: ignore[arg-type]
        train=train,
        flip=flip,
        multiple=multiple,
    )
    out = t(noise_image(width, height, seed % 97), generator=seeded(seed))
    w, h = t.output_size(width, height)
    assert tuple(out.shape) == (3, h, w)
    assert out.dtype == torch.float32
    assert -1.0 <= out.min().item() <= out.max().item() <= 1.0
    if mode in CROPPING:
        assert (w, h) == (size, size)
    else:
        assert w % multiple == 0 and h % multiple == 0 and min(w, h) >= multiple
    # No mode ever reads outside the (resized) image: it is at least size x size.
    rw, rh = t.resized_size(width, height)
    assert min(rw, rh) >= size


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(CROPPING),
    size=st.integers(1, 20),
    extra=st.integers(0, 12),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    seed=st.integers(0, 2**31),
)
def test_crop_lies_within_the_resized_image(
    mode: str, size: int, extra: int, width: int, height: int, seed: int
) -> None:
    t = CycleGANTransform(size, load_size=size + extra, preprocess=mode, flip=False)  # type: ignore[arg-type]
    image = noise_image(width, height, seed % 89)
    top, left, flip = t.get_params(seeded(seed), image_size=(width, height))
    rw, rh = t.resized_size(width, height)
    assert 0 <= top <= rh - size and 0 <= left <= rw - size and not flip
    # The output is exactly that window of the resized image.
    resized = image
    if (rw, rh) != (width, height):
        resized = F.resize(
            image, [rh, rw], interpolation=v2.InterpolationMode.BICUBIC, antialias=True
        )
    expected = as_tensor(F.crop(resized, top, left, size, size))
    torch.testing.assert_close(t(image, generator=seeded(seed)), expected, rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    mode=modes,
    size=st.integers(4, 16),
    width=st.integers(4, 40),
    height=st.integers(4, 40),
    seed=st.integers(0, 2**31),
)
def test_flip_symmetry(mode: str, size: int, width: int, height: int, seed: int) -> None:
    """With the same random state, flip=True gives the flip=False output or its mirror image."""
    image = noise_image(width, height, seed % 83)
    kwargs = {"preprocess": mode, "multiple": 4}
    flipping = CycleGANTransform(size, flip=True, **kwargs)  # type: ignore[arg-type]
    plain = CycleGANTransform(size, flip=False, **kwargs)  # type: ignore[arg-type]
    a = flipping(image, generator=seeded(seed))
    b = plain(image, generator=seeded(seed))
    *_, flipped = flipping.get_params(seeded(seed), image_size=(width, height))
    assert torch.equal(a, b.flip(-1) if flipped else b)
    # Mirroring the input mirrors an evaluation (centred) crop, where no resize is involved.
    if mode in ("crop", "none") and min(width, height) >= size and (width - size) % 2 == 0:
        centred = CycleGANTransform(size, train=False, **kwargs)  # type: ignore[arg-type]
        if centred.output_size(width, height) == (width, height) or mode == "crop":
            mirrored = centred(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
            assert torch.equal(mirrored, centred(image).flip(-1))


def test_flips_happen_only_when_training_with_flip_on() -> None:
    seeds = range(40)
    drawn = {
        CycleGANTransform(16, preprocess="crop").get_params(seeded(s), image_size=(30, 20))[2]
        for s in seeds
    }
    assert drawn == {True, False}
    for t in (
        CycleGANTransform(16, preprocess="crop", flip=False),
        CycleGANTransform(16, preprocess="crop", train=False),
    ):
        assert not any(t.get_params(seeded(s), image_size=(30, 20))[2] for s in seeds)
    assert "flip=False" in repr(CycleGANTransform(16, flip=False))
    # flip=False keeps the crop of flip=True: the flip is drawn either way.
    on = CycleGANTransform(16, preprocess="crop")
    off = CycleGANTransform(16, preprocess="crop", flip=False)
    for s in seeds:
        crop_on = on.get_params(seeded(s), image_size=(30, 20))[:2]
        assert crop_on == off.get_params(seeded(s), image_size=(30, 20))[:2]


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_evaluation_is_deterministic_and_centred(mode: str) -> None:
    t = CycleGANTransform(16, load_size=24, preprocess=mode, train=False)  # type: ignore[arg-type]
    image = noise_image(37, 29)
    before = torch.get_rng_state()
    first, second = t(image), t(image)
    assert torch.equal(torch.get_rng_state(), before)  # nothing drawn
    assert torch.equal(first, second)
    top, left, flip = t.get_params(image_size=(37, 29))
    rw, rh = t.resized_size(37, 29)
    if mode in CROPPING:
        assert (top, left, flip) == ((rh - 16) // 2, (rw - 16) // 2, False)
    else:
        assert (top, left, flip) == (0, 0, False)


def test_default_mode_draws_the_same_stream_as_before() -> None:
    """resize_and_crop draws top, left, flip in that order: seeded runs repeat across versions."""
    t = CycleGANTransform(64)  # load 72
    for seed in range(5):
        g = seeded(seed)
        expected = (
            int(torch.randint(9, (1,), generator=g).item()),
            int(torch.randint(9, (1,), generator=g).item()),
            bool(torch.rand((1,), generator=g).item() < 0.5),
        )
        assert t.get_params(seeded(seed)) == expected
        assert t.get_params(seeded(seed), image_size=(500, 300)) == expected


# ------------------------------------------------------------------------- each mode's rule


def test_resize_and_crop_ignores_the_aspect_ratio() -> None:
    t = CycleGANTransform(256)
    assert t.resized_size(1024, 768) == (286, 286)
    assert t.resized_size(100, 3000) == (286, 286)


def test_scale_width_keeps_the_aspect_ratio() -> None:
    t = CycleGANTransform(256, load_size=512, preprocess="scale_width_and_crop")
    assert t.resized_size(1024, 768) == (512, 384)
    assert t.resized_size(4000, 3000) == (512, 384)
    assert t.resized_size(768, 1024) == (512, 682)  # 512 * 1024 // 768, as the reference
    whole = CycleGANTransform(256, load_size=512, preprocess="scale_width")
    assert whole.output_size(1024, 768) == (512, 384)
    assert whole.output_size(1000, 700) == (512, 360)  # 358: to the nearest multiple of 4


def test_crop_and_none_keep_the_original_resolution() -> None:
    image = noise_image(64, 40)
    crop = CycleGANTransform(16, preprocess="crop", flip=False)
    top, left, _ = crop.get_params(seeded(3), image_size=(64, 40))
    window = as_tensor(image.crop((left, top, left + 16, top + 16)))
    torch.testing.assert_close(crop(image, generator=seeded(3)), window, rtol=0, atol=1e-6)
    whole = CycleGANTransform(16, preprocess="none", flip=False)
    torch.testing.assert_close(whole(image), as_tensor(image), rtol=0, atol=1e-6)
    # Sides not divisible by `multiple` are rounded to the nearest multiple (as the reference).
    assert CycleGANTransform(16, preprocess="none").output_size(66, 43) == (64, 44)
    assert CycleGANTransform(16, preprocess="none", multiple=8).output_size(66, 43) == (64, 40)


@pytest.mark.parametrize(
    ("mode", "image_size", "resized"),
    [
        ("crop", (20, 10), (32, 16)),  # shorter side 10 -> 16, keeping 2:1
        ("crop", (10, 30), (16, 48)),
        ("crop", (12, 12), (16, 16)),
        ("none", (8, 40), (16, 80)),
        ("scale_width_and_crop", (100, 20), (80, 16)),  # 20 wide -> 4 high -> scaled up
        ("scale_width", (100, 20), (80, 16)),
        ("resize_and_crop", (3, 2), (20, 20)),  # load_size is never below size
    ],
)
def test_images_smaller_than_the_crop_are_scaled_up_keeping_the_aspect_ratio(
    mode: str, image_size: tuple[int, int], resized: tuple[int, int]
) -> None:
    t = CycleGANTransform(16, load_size=20, preprocess=mode)  # type: ignore[arg-type]
    assert t.resized_size(*image_size) == resized
    out = t(noise_image(*image_size), generator=seeded(0))
    assert tuple(out.shape[1:]) == t.output_size(*image_size)[::-1]


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="resize_and_crop, scale_width_and_crop, crop"):
        CycleGANTransform(16, preprocess="scale")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="load_size"):
        CycleGANTransform(16, load_size=8, preprocess="scale_width_and_crop")
    with pytest.raises(ValueError, match="multiple"):
        CycleGANTransform(16, multiple=0)
    # crop and none never resize: a small load_size is irrelevant there
    assert CycleGANTransform(16, load_size=8, preprocess="crop").size == 16
    with pytest.raises(ValueError, match="image_size"):
        CycleGANTransform(16, preprocess="crop").get_params()


# --------------------------------------------------------------------------------- dataset


def write_photos(folder: Path, sizes: list[tuple[int, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(sizes):
        noise_image(*size, seed=i).save(folder / f"{i:03d}.png")


def test_dataset_passes_the_preprocessing_on(tmp_path: Path) -> None:
    write_photos(tmp_path / "A", [(40, 30), (30, 50), (64, 48)])
    write_photos(tmp_path / "B", [(36, 36), (20, 12)])
    crop = UnpairedImageDataset(
        tmp_path / "A", tmp_path / "B", size=16, preprocess="crop", flip=False, seed=0
    )
    assert crop.preprocess == "crop" and crop.flip is False
    assert "preprocess='crop'" in repr(crop) and "flip=False" in repr(crop)
    for i in range(len(crop)):
        x, y = crop[i]
        assert x.shape == y.shape == (3, 16, 16)
    whole = UnpairedImageDataset(
        tmp_path / "A", tmp_path / "B", size=16, preprocess="none", train=False
    )
    shapes = [tuple(whole[i][0].shape) for i in range(3)]
    assert shapes == [(3, 32, 40), (3, 48, 32), (3, 48, 64)]  # 30x50 -> rounded to 32x48
    loader = DataLoader(
        UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=16, preprocess="none", seed=1),
        batch_size=1,
        shuffle=True,
    )
    assert len([x for x, _ in loader]) == 3


def test_from_root_takes_the_preprocessing(tmp_path: Path) -> None:
    write_photos(tmp_path / "trainA", [(60, 40)])
    write_photos(tmp_path / "trainB", [(40, 60)])
    ds = UnpairedImageDataset.from_root(
        tmp_path, "train", size=16, load_size=24, preprocess="scale_width_and_crop", flip=False
    )
    assert ds.default_transform.resized_size(60, 40) == (24, 16)
    assert ds.load_size == 24 and not ds.flip
    assert ds[0][0].shape == (3, 16, 16)


# ------------------------------------------------------------------------------------- CLI

TINY_DATA = [
    "--base-channels", "4", "--d-base-channels", "4", "--n-blocks", "1", "--epochs", "1",
    "--decay-epochs", "0", "--max-steps", "2", "--sample-every", "2", "--checkpoint-every", "2",
    "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def photo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    write_photos(root / "summer", [(60, 40), (40, 72), (90, 52)])
    write_photos(root / "winter", [(48, 48), (70, 36)])
    return root


@pytest.mark.parametrize(
    "options",
    [
        ["--preprocess", "crop", "--crop-size", "32", "--no-flip"],
        ["--preprocess", "scale_width_and_crop", "--load-size", "40", "--size", "32"],
        ["--preprocess", "none", "--size", "32"],
    ],
)
def test_train_takes_the_preprocessing_options(
    photo_root: Path, tmp_path: Path, options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["train", "--data", str(photo_root), "--out", str(out), *TINY_DATA, *options])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert settings["size"] == 32 and settings["preprocess"] == options[1]
    assert settings["flip"] is ("--no-flip" not in options)
    if options[1] == "none":
        assert "each image at its own size (none)" in captured.out
    else:
        assert "32x32" in captured.out
    assert (out / "samples" / "latest.png").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--preprocess", "none", "--batch-size", "2"], "use --batch-size 1"),
        (["--load-size", "16", "--size", "32"], "argument --load-size: must be at least --size"),
        (["--preprocess", "crop", "--load-size", "300"], "--preprocess crop does not resize"),
        (["--preprocess", "resize"], "argument --preprocess: invalid choice"),
    ],
)
def test_train_refuses_preprocessing_that_cannot_work(
    photo_root: Path,
    tmp_path: Path,
    options: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--data", str(photo_root), "--out", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------- reduced-scale JPEG decoding


def test_min_input_size_per_mode() -> None:
    assert CycleGANTransform(256).min_input_size == (286, 286)
    assert CycleGANTransform(256, load_size=512, preprocess="scale_width").min_input_size == (
        512,
        1,
    )
    assert CycleGANTransform(256, preprocess="crop").min_input_size is None
    assert CycleGANTransform(256, preprocess="none").min_input_size is None


def test_large_jpegs_are_decoded_no_larger_than_needed(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    noise_image(800, 600).save(photo, quality=95)
    assert load_image(photo).size == (800, 600)
    assert load_image(photo, min_size=(286, 286)).size == (400, 300)  # 1/2: still >= 286
    assert load_image(photo, min_size=(90, 1)).size == (100, 75)  # 1/8
    png = tmp_path / "photo.png"
    noise_image(800, 600).save(png)
    assert load_image(png, min_size=(90, 1)).size == (800, 600)  # only JPEGs


def test_reduced_decoding_respects_exif_rotation(tmp_path: Path) -> None:
    photo = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 1200x400, shown rotated: 400x1200
    noise_image(1200, 400).save(photo, quality=95, exif=exif)
    upright = load_image(photo, min_size=(100, 1))
    assert upright.size == (100, 300)  # the upright width is kept >= 100


def test_dataset_decodes_jpegs_at_reduced_scale_with_nearly_the_same_result(
    tmp_path: Path,
) -> None:
    for domain in ("A", "B"):
        (tmp_path / domain).mkdir()
        smooth = noise_image(16, 12).resize((1024, 768), Image.Resampling.BICUBIC)
        smooth.save(tmp_path / domain / "0.jpg", quality=95)
    fast = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=256, train=False)
    full = UnpairedImageDataset(
        tmp_path / "A",
        tmp_path / "B",
        train=False,
        transform=lambda image: CycleGANTransform(256, train=False)(image),
    )
    x_fast, x_full = fast[0][0], full[0][0]
    assert x_fast.shape == x_full.shape == (3, 256, 256)
    assert (x_fast - x_full).abs().mean().item() < 0.02  # ~2.5 of 255 levels
