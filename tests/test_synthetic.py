"""Tests for unpaired_i2i.data.synthetic (the built-in summer/winter demo data)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageStat
from torchvision.transforms.v2 import functional as F

import unpaired_i2i.data.synthetic as synthetic
from unpaired_i2i.data import SEASONS, UnpairedImageDataset, draw_scene, make_season_dataset

SPLITS = ("trainA", "trainB", "testA", "testB")


def as_tensor(img: Image.Image) -> torch.Tensor:
    out: torch.Tensor = F.to_dtype(F.to_image(img), torch.float32, scale=True)
    return out


def edge_map(x: torch.Tensor) -> torch.Tensor:
    g = x.mean(0)
    return (g[1:, :-1] - g[:-1, :-1]).abs() + (g[:-1, 1:] - g[:-1, :-1]).abs()


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.flatten() - a.mean()
    b = b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


# ------------------------------------------------------------------------- draw_scene


@given(seed=st.integers(-(2**40), 2**40), size=st.sampled_from([8, 17, 32]))
def test_draw_scene_is_deterministic_rgb(seed: int, size: int) -> None:
    for season in SEASONS:
        a = draw_scene(seed, season, size=size)
        assert a.mode == "RGB" and a.size == (size, size)
        assert a.tobytes() == draw_scene(seed, season, size=size).tobytes()


def test_seasons_differ_as_expected() -> None:
    assert SEASONS == ("summer", "winter")
    for seed in range(6):
        summer = draw_scene(seed, "summer", size=48)
        winter = draw_scene(seed, "winter", size=48)
        s_mean = ImageStat.Stat(summer).mean
        w_mean = ImageStat.Stat(winter).mean
        assert sum(w_mean) > sum(s_mean) + 60  # snow: winter is much brighter
        ground = summer.crop((0, 40, 48, 48))  # bottom rows: green grass in summer
        r, g, b = ImageStat.Stat(ground).mean
        assert g > r and g > b
        w_ground = ImageStat.Stat(winter.crop((0, 40, 48, 48))).mean
        assert min(w_ground) > 150  # white-ish snow


def test_season_pairs_share_geometry() -> None:
    paired, unpaired = [], []
    for seed in range(8):
        summer = as_tensor(draw_scene(seed, "summer", size=48))
        winter = as_tensor(draw_scene(seed, "winter", size=48))
        other = as_tensor(draw_scene(seed + 1000, "winter", size=48))
        paired.append(correlation(edge_map(summer), edge_map(winter)))
        unpaired.append(correlation(edge_map(summer), edge_map(other)))
    assert min(paired) > max(unpaired)


def test_different_seeds_give_different_scenes() -> None:
    scenes = {draw_scene(seed, "summer", size=32).tobytes() for seed in range(10)}
    assert len(scenes) == 10


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, "autumn"), {}, "season"),
        ((0, "summer"), {"size": 4}, "size"),
        ((0, "summer"), {"size": 32.0}, "size"),
        (("0", "summer"), {}, "geometry_seed"),
    ],
)
def test_draw_scene_rejects_bad_arguments(
    args: tuple[object, ...], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        draw_scene(*args, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- make_season_dataset


def test_layout_and_pairing(tmp_path: Path) -> None:
    root = make_season_dataset(tmp_path / "seasons", n_train=5, n_test=3, size=32, seed=1)
    assert root == tmp_path / "seasons"
    names = {s: sorted(p.name for p in (root / s).iterdir()) for s in SPLITS}
    assert names["trainA"] == names["trainB"] == [f"{i:04d}.png" for i in range(5)]
    assert names["testA"] == names["testB"] == [f"{i:04d}.png" for i in range(3)]
    manifest = json.loads((root / "season_dataset.json").read_text())
    assert manifest["complete"] is True
    # The manifest is written atomically: no temporary file is left next to it.
    assert sorted(p.name for p in root.iterdir()) == ["season_dataset.json", *sorted(SPLITS)]
    assert (manifest["n_train"], manifest["n_test"], manifest["size"], manifest["seed"]) == (
        5,
        3,
        32,
        1,
    )
    with Image.open(root / "testA" / "0000.png") as img:
        assert img.size == (32, 32) and img.mode == "RGB"
    # test pairs share geometry; train sets come from different geometries
    for i in range(3):
        a = as_tensor(Image.open(root / "testA" / f"{i:04d}.png"))
        b = as_tensor(Image.open(root / "testB" / f"{i:04d}.png"))
        assert correlation(edge_map(a), edge_map(b)) > 0.2
    train_a = {(root / "trainA" / n).read_bytes() for n in names["trainA"]}
    test_a = {(root / "testA" / n).read_bytes() for n in names["testA"]}
    assert not train_a & test_a
    # usable with the dataset class in both splits
    train = UnpairedImageDataset.from_root(root, size=16, seed=0)
    assert len(train) == 5 and train.train
    test = UnpairedImageDataset.from_root(root, "test", size=32, load_size=32)
    assert not test.train and len(test) == 3
    assert [p.name for p in test.paths_x] == [p.name for p in test.paths_y]


def test_deterministic_bitwise(tmp_path: Path) -> None:
    a = make_season_dataset(tmp_path / "a", n_train=3, n_test=2, size=24, seed=4)
    b = make_season_dataset(tmp_path / "b", n_train=3, n_test=2, size=24, seed=4)
    c = make_season_dataset(tmp_path / "c", n_train=3, n_test=2, size=24, seed=5)
    assert folder_bytes(a) == folder_bytes(b)
    assert folder_bytes(a) != folder_bytes(c)


def test_idempotent_skips_complete_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_season_dataset(tmp_path, n_train=2, n_test=1, size=16)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}

    def fail(*args: object, **kwargs: object) -> Image.Image:
        raise AssertionError("should not redraw")

    monkeypatch.setattr(synthetic, "draw_scene", fail)
    assert make_season_dataset(tmp_path, n_train=2, n_test=1, size=16) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes


def test_rewrites_when_incomplete_or_parameters_change(tmp_path: Path) -> None:
    root = make_season_dataset(tmp_path, n_train=3, n_test=2, size=16)
    reference = folder_bytes(root)
    (root / "trainB" / "0001.png").unlink()
    make_season_dataset(tmp_path, n_train=3, n_test=2, size=16)
    assert folder_bytes(root) == reference
    make_season_dataset(tmp_path, n_train=2, n_test=1, size=16)  # stale files are removed
    assert sorted(p.name for p in (root / "trainA").iterdir()) == ["0000.png", "0001.png"]
    assert sorted(p.name for p in (root / "testB").iterdir()) == ["0000.png"]
    assert json.loads((root / "season_dataset.json").read_text())["n_train"] == 2


def test_refuses_to_overwrite_foreign_data(tmp_path: Path) -> None:
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainA" / "mine.jpg").write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="will not overwrite") as info:
        make_season_dataset(tmp_path, n_train=1, n_test=1, size=16)
    assert str(tmp_path) in str(info.value)
    assert (tmp_path / "trainA" / "mine.jpg").read_bytes() == b"user data"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": -1}, "n_test"),
        ({"size": 4}, "size"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_make_season_dataset_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_season_dataset(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_default_size_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    root = make_season_dataset(tmp_path)  # defaults: 200 + 200 train, 20 test pairs, 128 px
    elapsed = time.perf_counter() - start
    assert len(list((root / "trainA").iterdir())) == 200
    assert len(list((root / "testB").iterdir())) == 20
    assert elapsed < 30.0  # a few seconds on one core; generous for shared CI machines
