"""Tests for ProgressBar: the tqdm bar on a terminal (total, postfix, width), plain progress lines
off a terminal (steps, values, clock-driven lines with an injected clock), options."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import torch
from tqdm import tqdm

from _tiny import Crash, random_batches, tiny_model
from unpaired_i2i import Callback, CycleGAN, CycleTrainer, ProgressBar, TrainConfig

SIZE = 16
BATCH = 2
# 3 batches per epoch, 1 constant + 2 decay epochs = 9 steps.
CONFIG = TrainConfig(epochs=1, decay_epochs=2, pool_size=3, log_every=1, lr=1e-3)


def make_model(seed: int = 0) -> CycleGAN:
    return tiny_model(seed)


def make_batches(n: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return random_batches(n, size=SIZE, batch_size=BATCH, seed=seed)


def make_trainer(callbacks: list[Callback], config: TrainConfig = CONFIG) -> CycleTrainer:
    return CycleTrainer(make_model(), config, callbacks=callbacks, device="cpu")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class TotalSpy(Callback):
    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar
        self.totals: list[Any] = []

    def on_fit_start(self, trainer: CycleTrainer) -> None:
        self.totals.append((self.bar.bar.total, self.bar.bar.n))


class Clock:
    """A fake clock for the plain lines: one second per training step (ticked by a callback)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tick(Callback):
    """Listed before the bar: advances the clock by one second at every step, records losses."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.losses: dict[int, dict[str, float]] = {}

    def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
        self.clock.now += 1.0
        self.losses[trainer.state.step] = dict(trainer.state.last_losses)


def plain_bar(**kwargs: Any) -> tuple[ProgressBar, io.StringIO, Tick]:
    out = io.StringIO()
    bar = ProgressBar(file=out, **kwargs)
    clock = Clock()
    bar._clock = clock
    return bar, out, Tick(clock)


def expected_line(step: int, epoch: int, rate: str, eta: str, losses: dict[str, float]) -> str:
    values = " ".join(
        f"{k} {losses[k]:.3g}" for k in ("g_total", "cycle_x", "cycle_y", "d_x", "d_y")
    )
    return f"epoch {epoch}/3 step {step}/9 ({100 * step / 9:.1f}%) {rate} img/s {values} eta {eta}"


# ------------------------------------------------------------------------- bar on a terminal
def test_progress_bar_counts_steps_shows_losses_and_closes() -> None:
    out = io.StringIO()
    bar = ProgressBar(file=out, disable=False)  # forced on, although not a terminal
    spy = TotalSpy(bar)
    trainer = make_trainer(
        [bar, spy], TrainConfig(epochs=1, decay_epochs=1, pool_size=2, log_every=2)
    )
    trainer.fit(make_batches(), max_steps=4)
    trainer.fit(make_batches())  # continues at step 4 of 6
    assert spy.totals == [(4, 0), (6, 4)]
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "6/6" in text
    assert "g_total=" in text and "d_y=" in text and "img/s=" in text
    assert "g_adv_xy" not in text and "cycle_x" not in text  # only the bar keys
    assert bar.bar is None  # closed


def test_progress_bar_on_a_terminal_draws_the_bar_with_a_short_postfix() -> None:
    out = Terminal()
    bar = ProgressBar(file=out)

    class Postfix(Callback):  # listed after the bar: reads what it shows
        def on_step_end(self, trainer: CycleTrainer, batch: Any, losses: Any) -> None:
            self.postfix = str(bar.bar.postfix)
            self.format = dict(bar.bar.format_dict)
            self.losses = dict(trainer.state.last_losses)

    spy = Postfix()
    make_trainer([bar, spy]).fit(make_batches())
    assert "9/9" in out.getvalue()
    assert re.fullmatch(
        r"g_total=[\d.e+-]+, d_x=[\d.e+-]+, d_y=[\d.e+-]+, img/s=[\d.e+]+", spy.postfix
    )
    shown = dict(item.split("=") for item in spy.postfix.split(", "))
    for key in ("g_total", "d_x", "d_y"):  # 3 significant digits
        assert shown[key] == f"{spy.losses[key]:.3g}"
        assert float(shown[key]) == pytest.approx(spy.losses[key], rel=5e-3)
    assert len(spy.postfix) <= 48
    # A long run in a 120-column terminal: the whole line fits and the bar keeps its room.
    line = tqdm.format_meter(
        **{
            **spy.format,
            "n": 123_456,
            "total": 240_000,
            "elapsed": 5 * 3600.0 + 17,
            "ncols": 120,
            "prefix": "epoch 100/200",
        }
    )
    assert len(line) <= 120 and line.endswith(spy.postfix + "]")
    drawn = re.search(r"%\|(.*?)\| ", line)
    assert drawn is not None and len(drawn.group(1)) >= 15


class NoLen:
    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def __iter__(self) -> Any:
        return iter(self.batches)


def test_progress_bar_total_without_len_and_on_exception() -> None:
    bar = ProgressBar(disable=True)
    spy = TotalSpy(bar)
    trainer = make_trainer([bar, spy, Crash(2)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer.fit(NoLen(make_batches()))
    assert bar.bar is None
    trainer.state.max_steps = None
    assert ProgressBar.total_steps(trainer) is None
    trainer.state.max_steps = 7
    assert ProgressBar.total_steps(trainer) == 7
    trainer._data = make_batches()  # 3 per epoch, epoch 0 of 3: 9 steps in all
    assert ProgressBar.total_steps(trainer) == 7
    trainer.state.max_steps = None
    assert ProgressBar.total_steps(trainer) == 9


def test_progress_bar_disabled_writes_nothing() -> None:
    out = Terminal()
    make_trainer([ProgressBar(file=out, disable=True, every_n_steps=1)]).fit(make_batches())
    assert out.getvalue() == ""


# ---------------------------------------------------------------------- plain lines elsewhere
def test_progress_bar_off_a_terminal_writes_plain_lines_every_n_steps() -> None:
    bar, out, tick = plain_bar(every_n_steps=4, every_n_seconds=None)
    trainer = make_trainer([tick, bar])
    trainer.fit(make_batches())  # steps 1..9, one second each
    assert bar.bar is None  # no tqdm bar in a log file
    losses = tick.losses
    # 4 x and 4 y images a second; eta: the remaining steps at 1 step per second
    assert out.getvalue().splitlines() == [
        expected_line(4, 2, "4", "0:00:05", losses[4]),
        expected_line(8, 3, "4", "0:00:01", losses[8]),
        expected_line(9, 3, "4", "0:00:00", losses[9]),  # the last one, when fit ends
    ]


def test_progress_bar_off_a_terminal_writes_plain_lines_every_n_seconds() -> None:
    bar, out, tick = plain_bar(every_n_seconds=2.5)
    trainer = make_trainer([tick, bar])
    trainer.fit(make_batches(), max_steps=4)
    trainer.fit(make_batches())  # a second fit: its own clock and counts, from step 4
    lines = out.getvalue().splitlines()
    steps = [int(re.search(r" step (\d+)/", line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert steps == [3, 4, 7, 9]  # 3 s passed at steps 3 and 7 (and 4 and 9 end a fit)
    assert lines[0].startswith("epoch 1/3 step 3/4 (75.0%) 4 img/s g_total ")
    assert lines[2].startswith("epoch 3/3 step 7/9 (77.8%) 4 img/s g_total ")
    assert lines[2].endswith(" eta 0:00:02")
    assert all(
        f"d_y {tick.losses[s]['d_y']:.3g} " in line for s, line in zip(steps, lines, strict=True)
    )


def test_progress_bar_plain_lines_keys_and_unknown_total() -> None:
    bar, out, tick = plain_bar(every_n_steps=2, keys=["d_x", "missing"])
    make_trainer([tick, bar]).fit(NoLen(make_batches(2)))  # no len: total unknown
    lines = out.getvalue().splitlines()
    assert [line.split(" d_x ")[0] for line in lines] == [
        "epoch 1/3 step 2 4 img/s",
        "epoch 2/3 step 4 4 img/s",
        "epoch 3/3 step 6 4 img/s",
    ]
    assert all("missing" not in line and "eta" not in line for line in lines)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"leave": 1}, r"ProgressBar leave must be a bool; got 1"),
        ({"disable": "no"}, r"ProgressBar disable must be a bool; got 'no'"),
        ({"keys": "g_total"}, r"ProgressBar keys must be a non-empty sequence"),
        ({"bar_keys": []}, r"ProgressBar bar_keys must be a non-empty sequence"),
        ({"every_n_steps": 0}, r"ProgressBar every_n_steps must be None or an int >= 1; got 0"),
        (
            {"every_n_seconds": 0},
            r"ProgressBar every_n_seconds must be None or a finite float > 0; got 0",
        ),
        (
            {"every_n_seconds": float("inf")},
            r"ProgressBar every_n_seconds must be None or a finite float > 0; got inf",
        ),
    ],
)
def test_progress_bar_validation(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        ProgressBar(**kwargs)
