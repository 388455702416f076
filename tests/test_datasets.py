"""Tests for unpaired_i2i.data.datasets and unpaired_i2i.data.transforms."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from unpaired_i2i.data import (
    IMAGE_EXTENSIONS,
    CorruptImageError,
    CorruptImageWarning,
    CycleGANTransform,
    UnpairedImageDataset,
    default_load_size,
    list_images,
    load_image,
    to_rgb,
)

SIZE = 16


def write_solid(folder: Path, n: int, *, step: int = 20, size: tuple[int, int] = (24, 20)) -> None:
    """Write n uniformly coloured images; image i has red value step * i (decodable after any crop)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (step * i, 100, 200)).save(folder / f"{i:04d}.png")


def write_gradient(folder: Path, n: int, size: tuple[int, int] = (24, 24)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.linear_gradient("L").resize(size).rotate(90 * i).convert("RGB")
        img.save(folder / f"{i:04d}.png")


def red_index(t: torch.Tensor, step: int = 20) -> int:
    """Recover the index of a write_solid image from its transformed tensor."""
    value = (t[0].mean().item() + 1) / 2 * 255
    return round(value / step)


@pytest.fixture
def domains(tmp_path: Path) -> tuple[Path, Path]:
    write_solid(tmp_path / "A", 5)
    write_solid(tmp_path / "B", 3, step=40)
    return tmp_path / "A", tmp_path / "B"


# ------------------------------------------------------------------------- basic contract


def test_items_shape_dtype_range_and_length(domains: tuple[Path, Path]) -> None:
    ds = UnpairedImageDataset(*domains, size=SIZE)
    assert len(ds) == 5
    x, y = ds[0]
    for t in (x, y):
        assert t.shape == (3, SIZE, SIZE)
        assert t.dtype == torch.float32
        assert type(t) is torch.Tensor
        assert -1.0 <= t.min().item() <= t.max().item() <= 1.0
    assert [p.name for p in ds.paths_x] == [f"{i:04d}.png" for i in range(5)]
    assert all(isinstance(p, Path) for p in ds.paths_x + ds.paths_y)
    assert ds.domains == ("A", "B")
    assert "5 images" in repr(ds)


def test_length_is_larger_folder_and_x_by_index_modulo(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 2)
    write_solid(tmp_path / "B", 5)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, seed=0)
    assert len(ds) == 5
    assert [red_index(ds[i][0]) for i in range(5)] == [0, 1, 0, 1, 0]


def test_serial_and_eval_pair_y_by_index(domains: tuple[Path, Path]) -> None:
    for kwargs in ({"serial": True}, {"train": False}):
        ds = UnpairedImageDataset(*domains, size=SIZE, **kwargs)  # type: ignore[arg-type]
        assert [red_index(ds[i][1], 40) for i in range(5)] == [0, 1, 2, 0, 1]


def test_random_y_covers_folder(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 1)
    write_solid(tmp_path / "B", 4, step=40)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, seed=1)
    picked = set()
    for epoch in range(40):
        ds.set_epoch(epoch)
        picked.add(red_index(ds[0][1], 40))
    assert picked == {0, 1, 2, 3}


def test_negative_and_out_of_range_index(domains: tuple[Path, Path]) -> None:
    ds = UnpairedImageDataset(*domains, size=SIZE, train=False)
    assert torch.equal(ds[-1][0], ds[4][0])
    with pytest.raises(IndexError, match="out of range"):
        ds[5]
    with pytest.raises(IndexError):
        ds[-6]


# ------------------------------------------------------------------------- transforms


def test_eval_transform_is_center_crop_without_randomness(tmp_path: Path) -> None:
    write_gradient(tmp_path / "A", 2)
    write_gradient(tmp_path / "B", 2)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, train=False)
    before = torch.get_rng_state()
    a = ds[1]
    assert torch.equal(torch.get_rng_state(), before)  # nothing drawn
    b = ds[1]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    t = CycleGANTransform(SIZE, train=False)
    assert t.get_params() == ((t.load_size - SIZE) // 2, (t.load_size - SIZE) // 2, False)


def test_train_transform_crops_and_flips(tmp_path: Path) -> None:
    img = Image.linear_gradient("L").rotate(90).resize((30, 30)).convert("RGB")  # dark left
    t = CycleGANTransform(SIZE, load_size=24)
    params = [t.get_params(torch.Generator().manual_seed(s)) for s in range(30)]
    outs = [t(img, generator=torch.Generator().manual_seed(s)) for s in range(30)]
    assert {flip for _, _, flip in params} == {True, False}
    assert len({(top, left) for top, left, _ in params}) > 5
    assert len({o.sum().item() for o in outs}) > 5
    assert torch.equal(t(img, generator=torch.Generator().manual_seed(3)), outs[3])
    for out, (_, _, flip) in zip(outs, params, strict=True):
        left_brighter = out[0, :, 0].mean() > out[0, :, -1].mean()
        assert bool(left_brighter) == flip


def test_default_load_size_matches_reference() -> None:
    assert default_load_size(256) == 286
    assert default_load_size(128) == 143
    assert CycleGANTransform(256).load_size == 286


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"size": 16, "load_size": 8}, "load_size"),
        ({"size": True}, "size"),
    ],
)
def test_transform_rejects_bad_options(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CycleGANTransform(**kwargs)  # type: ignore[arg-type]


@given(
    size=st.integers(1, 24),
    extra=st.integers(0, 8),
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    train=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_transform_output_shape_and_range(
    size: int, extra: int, width: int, height: int, train: bool, seed: int
) -> None:
    img = Image.effect_mandelbrot((width, height), (-2, -1.5, 1, 1.5), 20).convert("RGB")
    out = CycleGANTransform(size, load_size=size + extra, train=train)(
        img, generator=torch.Generator().manual_seed(seed)
    )
    assert out.shape == (3, size, size)
    assert out.dtype == torch.float32
    assert -1.0 <= out.min().item() <= out.max().item() <= 1.0


# ------------------------------------------------------------------------- randomness


def test_seed_none_draws_from_global_torch_rng_only(domains: tuple[Path, Path]) -> None:
    ds = UnpairedImageDataset(*domains, size=SIZE)
    py_state = random.getstate()
    torch.manual_seed(123)
    first = [ds[i] for i in range(5)]
    torch.manual_seed(123)
    second = [ds[i] for i in range(5)]
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert random.getstate() == py_state
    state = torch.get_rng_state()
    ds[0]
    assert not torch.equal(torch.get_rng_state(), state)  # global RNG was consumed


def test_seed_makes_items_pure_functions_of_seed_epoch_index(domains: tuple[Path, Path]) -> None:
    a = UnpairedImageDataset(*domains, size=SIZE, seed=7)
    b = UnpairedImageDataset(*domains, size=SIZE, seed=7)
    torch.manual_seed(0)
    items_a = [a[i] for i in range(5)]
    torch.manual_seed(999)
    state = torch.get_rng_state()
    items_b = [b[i] for i in reversed(range(5))][::-1]
    assert torch.equal(torch.get_rng_state(), state)  # seeded items leave the global RNG alone
    for (x1, y1), (x2, y2) in zip(items_a, items_b, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_seed_epoch_changes_items(tmp_path: Path) -> None:
    write_gradient(tmp_path / "A", 3)
    write_gradient(tmp_path / "B", 3)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, seed=7)
    epoch0 = torch.stack([ds[i][0] for i in range(3)])
    ds.set_epoch(1)
    assert ds.epoch == 1
    epoch1 = torch.stack([ds[i][0] for i in range(3)])
    assert not torch.equal(epoch0, epoch1)
    ds.set_epoch(0)
    assert torch.equal(epoch0, torch.stack([ds[i][0] for i in range(3)]))
    other = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, seed=8)
    assert not torch.equal(epoch0, torch.stack([other[i][0] for i in range(3)]))


@pytest.mark.parametrize("epoch", [-1, 1.5, True])
def test_set_epoch_rejects_bad_values(domains: tuple[Path, Path], epoch: object) -> None:
    ds = UnpairedImageDataset(*domains, size=SIZE)
    with pytest.raises(ValueError, match="epoch"):
        ds.set_epoch(epoch)  # type: ignore[arg-type]


def test_custom_transform_overrides_and_is_seeded(tmp_path: Path) -> None:
    write_gradient(tmp_path / "A", 2)
    write_gradient(tmp_path / "B", 2)
    random_tf = v2.Compose(
        [v2.ToImage(), v2.RandomCrop(8), v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32)]
    )
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", seed=3, transform=random_tf)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = ds[0]
    assert torch.equal(before, torch.get_rng_state())  # fork_rng restored the global RNG
    torch.manual_seed(1)
    second = ds[0]
    assert first[0].shape == (3, 8, 8)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    crops = {ds[i][0].sum().item() for i in range(2)} | {first[1].sum().item()}
    assert len(crops) > 1


def test_custom_transform_must_return_tensor(domains: tuple[Path, Path]) -> None:
    ds = UnpairedImageDataset(*domains, transform=lambda img: img)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"transform to return a torch\.Tensor; got Image"):
        ds[0]
    with pytest.raises(ValueError, match="transform"):
        UnpairedImageDataset(*domains, transform=3)  # type: ignore[arg-type]


def test_bad_seed_rejected(domains: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="seed"):
        UnpairedImageDataset(*domains, seed="0")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- DataLoader


def _collect(loader: DataLoader[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    return [torch.cat([x, y]) for x, y in loader]


def test_dataloader_with_workers_reproducible(tmp_path: Path) -> None:
    write_gradient(tmp_path / "A", 6)
    write_solid(tmp_path / "B", 4)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE)
    runs = []
    for _ in range(2):
        torch.manual_seed(42)
        loader = DataLoader(ds, batch_size=2, shuffle=True, num_workers=2)
        runs.append(_collect(loader))
    assert len(runs[0]) == 3
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_seeded_dataset_same_with_and_without_workers(tmp_path: Path) -> None:
    write_gradient(tmp_path / "A", 4)
    write_solid(tmp_path / "B", 3)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, seed=5)
    with_workers = _collect(DataLoader(ds, batch_size=2, num_workers=2))
    without = _collect(DataLoader(ds, batch_size=2, num_workers=0))
    for a, b in zip(with_workers, without, strict=True):
        assert torch.equal(a, b)


def test_dataset_pickles(domains: tuple[Path, Path]) -> None:
    ds = UnpairedImageDataset(*domains, size=SIZE, seed=1)
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[2][0], ds[2][0])


# ------------------------------------------------------------------------- loading


def test_image_modes_become_rgb(tmp_path: Path) -> None:
    a = tmp_path / "A"
    a.mkdir()
    Image.new("L", (20, 20), 128).save(a / "gray.png")
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(a / "rgba.png")
    Image.new("LA", (20, 20), (0, 255)).save(a / "la.png")
    pal = Image.new("P", (20, 20), 1)
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.save(a / "pal.png")
    Image.new("I;16", (20, 20), 65535).save(a / "sixteen.png")
    Image.new("I;16", (20, 20), 257 * 100).save(a / "sixteen.tif")
    Image.new("I;16", (20, 20), 257 * 50).save(a / "sixteen.pgm")
    Image.new("1", (20, 20), 1).save(a / "bilevel.bmp")
    Image.new("RGB", (20, 20), (1, 2, 3)).save(a / "rgb.ppm")
    Image.new("RGB", (20, 20), (9, 9, 9)).save(a / "photo.JPG")
    Image.new("RGB", (20, 20), (9, 9, 9)).save(a / "photo.webp", lossless=True)
    Image.new("CMYK", (20, 20), (0, 0, 0, 0)).save(a / "cmyk.tiff")
    expected = {
        "gray.png": (128, 128, 128),
        "rgba.png": (255, 255, 255),  # transparent -> white background
        "la.png": (0, 0, 0),
        "pal.png": (10, 20, 30),
        "sixteen.png": (255, 255, 255),  # full 16-bit range -> 255, not clipped
        "sixteen.tif": (100, 100, 100),  # scaled by 255/65535
        "sixteen.pgm": (50, 50, 50),
        "bilevel.bmp": (255, 255, 255),
        "rgb.ppm": (1, 2, 3),
        "photo.webp": (9, 9, 9),
        "cmyk.tiff": (255, 255, 255),
    }
    for name, pixel in expected.items():
        img = load_image(a / name)
        assert img.mode == "RGB", name
        assert img.getpixel((5, 5)) == pixel, name
    assert load_image(a / "photo.JPG").mode == "RGB"
    assert len(list_images(a)) == 12
    write_solid(tmp_path / "B", 1)
    ds = UnpairedImageDataset(a, tmp_path / "B", size=SIZE, train=False)
    for i in range(len(ds)):
        assert ds[i][0].shape == (3, SIZE, SIZE)


def test_to_rgb_sixteen_bit_scaling_is_monotone_and_full_range() -> None:
    img = Image.new("I;16", (3, 1))
    for x, value in enumerate((0, 32768, 65535)):
        img.putpixel((x, 0), value)
    out = to_rgb(img)
    assert [out.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128,) * 3, (255,) * 3]
    assert to_rgb(Image.new("F", (1, 1), 0.5)).getpixel((0, 0)) == (128, 128, 128)
    with pytest.raises(TypeError, match="PIL"):
        to_rgb("not an image")  # type: ignore[arg-type]


def test_non_images_and_hidden_files_are_ignored(tmp_path: Path) -> None:
    a = tmp_path / "A"
    write_solid(a, 2)
    (a / "notes.txt").write_text("hello")
    (a / "Thumbs.db").write_bytes(b"\0")
    (a / "._0000.png").write_bytes(b"apple double")
    (a / ".hidden").mkdir()
    (a / ".hidden" / "x.png").write_bytes(b"junk")
    write_solid(a / "nested", 1)
    Image.new("RGB", (4, 4)).save(a / "UPPER.PNG")
    names = [p.relative_to(a).as_posix() for p in list_images(a)]
    assert names == ["0000.png", "0001.png", "UPPER.PNG", "nested/0000.png"]
    assert ".png" in IMAGE_EXTENSIONS and ".pgm" in IMAGE_EXTENSIONS


def test_empty_and_missing_folders_raise_at_construction(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "textonly").mkdir()
    (tmp_path / "textonly" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="empty") as info:
        UnpairedImageDataset(tmp_path / "A", tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value) and "root_y" in str(info.value)
    with pytest.raises(ValueError, match=r"empty.*1 non-image"):
        UnpairedImageDataset(tmp_path / "textonly", tmp_path / "A")
    with pytest.raises(FileNotFoundError, match="not found") as missing:
        UnpairedImageDataset(tmp_path / "nope", tmp_path / "A")
    assert str(tmp_path / "nope") in str(missing.value) and "root_x" in str(missing.value)
    with pytest.raises(NotADirectoryError, match="file"):
        UnpairedImageDataset(tmp_path / "A" / "0000.png", tmp_path / "A")


def test_corrupt_image_raises_naming_path(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 2)
    write_solid(tmp_path / "B", 2)
    bad = tmp_path / "A" / "0001.png"
    bad.write_bytes(b"definitely not a png")
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, train=False)
    with pytest.raises(CorruptImageError, match="cannot read image") as info:
        ds[1]
    assert str(bad) in str(info.value)
    assert info.value.path == bad
    assert isinstance(info.value, OSError)


def test_truncated_image_is_corrupt(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 1, size=(64, 64))
    path = tmp_path / "A" / "0000.png"
    img = Image.effect_mandelbrot((64, 64), (-2, -1.5, 1, 1.5), 50)
    img.save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptImageError, match=str(path.name)):
        load_image(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image(tmp_path / "A" / "missing.png")


def test_skip_corrupt_warns_once_and_uses_next_image(tmp_path: Path) -> None:
    write_solid(tmp_path / "A", 3)
    write_solid(tmp_path / "B", 3)
    bad = tmp_path / "A" / "0001.png"
    bad.write_bytes(b"garbage")
    ds = UnpairedImageDataset(
        tmp_path / "A", tmp_path / "B", size=SIZE, train=False, skip_corrupt=True
    )
    with pytest.warns(CorruptImageWarning, match="0001.png") as record:
        x, _ = ds[1]
    assert len(record) == 1 and str(bad) in str(record[0].message)
    assert red_index(x) == 2  # the next valid image
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert red_index(ds[1][0]) == 2  # no second warning


def test_skip_corrupt_all_bad_raises(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "bad.png").write_bytes(b"x")
    write_solid(tmp_path / "B", 1)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", skip_corrupt=True, train=False)
    with pytest.warns(CorruptImageWarning), pytest.raises(CorruptImageError, match="all corrupt"):
        ds[0]


# ------------------------------------------------------------------------- from_root


def test_from_root_reference_layout(tmp_path: Path) -> None:
    for split, n in (("trainA", 4), ("trainB", 3), ("testA", 2), ("testB", 2)):
        write_solid(tmp_path / split, n)
    train = UnpairedImageDataset.from_root(tmp_path, size=SIZE)
    assert train.train and len(train) == 4 and train.domains == ("trainA", "trainB")
    test = UnpairedImageDataset.from_root(tmp_path, "test", size=SIZE)
    assert not test.train and len(test) == 2 and test.domains == ("testA", "testB")
    forced = UnpairedImageDataset.from_root(tmp_path, "test", size=SIZE, train=True, seed=1)
    assert forced.train and forced.seed == 1


def test_from_root_named_domains_under_split(tmp_path: Path) -> None:
    write_solid(tmp_path / "train" / "winter", 2)
    write_solid(tmp_path / "train" / "summer", 3)
    write_solid(tmp_path / "test" / "Y", 1)
    write_solid(tmp_path / "test" / "X", 1)
    train = UnpairedImageDataset.from_root(tmp_path, "train", size=SIZE)
    assert train.domains == ("summer", "winter")
    test = UnpairedImageDataset.from_root(tmp_path, "test", size=SIZE)
    assert test.domains == ("X", "Y") and not test.train


@pytest.mark.parametrize(
    ("names", "order"),
    [(("y", "x"), ("x", "y")), (("B", "A"), ("A", "B")), (("zebra", "horse"), ("horse", "zebra"))],
)
def test_from_root_domains_at_root(
    tmp_path: Path, names: tuple[str, str], order: tuple[str, str]
) -> None:
    for name in names:
        write_solid(tmp_path / name, 1)
    ds = UnpairedImageDataset.from_root(tmp_path, size=SIZE)
    assert ds.domains == order
    with pytest.raises(ValueError, match="no 'test' split"):
        UnpairedImageDataset.from_root(tmp_path, "test")


def test_from_root_errors_name_root_and_list_contents(tmp_path: Path) -> None:
    write_solid(tmp_path / "trainA", 1)
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ValueError, match="found no 'train' split") as info:
        UnpairedImageDataset.from_root(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "trainA/" in message and "readme.txt" in message
    with pytest.raises(FileNotFoundError, match="not found"):
        UnpairedImageDataset.from_root(tmp_path / "missing")
    for name in ("a", "b", "c"):
        write_solid(tmp_path / "val" / name, 1)
    with pytest.raises(ValueError, match="exactly two domain folders; found 3"):
        UnpairedImageDataset.from_root(tmp_path, "val")
    with pytest.raises(ValueError, match="split"):
        UnpairedImageDataset.from_root(tmp_path, "../x")


# ------------------------------------------------------------------------- verify_images
def test_verify_images_reports_every_unreadable_file_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unpaired_i2i import verify_images

    mandelbrot = Image.effect_mandelbrot((96, 96), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    good_png, good_jpg = tmp_path / "good.png", tmp_path / "good.jpg"
    mandelbrot.save(good_png)
    mandelbrot.save(good_jpg, quality=90)
    cut_png, cut_jpg = tmp_path / "cut.png", tmp_path / "cut.jpg"
    cut_png.write_bytes(good_png.read_bytes()[: good_png.stat().st_size * 9 // 10])
    cut_jpg.write_bytes(good_jpg.read_bytes()[: good_jpg.stat().st_size * 9 // 10])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"
    paths: list[str | Path] = [cut_png, good_png, text, good_jpg, cut_jpg, empty, str(missing)]

    bad = verify_images(paths)
    assert [p for p, _ in bad] == [cut_png, text, cut_jpg, empty, missing]
    reasons = dict(bad)
    assert "truncated" in reasons[cut_png].lower() and "truncated" in reasons[cut_jpg].lower()
    assert reasons[text].startswith("UnidentifiedImageError")
    assert reasons[missing].startswith("FileNotFoundError")
    for _path, reason in bad:  # each a one-line reason
        assert reason and "\n" not in reason
    # Every file verify_images passes is one load_image reads; every one it flags is not.
    for path in (good_png, good_jpg):
        assert load_image(path).size == (96, 96)
    for path in (cut_png, text, cut_jpg, empty):
        with pytest.raises(CorruptImageError):
            load_image(path)

    assert verify_images([good_png, good_jpg], progress=True, description="checking data") == []
    assert "checking data" in capsys.readouterr().err
    assert verify_images([]) == []


# ------------------------------------------------------------------------- EXIF orientation
def write_exif_rotated(path: Path, orientation: int) -> None:
    """A 30x20 JPEG as stored: left half red, right half blue, with an EXIF orientation tag."""
    img = Image.new("RGB", (30, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 15, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    img.save(path, format="JPEG", quality=95, exif=exif)


@pytest.mark.parametrize(
    ("orientation", "top", "bottom"),
    [(6, "red", "blue"), (8, "blue", "red")],  # 6: turn 90 degrees clockwise; 8: anticlockwise
)
def test_exif_rotated_jpeg_is_loaded_upright(
    tmp_path: Path, orientation: int, top: str, bottom: str
) -> None:
    path = tmp_path / "A" / "photo.jpg"
    path.parent.mkdir()
    write_exif_rotated(path, orientation)
    with Image.open(path) as raw:
        assert raw.size == (30, 20) and raw.getexif()[0x0112] == orientation

    image = load_image(path)
    assert image.size == (20, 30)  # portrait, as the camera was held

    def colour(rgb: tuple[int, int, int]) -> str:
        return "red" if rgb[0] > rgb[2] else "blue"

    assert colour(image.getpixel((10, 3))) == top  # type: ignore[arg-type]
    assert colour(image.getpixel((10, 26))) == bottom  # type: ignore[arg-type]

    write_solid(tmp_path / "B", 1)
    ds = UnpairedImageDataset(tmp_path / "A", tmp_path / "B", size=SIZE, train=False)
    x, _ = ds[0]
    red_minus_blue = x[0] - x[2]  # (H, W)
    upper, lower = red_minus_blue[: SIZE // 4].mean(), red_minus_blue[-SIZE // 4 :].mean()
    assert (upper > 0) == (top == "red") and (lower > 0) == (bottom == "red")
