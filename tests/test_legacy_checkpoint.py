"""A checkpoint written by an earlier release (format version 1) still loads and resumes.

``tests/data/legacy_v1.pt`` was written by ``tests/data/make_legacy_checkpoint.py`` at commit
77505d1, before the training package was reshaped; ``legacy_v1.json`` holds the weights' sizes
at the save and after the run was finished from it by that same release.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from unpaired_i2i import EMA, CycleTrainer, load_checkpoint_file, load_cyclegan
from unpaired_i2i.training.checkpoint import FORMAT_VERSION

DATA = Path(__file__).parent / "data"


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "legacy_maker", DATA / "make_legacy_checkpoint.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_version_is_unchanged() -> None:
    checkpoint = load_checkpoint_file(DATA / "legacy_v1.pt")
    assert FORMAT_VERSION == 1 == checkpoint["meta"]["format_version"]


def test_legacy_checkpoint_resumes_to_the_numbers_it_was_written_with() -> None:
    maker = _maker()
    expected = json.loads((DATA / "legacy_v1.json").read_text())
    trainer = CycleTrainer(maker.make_model(), maker.CONFIG, callbacks=[EMA(0.9)], device="cpu")
    trainer.load_checkpoint(DATA / "legacy_v1.pt")
    assert trainer.state.step == expected["saved_step"]
    assert maker.weight_sums(trainer.model) == expected["saved_weight_abs_sums"]
    saved = load_checkpoint_file(DATA / "legacy_v1.pt")
    for pool in ("pool_x", "pool_y"):  # the image history is restored as written
        restored = getattr(trainer, pool).state_dict()["images"]
        assert len(restored) == len(saved[pool]["images"]) > 0
        assert all(torch.equal(a, b) for a, b in zip(restored, saved[pool]["images"], strict=True))
    trainer.fit(maker.make_batches())
    assert trainer.state.step == expected["final_step"]
    assert trainer.callbacks[0].n_averaged == expected["final_ema_n_averaged"]  # type: ignore[attr-defined]
    for name, value in maker.weight_sums(trainer.model).items():
        # Same math; the step now batches calls that share weights and uses fused Adam,
        # which round differently (measured: up to 5.5e-5 relative after the remaining steps,
        # while the old path with 2 threads still reproduces the numbers exactly). A resume
        # that lost any part of the state is off by far more.
        assert value == pytest.approx(expected["final_weight_abs_sums"][name], rel=1e-4), name


def test_legacy_checkpoint_loads_as_a_model() -> None:
    model = load_cyclegan(DATA / "legacy_v1.pt", use_ema=True)
    assert model.g_xy(torch.zeros(1, 3, 8, 8)).shape == (1, 3, 8, 8)
