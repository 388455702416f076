"""Write ``legacy_v1.pt``: a tiny checkpoint from the library as it was before the training
package was reshaped (format version 1, commit 77505d1), with the figures a resumed run must
reproduce. Kept so the fixture can be inspected; rerunning it overwrites the fixture with the
current library's output, which defeats its purpose.

    python tests/data/make_legacy_checkpoint.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from unpaired_i2i import EMA, CycleGAN, CycleTrainer, TrainConfig

HERE = Path(__file__).parent
SIZE = 8


def make_model() -> CycleGAN:
    torch.manual_seed(0)
    return CycleGAN.from_preset(
        "cyclegan",
        base_channels=4,
        n_blocks=1,
        discriminator_overrides={"base_channels": 4, "n_layers": 1},
    )


def make_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1,
            torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1,
        )
        for _ in range(3)
    ]


CONFIG = TrainConfig(epochs=1, decay_epochs=1, pool_size=3, log_every=1, lr=1e-3, seed=5)


def weight_sums(model: CycleGAN) -> dict[str, float]:
    return {
        name: float(sum(p.detach().double().abs().sum() for p in getattr(model, name).parameters()))
        for name in ("g_xy", "g_yx", "d_x", "d_y")
    }


if __name__ == "__main__":
    data = make_batches()
    trainer = CycleTrainer(make_model(), CONFIG, callbacks=[EMA(0.9)], device="cpu")
    # Stop mid-epoch after 4 of 6 steps, as a killed run would.
    trainer.fit(data, max_steps=4)
    trainer.save_checkpoint(HERE / "legacy_v1.pt")
    saved = weight_sums(trainer.model)
    trainer.fit(data)
    expected = {
        "saved_step": 4,
        "saved_weight_abs_sums": saved,
        "final_step": trainer.state.step,
        "final_weight_abs_sums": weight_sums(trainer.model),
        "final_ema_n_averaged": trainer.callbacks[0].n_averaged,  # type: ignore[attr-defined]
    }
    (HERE / "legacy_v1.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(json.dumps(expected, indent=2))
