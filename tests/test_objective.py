"""The trainer's loss terms, recomputed independently from the networks' outputs.

Each term is rebuilt here from a copy of the networks taken before the step, with the loss
formulas written out (not the library's loss functions), for random loss weights. A dropped
``0.5`` in the discriminator loss, ``lambda_identity`` used in place of
``lambda_identity * lambda_cycle``, or the two image pools swapped fails these tests.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _tiny import tiny_model
from unpaired_i2i import LOSS_KEYS, CycleGAN, CycleTrainer, TrainConfig
from unpaired_i2i.training.objective import CycleObjective

SIZE = 8


def _adv(pred: torch.Tensor, real: bool, mode: str, *, for_d: bool) -> torch.Tensor:
    pred = pred.double()
    if mode == "lsgan":
        return ((pred - (1.0 if real else 0.0)) ** 2).mean()
    if mode == "vanilla":
        target = torch.full_like(pred, 1.0 if real else 0.0)
        return F.binary_cross_entropy_with_logits(pred, target)
    if not for_d:
        return -pred.mean()
    return (torch.clamp(1 - pred, min=0) if real else torch.clamp(1 + pred, min=0)).mean()


def _ra(pred: torch.Tensor, other: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """Relativistic average form: ``pred`` shifted by the other batch's mean score."""
    d = pred.double() - other.double().mean()
    if mode == "lsgan":
        return ((d - (1.0 if real else -1.0)) ** 2).mean()
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(d, torch.full_like(d, 1.0 if real else 0.0))
    return (torch.clamp(1 - d, min=0) if real else torch.clamp(1 + d, min=0)).mean()


def _r1(disc: torch.nn.Module, real: torch.Tensor) -> torch.Tensor:
    """Mean over images of the squared gradient norm of the image's mean patch score."""
    total = torch.zeros((), dtype=torch.float64)
    for image in real:
        leaf = image[None].clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(disc(leaf).mean(), leaf)
        total = total + grad.double().square().sum()
    return total / len(real)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() - b.double()).abs().mean()


def _trainer(config: TrainConfig, seed: int) -> CycleTrainer:
    return CycleTrainer(tiny_model(seed), config, device="cpu")


def _expected(
    model: CycleGAN,
    pool_x: object,
    pool_y: object,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
) -> dict[str, float]:
    g, f, d_x, d_y = model.g_xy, model.g_yx, model.d_x, model.d_y
    with torch.no_grad():
        fake_y, fake_x = g(x), f(y)
        rec_x, rec_y = f(fake_y), g(fake_x)
        lc, li = cfg.lambda_cycle, cfg.lambda_identity
        if cfg.relativistic:
            adv_xy = _ra(d_y(fake_y), d_y(y), True, cfg.gan_mode)
            adv_xy = adv_xy + _ra(d_y(y), d_y(fake_y), False, cfg.gan_mode)
            adv_yx = _ra(d_x(fake_x), d_x(x), True, cfg.gan_mode)
            adv_yx = adv_yx + _ra(d_x(x), d_x(fake_x), False, cfg.gan_mode)
        else:
            adv_xy = _adv(d_y(fake_y), True, cfg.gan_mode, for_d=False)
            adv_yx = _adv(d_x(fake_x), True, cfg.gan_mode, for_d=False)
        out = {
            "g_adv_xy": adv_xy,
            "g_adv_yx": adv_yx,
            "cycle_x": lc * _l1(rec_x, x),
            "cycle_y": lc * _l1(rec_y, y),
            "identity_x": li * lc * _l1(f(x), x) if li else torch.zeros((), dtype=torch.float64),
            "identity_y": li * lc * _l1(g(y), y) if li else torch.zeros((), dtype=torch.float64),
        }
        out["g_total"] = sum(out.values(), torch.zeros((), dtype=torch.float64))
        # The discriminators see pool_y's answer for fake_y and pool_x's for fake_x.
        shown_y = pool_y.query(fake_y)  # type: ignore[attr-defined]
        shown_x = pool_x.query(fake_x)  # type: ignore[attr-defined]
        for key, disc, real, fake in (("d_x", d_x, x, shown_x), ("d_y", d_y, y, shown_y)):
            if cfg.relativistic:
                terms = _ra(disc(real), disc(fake), True, cfg.gan_mode) + _ra(
                    disc(fake), disc(real), False, cfg.gan_mode
                )
            else:
                terms = _adv(disc(real), True, cfg.gan_mode, for_d=True) + _adv(
                    disc(fake), False, cfg.gan_mode, for_d=True
                )
            out[key] = 0.5 * terms
            if cfg.r1_gamma:
                out[key] = out[key] + 0.5 * cfg.r1_gamma * _r1(disc, real)
    return {k: float(v) for k, v in out.items()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lambda_cycle=st.floats(0.5, 20.0),
    lambda_identity=st.sampled_from([0.0, 0.3, 0.5, 2.0]),
    gan_mode=st.sampled_from(["lsgan", "vanilla", "hinge"]),
    relativistic=st.booleans(),
    r1_gamma=st.sampled_from([0.0, 0.5, 10.0]),
    seed=st.integers(0, 2**16),
)
def test_train_step_losses_match_an_independent_computation(
    lambda_cycle: float,
    lambda_identity: float,
    gan_mode: str,
    relativistic: bool,
    r1_gamma: float,
    seed: int,
) -> None:
    cfg = TrainConfig(
        lambda_cycle=lambda_cycle,
        lambda_identity=lambda_identity,
        gan_mode=gan_mode,  # type: ignore[arg-type]
        relativistic=relativistic,
        r1_gamma=r1_gamma,
        pool_size=2,
        seed=seed,
    )
    trainer = _trainer(cfg, seed)
    gen = torch.Generator().manual_seed(seed)
    # Fill the two pools with different images, so that asking the wrong pool shows d_x and
    # d_y other images than the right one would (the full pools then answer at random).
    trainer.pool_x.query(torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1)
    trainer.pool_y.query(torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1)
    x = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    y = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    before = copy.deepcopy(trainer.model)
    pools = copy.deepcopy((trainer.pool_x, trainer.pool_y))

    losses = trainer.train_step(x, y)

    assert list(losses) == list(LOSS_KEYS)
    expected = _expected(before, *pools, x, y, cfg)
    for key in LOSS_KEYS:
        assert float(losses[key]) == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_the_swapped_pool_check_can_fail() -> None:
    """The test above tells the pools apart: swapping them changes the expected D losses."""
    cfg = TrainConfig(pool_size=2, seed=1)
    trainer = _trainer(cfg, 1)
    gen = torch.Generator().manual_seed(1)
    trainer.pool_x.query(torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1)
    trainer.pool_y.query(torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1)
    x = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    y = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    right = _expected(trainer.model, *copy.deepcopy((trainer.pool_x, trainer.pool_y)), x, y, cfg)
    swapped = _expected(trainer.model, *copy.deepcopy((trainer.pool_y, trainer.pool_x)), x, y, cfg)
    assert right["d_x"] != pytest.approx(swapped["d_x"], rel=1e-5)


def test_trainer_is_built_from_the_objective() -> None:
    assert issubclass(CycleTrainer, CycleObjective)
    for name in ("generator_forward", "compute_generator_loss", "compute_discriminator_loss"):
        assert getattr(CycleTrainer, name) is getattr(CycleObjective, name)


@pytest.mark.parametrize("lambda_identity", [0.0, 0.5])  # separate and batched generator calls
def test_cycle_noise_perturbs_only_the_backward_translation(lambda_identity: float) -> None:
    std = 0.3
    cfg = TrainConfig(cycle_noise=std, lambda_identity=lambda_identity, pool_size=0, seed=3)
    trainer = _trainer(cfg, 3)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    y = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    torch.manual_seed(5)
    with torch.no_grad():
        out = trainer.generator_forward(x, y)
    torch.manual_seed(5)
    noise_y, noise_x = torch.randn(x.shape), torch.randn(y.shape)
    g, f = trainer.model.g_xy, trainer.model.g_yx
    with torch.no_grad():
        fake_y, fake_x = g(x), f(y)
        assert torch.allclose(out["fake_y"], fake_y, atol=1e-6)  # the adversarial input is clean
        assert torch.allclose(out["fake_x"], fake_x, atol=1e-6)
        assert torch.allclose(out["rec_x"], f(fake_y + std * noise_y), atol=1e-6)
        assert torch.allclose(out["rec_y"], g(fake_x + std * noise_x), atol=1e-6)
        assert not torch.allclose(out["rec_x"], f(fake_y), atol=1e-3)


def test_no_cycle_noise_draws_no_random_numbers() -> None:
    trainer = _trainer(TrainConfig(pool_size=0), 0)
    x, y = torch.rand(1, 3, SIZE, SIZE), torch.rand(1, 3, SIZE, SIZE)
    state = torch.get_rng_state()
    with torch.no_grad():
        trainer.generator_forward(x, y)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "0.1"])
def test_cycle_noise_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="cycle_noise"):
        TrainConfig(cycle_noise=bad)  # type: ignore[arg-type]


def test_r1_and_relativistic_change_the_discriminator_update_not_the_batch() -> None:
    x, y = (
        torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(s)) for s in (1, 2)
    )
    after = {}
    for name, cfg in {
        "plain": TrainConfig(pool_size=0),
        "r1": TrainConfig(pool_size=0, r1_gamma=10.0),
        "relativistic": TrainConfig(pool_size=0, relativistic=True),
    }.items():
        trainer = _trainer(cfg, 0)
        trainer.train_step(x, y)
        after[name] = trainer.model.state_dict()
        assert not x.requires_grad and not y.requires_grad  # the caller's batch is untouched
    d_keys = [k for k in after["plain"] if k.startswith("d_")]
    g_keys = [k for k in after["plain"] if k.startswith("g_")]
    # R1 changes only the discriminators' update (the generators step first, unchanged)...
    assert all(torch.equal(after["r1"][k], after["plain"][k]) for k in g_keys)
    assert any(not torch.equal(after["r1"][k], after["plain"][k]) for k in d_keys)
    # ... the relativistic loss changes both.
    assert any(not torch.equal(after["relativistic"][k], after["plain"][k]) for k in g_keys)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"r1_gamma": -1.0}, "r1_gamma"),
        ({"r1_gamma": float("inf")}, "r1_gamma"),
        ({"relativistic": 1}, "relativistic"),
    ],
)
def test_r1_and_relativistic_options_are_validated(fields: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainConfig(**fields)  # type: ignore[arg-type]


def test_r1_under_float16_autocast_is_the_float32_penalty() -> None:
    # A float16 gradient of the scores with respect to the images underflows: with
    # amp="fp16" the penalty comes from a float32 call of the same discriminator.
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    fake = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1
    losses = {}
    for gamma in (0.0, 10.0):
        trainer = CycleTrainer(tiny_model(0), TrainConfig(amp="fp16", r1_gamma=gamma, pool_size=0))
        with trainer._autocast():
            loss = trainer.compute_discriminator_loss(trainer.model.d_x, real, fake)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        losses[gamma] = float(loss.detach())
    penalty = float(_r1(tiny_model(0).d_x, real))  # float32 weights, no autocast
    assert penalty > 0
    assert losses[10.0] - losses[0.0] == pytest.approx(5.0 * penalty, rel=1e-4)
    # ... and a whole step trains to finite losses
    step = trainer.train_step(real, fake)
    assert all(torch.isfinite(v) for v in step.values())
