"""Tests of the distribution metrics (FID / KID), their offline weights and input conversion,
and the cross-check of the paired SSIM / PSNR against torchmetrics.

Tests that compute a score need the extra ``metrics`` (torchmetrics, torch-fidelity) and skip
without it; the weights lookup, the input conversion and the missing-extra error do not."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import unpaired_i2i
from unpaired_i2i import (
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_FILE,
    FID_WEIGHTS_URL,
    CycleGANTransform,
    InceptionWeightsError,
    ShapeError,
    UnpairedImageDataset,
    evaluate_fid_kid,
    inception_feature_extractor,
    psnr,
    resolve_inception_weights,
    ssim,
    to_extractor_input,
)

HAS_TORCHMETRICS = importlib.util.find_spec("torchmetrics") is not None
needs_torchmetrics = pytest.mark.skipif(
    not HAS_TORCHMETRICS, reason="needs torchmetrics (the optional extra 'metrics')"
)


class TinyFeatures(nn.Module):
    """A deterministic stand-in for Inception: 2x2 average colours and per-channel spreads."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        pooled = nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
        return torch.cat([pooled, x.std(dim=(2, 3))], dim=1)


def images(n: int = 48, size: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No weights anywhere: an empty torch cache and no environment variable."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)
    return tmp_path / "torch-home" / "hub" / "checkpoints" / FID_WEIGHTS_FILE


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every attempt to open a connection is recorded and refused."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


# ------------------------------------------------------------------------------- conversion
def test_conversion_gives_back_the_bytes_the_data_pipeline_read() -> None:
    # Every byte value, read by the training/test transform (no resize: size = image size).
    values = torch.arange(256, dtype=torch.uint8).view(16, 16)
    rgb = torch.stack([values, values.flip(0), values.flip(1)], dim=-1).numpy()
    x = CycleGANTransform(16, load_size=16, train=False)(Image.fromarray(rgb))
    assert x.min() == -1.0 and x.max() == 1.0
    out = to_extractor_input(x.unsqueeze(0))
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 16, 16)
    assert torch.equal(out[0], torch.from_numpy(rgb).permute(2, 0, 1))


def test_conversion_float_range_grayscale_size_and_clamping() -> None:
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, -3.0, 3.0]).view(1, 1, 1, 7)
    as_float = to_extractor_input(x, dtype=torch.float32)
    assert as_float.dtype == torch.float32 and as_float.shape == (1, 3, 1, 7)
    expected = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 0.0, 1.0])
    for channel in range(3):  # one channel repeated to RGB
        assert torch.equal(as_float[0, channel, 0], expected)
    as_bytes = to_extractor_input(x)
    assert as_bytes[0, 0, 0].tolist() == [0, 64, 128, 191, 255, 0, 255]  # round(v * 255)
    big = images(2, size=37)
    assert to_extractor_input(big).shape == (2, 3, 37, 37)  # size kept: Inception resizes


def test_conversion_errors() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        to_extractor_input(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\) with C 1 or 3; got \(3, 4, 4\)"):
        to_extractor_input(torch.zeros(3, 4, 4))
    with pytest.raises(ShapeError, match="got \\(1, 2, 4, 4\\)"):
        to_extractor_input(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="torch.uint8 or torch.float32"):
        to_extractor_input(torch.zeros(1, 3, 4, 4), dtype=torch.float16)


# ---------------------------------------------------------------------------------- weights
def test_missing_weights_error_names_file_url_and_ways_to_pass_it(
    no_weights: Path, no_network: list[Any]
) -> None:
    with pytest.raises(InceptionWeightsError) as info:
        resolve_inception_weights()
    message = str(info.value)
    for part in (FID_WEIGHTS_FILE, FID_WEIGHTS_URL, FID_WEIGHTS_ENV, "weights_path", "--weights"):
        assert part in message
    assert str(no_weights) in message  # where the cache copy would be found
    assert "never downloads" in message
    assert isinstance(info.value, FileNotFoundError)
    assert no_network == []


def test_weights_lookup_order(no_weights: Path, tmp_path: Path, monkeypatch: Any) -> None:
    explicit = tmp_path / "explicit.pth"
    from_env = tmp_path / "env.pth"
    for path in (explicit, from_env):
        path.write_bytes(b"x")
    with pytest.raises(
        InceptionWeightsError, match=r"missing\.pth \(weights_path does not exist\)"
    ):
        resolve_inception_weights(tmp_path / "missing.pth")
    assert resolve_inception_weights(explicit) == explicit
    monkeypatch.setenv(FID_WEIGHTS_ENV, str(from_env))
    assert resolve_inception_weights() == from_env
    assert resolve_inception_weights(explicit) == explicit  # the argument comes first
    monkeypatch.setenv(FID_WEIGHTS_ENV, str(tmp_path / "gone.pth"))
    with pytest.raises(
        InceptionWeightsError, match=f"gone.pth \\(from the environment variable {FID_WEIGHTS_ENV}"
    ):
        resolve_inception_weights()
    monkeypatch.delenv(FID_WEIGHTS_ENV)
    no_weights.parent.mkdir(parents=True)
    no_weights.write_bytes(b"x")
    assert resolve_inception_weights() == no_weights  # torch's cache, when the file is there


@needs_torchmetrics
def test_scores_without_weights_fail_before_any_network_access(
    no_weights: Path, no_network: list[Any]
) -> None:
    x = images(8)
    with pytest.raises(InceptionWeightsError, match=FID_WEIGHTS_FILE):
        evaluate_fid_kid(nn.Identity(), x, x)
    with pytest.raises(InceptionWeightsError, match=FID_WEIGHTS_FILE):
        inception_feature_extractor()
    assert no_network == []


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchmetrics", None)  # as if not installed
    x = images(8)
    pattern = r'pip install "unpaired-i2i\[metrics\]"'
    with pytest.raises(ImportError, match=pattern):
        evaluate_fid_kid(nn.Identity(), x, x, feature_extractor=TinyFeatures())
    with pytest.raises(ImportError, match=pattern):
        unpaired_i2i.FIDCallback(x, x, feature_extractor=TinyFeatures())
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)
    with pytest.raises(ImportError, match=pattern):
        inception_feature_extractor()


# ------------------------------------------------------------------------- scores (tiny net)
@needs_torchmetrics
def test_identical_sets_score_zero() -> None:
    x = images(48)
    scores = evaluate_fid_kid(nn.Identity(), x, x.clone(), feature_extractor=TinyFeatures())
    assert set(scores) == {
        "fid",
        "kid_mean",
        "kid_std",
        "kid_subset_size",
        "n_translated",
        "n_real",
    }
    assert scores["fid"] == pytest.approx(0.0, abs=1e-9)
    assert scores["kid_mean"] == pytest.approx(0.0, abs=1e-3)
    assert (scores["n_translated"], scores["n_real"], scores["kid_subset_size"]) == (48, 48, 48)
    assert all(isinstance(scores[k], int) for k in ("n_translated", "n_real", "kid_subset_size"))


@needs_torchmetrics
def test_scores_grow_with_the_shift() -> None:
    x = images(48)
    fids, kids = [], []
    for shift in (0.0, 0.1, 0.2, 0.4, 0.8):
        scores = evaluate_fid_kid(
            nn.Identity(),
            x,
            (x + shift).clamp(-1, 1),
            feature_extractor=TinyFeatures(),
            kid_subset_size=24,
        )
        fids.append(scores["fid"])
        kids.append(scores["kid_mean"])
    assert fids == sorted(fids) and len(set(fids)) == len(fids), fids
    assert kids == sorted(kids) and len(set(kids)) == len(kids), kids
    assert fids[1] > 100 * abs(fids[0]) and kids[1] > 10 * abs(kids[0])


@needs_torchmetrics
def test_the_generator_translates_the_source_in_eval_mode_and_direction_picks_it() -> None:
    x, y = images(24, seed=1), images(24, seed=2)

    class Shift(nn.Module):
        def __init__(self, by: float) -> None:
            super().__init__()
            self.by = by
            self.dropout = nn.Dropout(0.5)  # eval mode: the identity
            self.train()

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.dropout(t + self.by).clamp(-1, 1)
            return out

    target = (x + 0.3).clamp(-1, 1)
    to_target = Shift(0.3)
    scores = evaluate_fid_kid(to_target, x, target, feature_extractor=TinyFeatures())
    assert scores["fid"] == pytest.approx(0.0, abs=1e-9)
    assert to_target.training and to_target.dropout.training  # modes given back
    # y2x translates data_y and compares with data_x.
    back = evaluate_fid_kid(
        Shift(-0.3), x, target, direction="y2x", feature_extractor=TinyFeatures()
    )
    wrong = evaluate_fid_kid(Shift(-0.3), x, target, feature_extractor=TinyFeatures())
    assert back["fid"] < wrong["fid"]
    del y


@needs_torchmetrics
def test_kid_subsets_repeat_with_a_seed_and_leave_the_global_rng_alone() -> None:
    x, y = images(40, seed=1), images(40, seed=2)
    before = torch.get_rng_state()
    runs = [
        evaluate_fid_kid(
            nn.Identity(), x, y, feature_extractor=TinyFeatures(), kid_subset_size=10, seed=seed
        )
        for seed in (3, 3, 4)
    ]
    assert torch.equal(torch.get_rng_state(), before)
    assert runs[0] == runs[1]
    assert runs[0]["kid_mean"] != runs[2]["kid_mean"]
    assert runs[0]["fid"] == runs[2]["fid"]  # FID uses every image
    assert runs[0]["kid_subset_size"] == 10


@needs_torchmetrics
def test_every_kind_of_source_gives_the_same_scores(tmp_path: Path) -> None:
    x, y = images(12, seed=1), images(10, seed=2)
    extractor = TinyFeatures()
    reference = evaluate_fid_kid(nn.Identity(), x, y, feature_extractor=extractor, batch_size=5)
    assert extractor.inputs[0].dtype == torch.float32  # a custom extractor gets [0, 1] floats
    assert 0.0 <= float(extractor.inputs[0].min()) and float(extractor.inputs[0].max()) <= 1.0
    pairs = TensorDataset(x[:10], y)  # (x, y) items: data_x takes x, data_y takes y
    sources: list[tuple[Any, Any]] = [
        (TensorDataset(x), TensorDataset(y)),  # 1-tuples
        (list(torch.split(x, 4)), list(torch.split(y, 3))),  # an iterable of batches
        (DataLoader(TensorDataset(x), batch_size=5), DataLoader(TensorDataset(y), batch_size=4)),
        (x, DataLoader(pairs, batch_size=3)),
    ]
    for data_x, data_y in sources:
        scores = evaluate_fid_kid(nn.Identity(), data_x, data_y, feature_extractor=TinyFeatures())
        assert scores == pytest.approx(reference)
    paired = evaluate_fid_kid(nn.Identity(), pairs, pairs, feature_extractor=TinyFeatures())
    assert paired["n_translated"] == paired["n_real"] == 10


@needs_torchmetrics
def test_folders_and_unpaired_datasets_read_each_file_once(tmp_path: Path) -> None:
    for name, n, seed in (("testA", 6, 1), ("testB", 4, 2)):
        folder = tmp_path / name
        folder.mkdir()
        for i, image in enumerate(to_extractor_input(images(n, size=20, seed=seed))):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:02d}.png")
    dataset = UnpairedImageDataset.from_root(tmp_path, "test", size=16)
    assert len(dataset) == 6  # the dataset repeats testB; the metric must not
    from_folders = evaluate_fid_kid(
        nn.Identity(),
        tmp_path / "testA",
        str(tmp_path / "testB"),
        feature_extractor=TinyFeatures(),
        image_size=16,
    )
    from_dataset = evaluate_fid_kid(
        nn.Identity(), dataset, dataset, feature_extractor=TinyFeatures()
    )
    assert (from_folders["n_translated"], from_folders["n_real"]) == (6, 4)
    assert from_dataset == pytest.approx(from_folders)
    training = UnpairedImageDataset.from_root(tmp_path, "test", size=16, train=True)
    assert evaluate_fid_kid(  # random crops and flips are not used: the test transform is
        nn.Identity(), training, training, feature_extractor=TinyFeatures()
    ) == pytest.approx(from_folders)


@needs_torchmetrics
def test_errors_say_what_is_wrong(tmp_path: Path) -> None:
    x = images(8)
    tiny = TinyFeatures()
    with pytest.raises(
        ValueError,
        match=r"data_y must hold images with values in \[-1, 1\].*got values in \[0.02\d*, 255\]",
    ):
        evaluate_fid_kid(nn.Identity(), x, (x + 1) * 127.5, feature_extractor=tiny)
    with pytest.raises(
        ValueError, match="at least 2 images in each set; got 8 translated and 1 real"
    ):
        evaluate_fid_kid(nn.Identity(), x, x[:1], feature_extractor=tiny)
    with pytest.raises(ValueError, match="not both"):
        evaluate_fid_kid(nn.Identity(), x, x, feature_extractor=tiny, weights_path="w.pth")
    with pytest.raises(ValueError, match="direction must be one of 'x2y', 'y2x'; got 'xy'"):
        evaluate_fid_kid(nn.Identity(), x, x, feature_extractor=tiny, direction="xy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kid_subset_size must be an int >= 2"):
        evaluate_fid_kid(nn.Identity(), x, x, feature_extractor=tiny, kid_subset_size=1)
    with pytest.raises(ShapeError, match=r"\(N, D\) with N = 8"):
        evaluate_fid_kid(nn.Identity(), x, x, feature_extractor=nn.Identity())
    with pytest.raises(ShapeError, match="generator must return images of its input's shape"):
        evaluate_fid_kid(nn.AvgPool2d(2), x, x, feature_extractor=tiny)
    with pytest.raises(TypeError, match="must yield image tensors or \\(x, y\\) pairs"):
        evaluate_fid_kid(nn.Identity(), [{"x": x}], x, feature_extractor=tiny)
    with pytest.raises(TypeError, match="data_y must be an image tensor"):
        evaluate_fid_kid(nn.Identity(), x, 3, feature_extractor=tiny)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="data_x folder not found"):
        evaluate_fid_kid(nn.Identity(), tmp_path / "nothing", x, feature_extractor=tiny)


# ------------------------------------------------------------- the real Inception architecture
@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file with the FID Inception's keys and shapes (random values; no download)."""
    pytest.importorskip("torchmetrics")
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["64"])
    path = tmp_path_factory.mktemp("inception") / FID_WEIGHTS_FILE
    torch.save(net.state_dict(), path)
    return path


def test_inception_takes_uint8_at_native_size_and_resizes_to_299(
    random_inception_weights: Path, no_network: list[Any], no_weights: Path
) -> None:
    extractor = inception_feature_extractor(random_inception_weights, features=64)
    assert extractor.input_dtype == torch.uint8
    assert not extractor.training
    assert all(not p.requires_grad for p in extractor.parameters())
    seen: dict[str, Any] = {}

    def spy(key: str) -> Any:
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            seen.setdefault(key, args[0])

        return hook

    extractor.register_forward_pre_hook(spy("input"))
    inception = extractor.inception
    assert isinstance(inception, nn.Module)
    first_conv = inception.Conv2d_1a_3x3
    assert isinstance(first_conv, nn.Module)
    first_conv.register_forward_pre_hook(spy("resized"))
    x = images(6, size=24)
    scores = evaluate_fid_kid(nn.Identity(), x, x.flip(0), feature_extractor=extractor)
    assert seen["input"].dtype == torch.uint8 and seen["input"].shape[1:] == (3, 24, 24)
    assert seen["resized"].shape[1:] == (3, 299, 299)
    assert scores["fid"] == pytest.approx(0.0, abs=1e-6)  # the same images in another order
    # By path, by the environment variable and from torch's cache: all offline.
    by_path = evaluate_fid_kid(
        nn.Identity(), x, (x * 0.5), weights_path=random_inception_weights, inception_features=64
    )
    no_weights.parent.mkdir(parents=True)
    no_weights.symlink_to(random_inception_weights)
    from_cache = evaluate_fid_kid(nn.Identity(), x, (x * 0.5), inception_features=64)
    assert by_path == from_cache and by_path["fid"] > 0
    assert no_network == []


def test_a_wrong_weights_file_is_refused(
    random_inception_weights: Path, tmp_path: Path, no_network: list[Any]
) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(
        ValueError, match=f"does not hold the FID Inception weights {FID_WEIGHTS_FILE}"
    ):
        inception_feature_extractor(wrong, features=64)
    not_tensors = tmp_path / "pickle.pth"
    torch.save({"weights": [1, 2, 3]}, not_tensors)
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        inception_feature_extractor(not_tensors, features=64)
    garbage = tmp_path / "page.html"
    garbage.write_text("<html>not found</html>")
    with pytest.raises(ValueError, match="cannot read the FID Inception weights"):
        inception_feature_extractor(garbage, features=64)
    with pytest.raises(ValueError, match="features must be one of 64, 192, 768, 2048; got 100"):
        inception_feature_extractor(random_inception_weights, features=100)
    assert no_network == []


# ----------------------------------------------- the paired SSIM / PSNR against torchmetrics
def test_paired_ssim_and_psnr_match_torchmetrics() -> None:
    pytest.importorskip("torchmetrics")
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    g = torch.Generator().manual_seed(0)
    target = torch.rand(4, 3, 32, 40, generator=g, dtype=torch.float64)
    noisy = (target + 0.1 * torch.randn(target.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    smooth = nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    for pred in (noisy, smooth, 1 - target):
        expected = peak_signal_noise_ratio(
            pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3)
        )
        assert torch.allclose(psnr(pred, target).double(), expected, atol=1e-4)
        # torchmetrics pads by reflection and averages the whole map; the windows that lie
        # inside the image (5 pixels from the border for an 11x11 window) are the ones our
        # ssim (like the original formulation) averages.
        _, full = structural_similarity_index_measure(
            pred, target, data_range=1.0, reduction="none", return_full_image=True
        )
        inside = full[..., 5:-5, 5:-5].flatten(1).mean(1)
        assert torch.allclose(ssim(pred, target).double(), inside, atol=1e-5)
