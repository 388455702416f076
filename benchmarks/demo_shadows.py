"""The README's demo run (``unpaired-i2i train --demo``), scored with several EMA averages.

Runs the demo exactly as the command line does (same data, seed, schedule and recipe) with
extra EMA callbacks that only read the generators' weights (they draw no random numbers and
change nothing in the training), then scores each one's X-to-Y generator on the demo's paired
test scenes, next to the demo's own figure. So the averages compare on one and the same
trajectory. ``--set KEY=VALUE`` changes the improved recipe for the run (e.g.
``--set zero_init_output=true``), the way ``recipe("improved", KEY=VALUE)`` would;
``--prototype NAME`` trains with a prototype's trainer from ``recipe_candidates.py``
(``PROTOTYPE_TRAINERS``, e.g. ``mirror_consistency``) instead of ``CycleTrainer``::

    python benchmarks/demo_shadows.py --seed 0 --threads 1 --out runs/demo_s0
    python benchmarks/demo_shadows.py --seed 1 --set zero_init_output=true --out runs/zero_s1
    python benchmarks/demo_shadows.py --seed 0 --prototype mirror_consistency --out runs/m_s0
    python benchmarks/demo_shadows.py --out /tmp/quick -- --max-steps 20   # a quick look

Prints one JSON line: the seed, the changes, the demo's paired test L1 and SSIM, and the test
L1 of each shadow average (``recipes.shadow_emas``: ``ema0.999_p<power>`` is ``EMA(0.999,
warmup=True, warmup_power=power)``; ``ema0.999`` is power 8). A shadow with the settings of the
recipe's own average (power 8 since 2026-12-05; power 2 from 2026-12-01) is left out: the
demo's figure is its score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="the demo's run folder")
    parser.add_argument("--powers", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0, 8.0])
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="change the improved recipe for this run (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--prototype", metavar="NAME",
        help="train with this prototype's trainer (a key of recipe_candidates.PROTOTYPE_TRAINERS)",
    )  # fmt: skip
    parser.add_argument(
        "train_args", nargs=argparse.REMAINDER,
        help="after --: more options of train --demo (e.g. -- --max-steps 100)",
    )  # fmt: skip
    args = parser.parse_args()

    import torch
    from recipe_candidates import PROTOTYPE_TRAINERS, trainer_class  # beside this script
    from recipes import drop_repeats, shadow_emas

    import unpaired_i2i.data
    import unpaired_i2i.recipes
    import unpaired_i2i.training
    from unpaired_i2i.cli import main as cli_main

    if args.prototype is not None:
        if args.prototype not in PROTOTYPE_TRAINERS:
            parser.error(
                f"--prototype must be one of {sorted(PROTOTYPE_TRAINERS)}; got {args.prototype!r}"
            )
        # the command line builds its trainer from unpaired_i2i.training at run time
        unpaired_i2i.training.CycleTrainer = trainer_class("+" + args.prototype)  # type: ignore[misc]

    torch.set_num_threads(args.threads)
    changes = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    unpaired_i2i.recipes.IMPROVED_RECIPE = {**unpaired_i2i.recipes.IMPROVED_RECIPE, **changes}

    shadows = shadow_emas(powers=args.powers)  # each with its own entry in the checkpoints
    build, evaluate = unpaired_i2i.recipes.recipe, unpaired_i2i.data.evaluate_paired
    scores: dict[str, float] = {}

    def recipe(*a: Any, **k: Any) -> Any:
        spec = build(*a, **k)
        shadows[:] = drop_repeats(shadows, spec.callbacks)
        spec.callbacks[:0] = shadows  # before the recipe's own EMA, which stays the one used
        return spec

    def evaluate_paired(generator: Any, data: Any, **k: Any) -> dict[str, float]:
        if not scores:  # the demo's first call scores its generator: score the shadows too
            for shadow in shadows:
                scores[shadow.name] = evaluate(shadow.generator_xy, data, **k)["l1"]
        return evaluate(generator, data, **k)

    unpaired_i2i.recipes.recipe = recipe
    unpaired_i2i.data.evaluate_paired = evaluate_paired
    extra = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    rc = cli_main(["train", "--demo", "--out", str(args.out), "--seed", str(args.seed), *extra])
    if rc:
        raise SystemExit(rc)
    report = json.loads((args.out / "eval.json").read_text())
    print(
        json.dumps(
            {
                "seed": args.seed,
                "threads": args.threads,
                "changes": changes,
                "prototype": args.prototype,
                "test_l1": round(report["l1"], 4),
                "test_ssim": round(report["ssim"], 4),
                "shadows_test_l1": {k: round(v, 4) for k, v in scores.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
