"""Per-step wall time of recipe candidates, alternated in one process (``recipes.py time``).

Each candidate's trainer is built as ``recipes.py run`` builds it (torch seeded with 0 first)
and steps on two fixed random batches; the candidates take turns, ``block`` steps at a time, for
``repeats`` rounds after ``warmup`` steps each, so a slow spell of the machine falls on all of
them. The median block time of each is reported as a ratio to the first candidate's and
appended to ``OUT/timing.jsonl``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recipe_candidates import BATCH_SIZES, candidates, trainer_class

__all__ = ["time_candidates"]


def time_candidates(
    names: Sequence[str],
    *,
    overrides: Mapping[str, Any],
    size: int,
    threads: int,
    warmup: int,
    repeats: int,
    block: int,
    out: Path,
    record: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Time each candidate's training step, alternated, and append the figures to a record.

    Args:
        names: Candidate names (``recipe_candidates.candidates()``); ratios are to the first.
        overrides: Model overrides every candidate is built with (``n_blocks``, width).
        size: Side of the square random training images, in pixels.
        threads: ``torch.set_num_threads`` for the whole process.
        warmup: Untimed steps per candidate first (allocator, EMA copies, image pools).
        repeats: Timed rounds; each round times one block of every candidate in turn.
        block: Steps per timed block.
        out: Folder of ``timing.jsonl`` (created if missing).
        record: Extra fields for the JSON record (the command's settings).

    Returns:
        Per candidate: ``median_s``, ``min_s``, ``max_s`` (seconds per step over the blocks)
        and ``ratio_to_first`` (median over the first candidate's median).
    """
    import torch

    from unpaired_i2i.bench import machine_info

    if not names:
        raise ValueError("time_candidates: expected at least one candidate name; got none")
    if repeats < 1 or block < 1 or warmup < 0:
        raise ValueError(
            f"time_candidates: expected repeats >= 1, block >= 1, warmup >= 0; got "
            f"repeats={repeats}, block={block}, warmup={warmup}"
        )
    torch.set_num_threads(threads)
    builders = candidates()
    trainers = {}
    for name in names:
        torch.manual_seed(0)
        spec = builders[name](0, dict(overrides))
        trainers[name] = trainer_class(name)(spec.model, spec.config, callbacks=spec.callbacks)
    gen = torch.Generator().manual_seed(0)
    batches = {
        name: [
            torch.rand(BATCH_SIZES.get(name, 1), 3, size, size, generator=gen) * 2 - 1
            for _ in range(2)
        ]
        for name in names
    }

    def steps(name: str, n: int) -> float:
        trainer, batch = trainers[name], batches[name]
        t0 = time.perf_counter()
        for _ in range(n):
            trainer.state.step += 1  # the callbacks' step counter, as fit advances it
            losses = trainer.train_step(*batch)
            for cb in trainer.callbacks:
                cb.on_step_end(trainer, batch, losses)
        return (time.perf_counter() - t0) / n

    for name, trainer in trainers.items():  # warm-up: allocator, EMA copies, pools
        for cb in trainer.callbacks:
            cb.on_fit_start(trainer)
        if warmup:
            steps(name, warmup)
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(repeats):
        for name in trainers:
            times[name].append(steps(name, block))
    base = statistics.median(times[names[0]])
    result = {
        name: {
            "median_s": statistics.median(t),
            "min_s": min(t),
            "max_s": max(t),
            "ratio_to_first": statistics.median(t) / base,
        }
        for name, t in times.items()
    }
    for name, r in result.items():
        print(
            f"{name:>20}: {r['median_s'] * 1000:7.1f} ms/step median "
            f"(min {r['min_s'] * 1000:.1f}, max {r['max_s'] * 1000:.1f}), "
            f"x{r['ratio_to_first']:.3f} of {names[0]}",
            flush=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    line = {
        "size": size,
        **(record or {}),
        "threads": threads,
        "repeats": repeats,
        "block": block,
        "machine": machine_info("cpu"),
        "results": result,
    }
    with open(out / "timing.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
    return result
