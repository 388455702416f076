"""load_generator_file and the CLI's translate/export on every kind of generator file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from PIL import Image

from unpaired_i2i import (
    CheckpointError,
    CycleGAN,
    CycleTrainer,
    ResnetGenerator,
    TrainConfig,
    load_cyclegan,
    load_generator_file,
)
from unpaired_i2i.cli import main


def _reference_layout() -> ModuleType:
    """tests/test_reference_weights.py rebuilds the reference layout; use its classes here."""
    path = Path(__file__).with_name("test_reference_weights.py")
    spec = importlib.util.spec_from_file_location("_reference_layout", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _reference_layout()


def reference_file(
    path: Path,
    *,
    n_blocks: int = 3,
    ngf: int = 8,
    stale: bool = True,
    legacy: bool = True,
    **kw: Any,
) -> torch.nn.Module:
    """Save a randomised reference generator as the published files are, and return it."""
    torch.manual_seed(0)
    generator: torch.nn.Module = ref.RefGenerator(ngf, n_blocks, **kw)
    ref.randomize(generator)
    state = dict(generator.state_dict())
    if stale:  # old PyTorch versions saved InstanceNorm running statistics
        state["model.2.running_mean"] = torch.zeros(ngf)
        state["model.2.running_var"] = torch.ones(ngf)
    # The published files predate PyTorch's zip format: save them the old way too.
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return generator.eval()


def load_resnet(
    path: Path, *, n_blocks: int | None = None, preset: str | None = None
) -> ResnetGenerator:
    """load_generator_file, for a file that holds a ResnetGenerator (every file here does)."""
    generator = load_generator_file(path, n_blocks=n_blocks, preset=preset)
    assert isinstance(generator, ResnetGenerator)
    return generator


def same_output(a: torch.nn.Module, b: torch.nn.Module, size: int = 32) -> None:
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=1e-5)


# ------------------------------------------------------------------------- reference files


def test_reference_file_is_detected_and_its_layout_read(tmp_path: Path) -> None:
    path = tmp_path / "summer2winter_yosemite.pth"
    original = reference_file(path)
    loaded = load_generator_file(path)
    assert isinstance(loaded, ResnetGenerator) and not loaded.training
    config = loaded.get_config()
    assert (config["n_blocks"], config["base_channels"], config["norm"]) == (3, 8, "instance")
    same_output(loaded, original)


@pytest.mark.parametrize(
    ("norm", "padding", "dropout"),
    [("instance", "reflect", True), ("batch", "zero", True), ("batch", "zero", False)],
)
def test_every_reference_block_layout_is_read(
    tmp_path: Path, norm: str, padding: str, dropout: bool
) -> None:
    path = tmp_path / "g.pth"
    original = reference_file(
        path, n_blocks=2, stale=False, legacy=False, norm=norm, padding=padding, dropout=dropout
    )
    loaded = load_generator_file(path)
    assert isinstance(loaded, ResnetGenerator)
    config = loaded.get_config()
    assert config["norm"] == norm and config["padding"] == padding
    assert (config["dropout"] > 0) == dropout
    same_output(loaded, original)


def test_data_parallel_prefix_is_dropped(tmp_path: Path) -> None:
    generator = ref.RefGenerator(8, 2)
    ref.randomize(generator)
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({f"module.{k}": v for k, v in generator.state_dict().items()}, path)
    same_output(load_generator_file(path), generator.eval())


def test_n_blocks_and_preset_are_checked_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "g.pth"
    reference_file(path, n_blocks=3)
    assert load_resnet(path, n_blocks=3).get_config()["n_blocks"] == 3
    with pytest.raises(ValueError, match=r"3 residual blocks; n_blocks=9 \(--n-blocks\) asks"):
        load_generator_file(path, n_blocks=9)
    # What the keys tell (here the block count) overrides the preset's own settings.
    assert load_resnet(path, preset="resnet_6blocks").get_config()["n_blocks"] == 3
    with pytest.raises(ValueError, match="needs the reference layout"):
        load_generator_file(path, preset="basic")
    with pytest.raises(ValueError, match="resnet_9blocks"):
        load_generator_file(path, preset="unknown")


def test_a_generator_file_has_one_direction(tmp_path: Path) -> None:
    path = tmp_path / "g.pth"
    reference_file(path)
    assert load_generator_file(path, direction="xy") is not None
    with pytest.raises(ValueError, match="holds one generator"):
        load_generator_file(path, direction="yx")


def test_other_reference_generators_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "unet.pth"
    torch.save({"model.model.0.weight": torch.zeros(8, 3, 4, 4)}, path)
    with pytest.raises(ValueError, match="U-Net"):
        load_generator_file(path)


# ------------------------------------------------------------- checkpoints and our state dicts


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = CycleGAN.from_preset("cyclegan", base_channels=4, n_blocks=1)
    trainer = CycleTrainer(model, TrainConfig(), device="cpu")
    run = tmp_path_factory.mktemp("run")
    return trainer.save_checkpoint(run / "checkpoints" / "last.pt")


def test_training_checkpoints_and_run_folders(checkpoint: Path) -> None:
    model = load_cyclegan(checkpoint)
    same_output(load_generator_file(checkpoint), model.g_xy)
    same_output(load_generator_file(checkpoint, direction="yx"), model.g_yx)
    same_output(load_generator_file(checkpoint.parent.parent), model.g_xy)  # the run folder
    with pytest.raises(ValueError, match="records its architecture"):
        load_generator_file(checkpoint, n_blocks=1)


@pytest.mark.parametrize("preset", ["cyclegan", "basic"])
def test_generator_state_dicts_of_this_library(tmp_path: Path, preset: str) -> None:
    torch.manual_seed(0)
    generator = ResnetGenerator.from_preset(preset, base_channels=8, n_blocks=2).eval()
    path = tmp_path / "g.pt"
    torch.save(generator.state_dict(), path)
    loaded = load_generator_file(path)  # the preset is read from the keys (basic: no stem)
    same_output(loaded, generator)
    assert load_resnet(path, preset=preset).get_config() == generator.get_config()


def test_a_state_dict_that_fits_no_preset_says_so(tmp_path: Path) -> None:
    generator = ResnetGenerator.from_preset("cyclegan", base_channels=8, n_blocks=2, norm="none")
    path = tmp_path / "g.pt"
    state = generator.state_dict()
    state["stem.conv.weight"] = torch.zeros(8, 3, 5, 5)  # another kernel size
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"does not fit the 'cyclegan' generator layout.*--preset"):
        load_generator_file(path)


def test_foreign_files_name_what_is_accepted(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(CheckpointError, match=r"PNG image.*summer2winter_yosemite\.pth"):
        load_generator_file(photo)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2), "step": 3}, other)
    with pytest.raises(
        CheckpointError, match=r"neither a training checkpoint.*first keys: weights"
    ):
        load_generator_file(other)
    with pytest.raises(FileNotFoundError, match="no checkpoint in run folder"):
        load_generator_file(tmp_path)


# ---------------------------------------------------------------------------------- the CLI


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")  # TorchScript's deprecation
def test_translate_and_export_take_a_reference_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "summer2winter_yosemite.pth"
    original = reference_file(weights)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (36, 28), (30, 140, 60)).save(photos / "a.png")
    out = tmp_path / "out"
    assert main(["translate", str(weights), str(photos), "--out", str(out)]) == 0
    with Image.open(out / "a.png") as result:
        assert result.size == (36, 28)
    assert main(["translate", str(weights), str(photos), "--out", str(out), "--n-blocks", "3"]) == 0
    exported = tmp_path / "g.pt"
    assert main(["export", str(weights), "--out", str(exported), "--size", "32"]) == 0
    same_output(torch.jit.load(str(exported)), original)  # type: ignore[no-untyped-call]
    capsys.readouterr()
    code = main(["translate", str(weights), str(photos), "--out", str(out), "--n-blocks", "9"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "unpaired-i2i translate: error:" in err and "3 residual blocks" in err


def test_cli_refuses_generator_options_with_a_checkpoint(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", str(checkpoint), "--out", str(tmp_path / "g.pt"), "--preset", "basic"])
    err = capsys.readouterr().err
    assert code == 1 and "records its architecture" in err
    assert not (tmp_path / "g.pt").exists()
