"""Recipe ablation: train candidates on the built-in season data, score them, time them; JSON out.

Usage::

    # one training run (a fresh process per run), results appended to OUT/runs.jsonl
    python benchmarks/recipes.py run --candidate reference --seed 0
    # a queue of runs; runs already in OUT/runs.jsonl are skipped (so a killed queue resumes)
    python benchmarks/recipes.py queue --candidates reference improved --seeds 0 1
    # per-step wall time of candidates, alternated in one process, against the reference
    python benchmarks/recipes.py time --candidates reference improved
    # the ablation table (Markdown) from OUT/runs.jsonl
    python benchmarks/recipes.py table
    # two candidates run by run: same seed, size, threads and CPU model; mean difference, SE
    python benchmarks/recipes.py paired --base improved --candidates improved+r1
    # L1 of predictors without a network (input, mean winter, a fitted colour map)
    python benchmarks/recipes.py baselines
    # sample grids of runs saved with --save (test scenes; photos translated whole)
    # (a finished run that kept checkpoints: run it again with --save --no-record to save
    # its weights without training or recording it twice)
    python benchmarks/recipes.py grid --candidates reference improved --photos coffee.png

Protocol (issue 13): the built-in season data as ``unpaired-i2i train --demo`` draws it
(200 training scenes per season drawn at 128 px, loaded at ``--size`` with the demo's
``resize_and_crop`` + flip), a CycleGAN with ``n_blocks`` residual blocks at the preset's
width, batch 1 (``BATCH_SIZES`` names the candidates with more), ``--steps`` steps,
float32, CPU. Each run scores the generator that :meth:`CycleTrainer.inference_generator`
returns (X->Y) on two paired sets:

* **validation** (used to choose): 32 scenes drawn from the *training* scene stream after
  the 200 that are trained on (``make_season_dataset``'s ``trainA`` geometries 200..231),
  in both seasons, so they are true pairs the run never saw;
* **test** (reported once per candidate, never used to choose): the demo's 16 paired test
  scenes (``testA``/``testB``).

A candidate is ``recipe(name, **overrides)`` plus optional changes to it (see
``benchmarks/recipe_candidates.py``); the ablation rows are the reference with one method added
and the improved recipe with one method removed.

A run is fixed by its candidate, seed *and* ``--threads``: another thread count sums in
another order and the GAN's trajectory diverges (the improved recipe's seed 1 scored 0.163
with 2 threads and 0.184 with 1), and so does another CPU kind; so the table names each run's
seed and threads, and a queue treats a (candidate, seed) pair as done only for the same
thread count on the same CPU model. Each run also
scores the trained generator and *shadow* EMAs (``--shadow-ema``, ``--shadow-power``;
:func:`shadow_emas`), callbacks that only read the weights, under ``"shadows"`` in its
record.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "recipes"

if str(HERE) not in sys.path:  # loaded by its path (the tests): its neighbours import by name
    sys.path.insert(0, str(HERE))
from recipe_candidates import BATCH_SIZES, candidates, trainer_class  # noqa: E402


def _generator_record(generator: Any) -> dict[str, Any]:
    """The generator's architecture for a run's record; a norm factory is named, not lost."""
    try:
        config: dict[str, Any] = generator.get_config()
    except ValueError:
        config = dict(generator._config)
        norm = config["norm"]
        config["norm"] = getattr(norm, "__name__", repr(norm))
    return config


def _setting(size: int, n_blocks: int, width: int | None) -> str:
    """``"64"`` for the protocol's network (6 blocks, the preset's width), else e.g.
    ``"64/b3/w16"``: the size column of the table and the tag of saved weights."""
    tag = str(size)
    if n_blocks != 6:
        tag += f"/b{n_blocks}"
    if width not in (None, 64):
        tag += f"/w{width}"
    return tag


def _record_setting(r: Mapping[str, Any]) -> str:
    return _setting(r["size"], r["n_blocks"], r["generator"]["base_channels"])


def _cpu_kind(machine: Mapping[str, Any]) -> str | None:
    """The CPU model and its widest vector unit, e.g. ``"AMD EPYC/avx512"``.

    The same model name covers CPUs with AVX2 only and with AVX-512 (and oneDNN picks other
    kernels on each, which sum in another order), so the name alone does not say which
    realisation a run is. Records without flags (the oldest) give the model alone."""
    model = machine.get("cpu_model")
    flags = machine.get("cpu_flags")
    if model is None or flags is None:
        return model
    if machine.get("cpu_amx"):
        isa = "amx"
    elif any(f.startswith("avx512") for f in flags):
        isa = "avx512"
    elif "avx2" in flags:
        isa = "avx2"
    else:
        isa = "none"
    return f"{model}/{isa}"


def _realisation(r: Mapping[str, Any]) -> tuple[int, str, int, int, str | None]:
    """What makes a run one realisation of its candidate: seed, setting, steps, thread count
    and CPU kind (another thread count or CPU kind sums in another order)."""
    return r["seed"], _record_setting(r), r["steps"], r["threads"], _cpu_kind(r.get("machine", {}))


def checkpoint_dir(
    out: Path, candidate: str, seed: int, setting: str, threads: int, cpu: str | None
) -> Path:
    """Where ``run --checkpoint-every`` keeps a run's ``last.pt``: one folder per realisation.

    A checkpoint resumed on another CPU kind or thread count would splice two realisations
    into one run, so both are in the name, e.g. ``improved_s0_64_1t_AMD-EPYC-avx512``.
    """
    kind = re.sub(r"[^A-Za-z0-9.+-]+", "-", cpu or "unknown-cpu").strip("-")
    name = f"{candidate}_s{seed}_{setting.replace('/', '_')}_{threads}t_{kind}"
    return out / "checkpoints" / name


def weights_path(
    out: Path, candidate: str, seed: int, setting: str, threads: int, cpu: str | None
) -> Path:
    """Where ``run --save`` keeps a run's X->Y generator weights: one file per realisation,
    named as its checkpoint folder (:func:`checkpoint_dir`), so a run of the same seed with
    another thread count or CPU kind does not overwrite them."""
    name = checkpoint_dir(out, candidate, seed, setting, threads, cpu).name
    return out / "weights" / f"{name}.pt"


def _records(out: Path) -> list[dict[str, Any]]:
    """The run records in ``out/runs.jsonl``, oldest first."""
    return [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line]


def _model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    over: dict[str, Any] = {"n_blocks": args.n_blocks}
    if args.width is not None:
        over |= {"base_channels": args.width, "d_base_channels": args.width}
    return over


def _season_data(root: Path, size: int) -> tuple[Any, Any, Any]:
    """The demo's training set, the validation pairs and the test pairs at ``size``."""
    from unpaired_i2i import UnpairedImageDataset, draw_scene, make_season_dataset
    from unpaired_i2i.data.synthetic import _scene_seed

    data = make_season_dataset(root / "seasons", n_train=200, n_test=16, size=128, seed=0)
    val = root / "validation"
    for season, sub in (("summer", "valA"), ("winter", "valB")):
        (val / sub).mkdir(parents=True, exist_ok=True)
        for k in range(32):
            path = val / sub / f"{k:04d}.png"
            if not path.is_file():
                # the training stream's geometries after the 200 trained on
                draw_scene(_scene_seed(0, "trainA", 200 + k), season, size=128).save(path)  # type: ignore[arg-type]
    common: dict[str, Any] = {"size": size, "preprocess": "resize_and_crop", "multiple": 4}
    train = UnpairedImageDataset.from_root(data, "train", flip=True, **common)
    val_set = UnpairedImageDataset(val / "valA", val / "valB", train=False, serial=True, **common)
    test = UnpairedImageDataset.from_root(data, "test", **common)
    return train, val_set, test


def shadow_emas(*, decays: Sequence[float] = (), powers: Sequence[float] = ()) -> list[Any]:
    """Extra EMAs of the generators, to score next to a run's own generator ("shadows").

    They only read the weights (no random numbers), so they change nothing in the training:
    each scores another average of one and the same trajectory. One warmed-up EMA per decay
    in ``decays`` and one of decay 0.999 per warm-up power in ``powers``. Each is named
    ``ema<decay>`` (``_p<power>`` added unless the power is EMA's default 8) and keeps its
    state in checkpoints under ``Shadow<name>``, apart from the recipe's own ``EMA``. With
    warm-up, the decay after n updates is at most ``(1 + n) / (10 + n)`` (power 8): 0.991 at
    n = 1000, so decays above that are all alike in a 1000-step run.
    """
    from unpaired_i2i import EMA

    class ShadowEMA(EMA):
        @property
        def state_key(self) -> str:
            return f"Shadow{self.name}"

        @property
        def name(self) -> str:
            return f"ema{self.decay:g}" + (
                f"_p{self.warmup_power:g}" if self.warmup_power != 8.0 else ""
            )

    return [ShadowEMA(d, warmup=True) for d in decays] + [
        ShadowEMA(0.999, warmup=True, warmup_power=p) for p in powers
    ]


def drop_repeats(shadows: Sequence[Any], callbacks: Sequence[Any]) -> list[Any]:
    """``shadows`` without those that repeat an EMA among ``callbacks`` (same decay, warm-up
    and power): such a shadow would only score the run's own average a second time."""
    from unpaired_i2i import EMA

    own = {(cb.decay, cb.warmup, cb.warmup_power) for cb in callbacks if isinstance(cb, EMA)}
    return [s for s in shadows if (s.decay, s.warmup, s.warmup_power) not in own]


def _run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from unpaired_i2i import Callback, ModelCheckpoint, evaluate_paired, save_checkpoint_file
    from unpaired_i2i.bench import machine_info

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    # the record keeps the CPU's fields only, whatever device trains
    machine = machine_info("cpu")
    cpu = _cpu_kind(machine)
    setting = _setting(args.size, args.n_blocks, args.width)
    train, val, test = _season_data(out / "data", args.size)
    over = _model_overrides(args)
    torch.manual_seed(args.seed)
    spec = candidates()[args.candidate](args.seed, over)

    # removed again before the candidate's generator is picked
    shadows = drop_repeats(
        shadow_emas(decays=args.shadow_ema, powers=args.shadow_power), spec.callbacks
    )

    class Clock(Callback):
        """Training seconds so far, kept in the checkpoints so a resumed run adds them up."""

        def __init__(self) -> None:
            self.before = 0.0  # seconds trained by earlier processes of this run
            self.start = time.perf_counter()

        def on_fit_start(self, trainer: Any) -> None:
            self.start = time.perf_counter()

        def seconds(self) -> float:
            return self.before + time.perf_counter() - self.start

        def state_dict(self) -> dict[str, Any]:
            return {"seconds": self.seconds()}

        def load_state_dict(self, state: Mapping[str, Any]) -> None:
            self.before = float(state["seconds"])

    clock = Clock()
    extra: list[Any] = [clock]
    checkpoints = None
    if args.checkpoint_every:
        # a killed run resumes here (exactly: same seed, threads and CPU kind, same trajectory)
        checkpoints = checkpoint_dir(out, args.candidate, args.seed, setting, args.threads, cpu)
        extra.append(ModelCheckpoint(checkpoints, every_n_steps=args.checkpoint_every, keep_last=0))
    if args.probe_every:
        from validation_probe import ValidationProbe

        # prints the trained generator's validation L1 every N steps (no random numbers drawn)
        extra.append(ValidationProbe(val, every=args.probe_every))
    trainer = trainer_class(args.candidate)(
        spec.model, spec.config, callbacks=[*shadows, *extra, *spec.callbacks], device=args.device
    )
    resumed_from = 0
    if checkpoints is not None and (checkpoints / "last.pt").is_file():
        trainer.load_checkpoint(checkpoints / "last.pt")
        resumed_from = trainer.state.step
        print(f"resumed from {checkpoints / 'last.pt'} at step {resumed_from}", flush=True)
    batch_size = BATCH_SIZES.get(args.candidate, 1)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    trainer.fit(loader, max_steps=args.steps)
    seconds = clock.seconds()
    # the candidate's own generator: what inference_generator returns without the shadows
    ours = [*shadows, *extra]
    trainer.callbacks = [cb for cb in trainer.callbacks if all(cb is not s for s in ours)]
    generator = trainer.inference_generator("xy")

    def score(g: Any) -> dict[str, float]:
        """``validation_l1``, ``test_ssim``, ...: evaluate_paired on both splits."""
        return {
            f"{split}_{k}": v
            for split, data in (("validation", val), ("test", test))
            for k, v in evaluate_paired(g, data).items()
        }

    scores = score(generator)
    # the same run's other generators: the trained one and the shadow averages
    others = {"raw": spec.model.g_xy} | {
        cb.name: cb.inference_generator(trainer, "xy") for cb in shadows
    }
    shadow_scores = {
        name: scores if g is generator else score(g) for name, g in others.items() if g is not None
    }
    if args.save:
        path = weights_path(out, args.candidate, args.seed, setting, args.threads, cpu)
        # atomically, as the library writes checkpoints: a killed run leaves no torn file
        save_checkpoint_file({k: v.cpu() for k, v in generator.state_dict().items()}, path)
    record = {
        "candidate": args.candidate,
        "seed": args.seed,
        "size": args.size,
        "n_blocks": args.n_blocks,
        "steps": args.steps,
        "batch_size": batch_size,
        "threads": args.threads,
        "device": str(trainer.device),
        "train_seconds": round(seconds, 1),
        **({"resumed_from_step": resumed_from} if resumed_from else {}),
        "config": spec.config.to_dict(),
        "callbacks": [repr(cb) for cb in spec.callbacks],
        "generator": _generator_record(spec.model.g_xy),
        **scores,
        "shadows": shadow_scores,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "torch": torch.__version__,
        # the CPU kind decides the realisation as much as the thread count does
        "machine": {k: machine[k] for k in ("cpu_model", "cpu_flags", "cpu_amx")},
    }
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_record:
        with open(out / "runs.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
    print(
        f"{args.candidate} seed {args.seed} @{args.size}: "
        f"val L1 {record['validation_l1']:.4f} SSIM {record['validation_ssim']:.4f} | "
        f"test L1 {record['test_l1']:.4f} SSIM {record['test_ssim']:.4f} | {seconds:.0f} s",
        flush=True,
    )
    return record


def _done(out: Path) -> set[tuple[str, int, str, int, int, str | None]]:
    """Runs already recorded: candidate, seed, setting, steps, thread count and CPU kind
    (another thread count or CPU kind trains another realisation of the same seed, so it is
    another run)."""
    if not (out / "runs.jsonl").is_file():
        return set()
    return {(r["candidate"], *_realisation(r)) for r in _records(out)}


def _queue(args: argparse.Namespace) -> None:
    from unpaired_i2i.bench import machine_info

    out = Path(args.out)
    cpu = _cpu_kind(machine_info("cpu"))
    for seed in args.seeds:
        for candidate in args.candidates:
            setting = _setting(args.size, args.n_blocks, args.width)
            key = (candidate, seed, setting, args.steps, args.threads, cpu)
            if key in _done(out):
                print(f"skip {key} (in runs.jsonl)", flush=True)
                continue
            cmd = [
                sys.executable,
                __file__,
                "run",
                f"--candidate={candidate}",
                f"--seed={seed}",
                f"--size={args.size}",
                f"--n-blocks={args.n_blocks}",
                f"--steps={args.steps}",
                f"--threads={args.threads}",
                f"--device={args.device}",
                f"--checkpoint-every={args.checkpoint_every}",
                f"--out={out}",
            ]
            if args.width is not None:
                cmd.append(f"--width={args.width}")
            if args.save:
                cmd.append("--save")
            subprocess.run(cmd, check=True)


def _time(args: argparse.Namespace) -> None:
    """Per-step wall time of each candidate, alternated in one process (``recipe_timing``)."""
    from recipe_timing import time_candidates

    time_candidates(
        args.candidates,
        overrides=_model_overrides(args),
        size=args.size,
        threads=args.threads,
        warmup=args.warmup,
        repeats=args.repeats,
        block=args.block,
        out=Path(args.out),
        record={"n_blocks": args.n_blocks, "width": args.width},
    )


def _baselines(args: argparse.Namespace) -> None:
    """Paired L1 of predictors that need no translation network, on validation and test.

    ``identity`` returns the summer input; ``mean`` / ``median`` return the per-pixel mean /
    median of the 200 training winter images whatever the input (a generator that ignores
    its input can do no better than about these); ``affine colour oracle`` is the best
    per-pixel affine colour map (3x3 + bias) fitted by least squares to the evaluated pairs
    themselves, i.e. with the answers: what keeping the structure and changing only the
    colours could reach.
    """
    import torch

    from unpaired_i2i import UnpairedImageDataset

    out = Path(args.out)
    _, val, test = _season_data(out / "data", args.size)
    # the training winters, resized and centre-cropped like the evaluated images (no jitter)
    train = UnpairedImageDataset.from_root(
        out / "data" / "seasons", "train", train=False, serial=True, size=args.size,
        preprocess="resize_and_crop", multiple=4,
    )  # fmt: skip
    winter = torch.stack([train[i][1] for i in range(len(train))])
    mean, median = winter.mean(0), winter.median(0).values
    result: dict[str, dict[str, float]] = {}
    for split, data in (("validation", val), ("test", test)):
        xs = torch.stack([data[i][0] for i in range(len(data))])
        ys = torch.stack([data[i][1] for i in range(len(data))])
        pixels = xs.permute(0, 2, 3, 1).reshape(-1, 3).double()
        design = torch.cat([pixels, torch.ones(len(pixels), 1, dtype=pixels.dtype)], 1)
        target = ys.permute(0, 2, 3, 1).reshape(-1, 3).double()
        fit = torch.linalg.lstsq(design, target).solution
        result[split] = {
            "identity": (ys - xs).abs().mean().item(),
            "mean": (ys - mean).abs().mean().item(),
            "median": (ys - median).abs().mean().item(),
            "affine colour oracle": (design @ fit - target).abs().mean().item(),
        }
    print(json.dumps({"size": args.size, "paired_l1": result}, indent=1))


def _table(args: argparse.Namespace) -> None:
    """Markdown: per candidate the mean over its runs, and each change against the reference."""
    out = Path(args.out)
    rows: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in _records(out):
        rows.setdefault((r["candidate"], _record_setting(r), r["steps"]), []).append(r)
    ratios: dict[tuple[str, str], float] = {}
    timing = out / "timing.jsonl"
    if timing.is_file():
        for line in timing.read_text().splitlines():
            t = json.loads(line)
            for name, result in t["results"].items():
                setting = _setting(t["size"], t["n_blocks"], t.get("width"))
                ratios[(name, setting)] = result["ratio_to_first"]

    def mean(runs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.mean(r[key] for r in runs))

    def change(value: float, base: list[dict[str, Any]] | None, key: str) -> str:
        return f"{(value / mean(base, key) - 1) * 100:+.1f}%" if base else ""

    header = [
        "candidate",
        "size",
        "runs",
        "val L1",
        "val vs ref",
        "test L1 (per run: seed/threads)",
        "test vs ref",
        "test SSIM",
        "step time vs ref",
    ]
    table: list[list[str]] = []
    order = {name: i for i, name in enumerate(candidates())}

    def key(item: tuple[tuple[str, str, int], Any]) -> tuple[str, int, str]:
        (cand, setting, _), _ = item
        return setting, order.get(cand, len(order)), cand

    for (cand, setting, steps), runs in sorted(rows.items(), key=key):
        base = rows.get(("reference", setting, steps))
        val, test = mean(runs, "validation_l1"), mean(runs, "test_l1")
        seeds = ", ".join(
            f"s{r['seed']}/{r['threads']}t {r['test_l1']:.4f}"
            for r in sorted(runs, key=lambda r: (r["seed"], r["threads"]))
        )
        ratio = ratios.get((cand, setting))
        table.append(
            [
                cand,
                setting,
                str(len(runs)),
                f"{val:.4f}",
                change(val, base, "validation_l1"),
                f"{test:.4f} ({seeds})",
                change(test, base, "test_l1"),
                f"{mean(runs, 'test_ssim'):.3f}",
                "" if ratio is None else f"{ratio:.2f}x",
            ]
        )
    if args.rst:
        print(".. list-table::\n   :header-rows: 1\n")
        for row in [header, *table]:
            print("   * - " + "\n     - ".join(cell or "not measured" for cell in row))
        return
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(row) + " |")


def paired_runs(
    records: Sequence[Mapping[str, Any]],
    base: str,
    candidate: str,
    *,
    setting: str = "64",
    base_shadow: str | None = None,
    shadow: str | None = None,
) -> list[dict[str, Any]]:
    """``candidate``'s runs next to ``base``'s on the same realisation, one row per pair.

    Two runs pair when they share seed, setting (size, blocks, width), steps, thread count
    and CPU model: another thread count or CPU kind sums in another order and makes another
    realisation of the seed, which pairing must not mix up. ``base_shadow`` / ``shadow`` score
    one of the runs' shadow averages (e.g. ``"ema0.999_p0"``) in place of its own generator.
    Where a realisation was run twice, its last record counts. Each row: ``seed``,
    ``threads``, ``cpu``, ``base`` and ``candidate`` as ``(validation L1, test L1)``.
    """

    def scores(r: Mapping[str, Any], name: str | None) -> tuple[float, float] | None:
        s = r if name is None else r.get("shadows", {}).get(name)
        return None if s is None else (float(s["validation_l1"]), float(s["test_l1"]))

    def index(name: str, which: str | None) -> dict[tuple[Any, ...], tuple[float, float]]:
        found = {}
        for r in records:
            if r["candidate"] == name and _record_setting(r) == setting:
                got = scores(r, which)
                if got is not None:
                    found[_realisation(r)] = got
        return found

    a, b = index(base, base_shadow), index(candidate, shadow)
    return [
        {"seed": k[0], "threads": k[3], "cpu": k[4], "base": a[k], "candidate": b[k]}
        for k in sorted(a.keys() & b.keys(), key=lambda k: (k[0], k[3], str(k[4])))
    ]


def two_seed_changes(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """The test-L1 change of the candidate's mean of two seeds against the base's mean of the
    same two, for every pair of seeds of one realisation (same thread count and CPU kind):
    what a check of two seeds finds. ``rows`` as :func:`paired_runs` returns them."""
    changes = []
    for a, b in itertools.combinations(rows, 2):
        if (a["threads"], a["cpu"]) == (b["threads"], b["cpu"]):
            base = a["base"][1] + b["base"][1]
            changes.append((a["candidate"][1] + b["candidate"][1]) / base - 1)
    return changes


def _paired(args: argparse.Namespace) -> None:
    """Markdown: per candidate, its runs paired with the base's, and the mean difference."""
    out = Path(args.out)
    records = _records(out)
    setting = _setting(args.size, args.n_blocks, args.width)
    base_name = args.base + (f" ({args.base_shadow})" if args.base_shadow else "")
    for cand in args.candidates:
        rows = paired_runs(
            records, args.base, cand, setting=setting,
            base_shadow=args.base_shadow, shadow=args.shadow,
        )  # fmt: skip
        name = cand + (f" ({args.shadow})" if args.shadow else "")
        print(f"\n{name} against {base_name}, {setting}: {len(rows)} paired runs")
        if not rows:
            continue
        print("| seed | threads | CPU | base val / test | candidate val / test | difference |")
        print("|---|---|---|---|---|---|")
        diffs = []
        for r in rows:
            (av, at), (bv, bt) = r["base"], r["candidate"]
            diffs.append((bv - av, bt - at))
            print(
                f"| {r['seed']} | {r['threads']} | {r['cpu']} | {av:.4f} / {at:.4f} "
                f"| {bv:.4f} / {bt:.4f} | {bv - av:+.4f} / {bt - at:+.4f} |"
            )
        cells = []
        for i, what in enumerate(("validation", "test")):
            d = [x[i] for x in diffs]
            se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
            base_mean = statistics.mean(r["base"][i] for r in rows)
            cells.append(
                f"{what} {statistics.mean(d):+.4f} (SE {se:.4f}; "
                f"{statistics.mean(d) / base_mean:+.1%} of the base's mean {base_mean:.4f})"
            )
        print("mean difference: " + ", ".join(cells))
        changes = two_seed_changes(rows)
        if changes:
            reach = sum(c <= -args.goal for c in changes)
            print(
                f"means of two seeds on test: {reach} of {len(changes)} pairs at least "
                f"{args.goal:.0%} below the base's (from {min(changes):+.1%} to "
                f"{max(changes):+.1%})"
            )


def _shadows(args: argparse.Namespace) -> None:
    """Each shadow average against the run's own generator, paired run by run.

    Only runs whose own generator is the recipe's average (``EMA(0.999, warmup=True)``, warm-up
    power 8) count, so every row compares two averages of one and the same trajectory: what
    the shadow changes is the averaging alone. Per setting and shadow: runs, how many the
    shadow scored lower on validation, the relative change of validation L1 (mean, median,
    worst), how many runs it made more than 5% worse, and the change of the mean test L1.
    """
    out = Path(args.out)
    own_ema = "EMA(decay=0.999, every_n_steps=1, start_step=0, warmup=True)"
    groups: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    for r in _records(out):
        if r["callbacks"] != [own_ema] or not r["candidate"].startswith(args.prefix):
            continue
        for name, s in r.get("shadows", {}).items():
            pair = (r["validation_l1"], s["validation_l1"], r["test_l1"], s["test_l1"])
            groups.setdefault((_record_setting(r), name), []).append(pair)
    print(f"runs of candidates starting with {args.prefix!r}; own = warm-up power 8")
    print("| setting | shadow | runs | lower on val | val change: mean / median / worst "
          "| worse by more than 5% | test change of the means |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (setting, name), pairs in sorted(groups.items()):
        changes = [b / a - 1 for a, b, _, _ in pairs]
        test = statistics.mean(d for *_, d in pairs) / statistics.mean(c for *_, c, _ in pairs)
        print(
            f"| {setting} | {name} | {len(pairs)} | {sum(c < 0 for c in changes)} "
            f"| {statistics.mean(changes):+.1%} / {statistics.median(changes):+.1%} / "
            f"{max(changes):+.1%} | {sum(c > 0.05 for c in changes)} | {test - 1:+.1%} |"
        )


def _load_generator(
    out: Path, candidate: str, seed: int, setting: str, *, threads: int | None = None
) -> Any:
    """The saved X->Y generator of the latest recorded run of ``candidate`` with ``seed`` at
    ``setting`` (of those with ``threads`` threads, if given: one realisation of the seed)."""
    import torch

    record = [
        r
        for r in _records(out)
        if (r["candidate"], r["seed"], _record_setting(r)) == (candidate, seed, setting)
        and threads in (None, r["threads"])
    ][-1]  # the latest run of that name
    # built as the run built it, so a prototype's changes to the generator are there too
    over: dict[str, Any] = {"n_blocks": record["n_blocks"]}
    width = record["generator"].get("base_channels")
    if width is not None and _setting(record["size"], record["n_blocks"], width) == setting:
        over["base_channels"] = width
    generator = candidates()[candidate](seed, over).model.g_xy
    cpu = _cpu_kind(record.get("machine", {}))
    weights = weights_path(out, candidate, seed, setting, record["threads"], cpu)
    if not weights.is_file():
        raise FileNotFoundError(
            f"no saved weights for the latest recorded run of {candidate} seed {seed} at "
            f"{setting} ({record['threads']} threads, {cpu}): expected {weights}; run it again "
            "with --save --no-record on that CPU kind and thread count"
        )
    generator.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    return generator.eval()


def _grid(args: argparse.Namespace) -> None:
    """Sample grids of candidates trained with the same seed and steps (docs figures).

    Scenes: columns summer input | each candidate's winter | real winter, one row per test
    scene. Photos (``--photos``): each photo resized to ``--photo-width`` and translated whole.
    """
    import torch
    from torchvision.transforms import v2
    from torchvision.utils import save_image

    from unpaired_i2i import load_image

    out = Path(args.out)
    _, _, test = _season_data(out / "data", args.size)
    setting = _setting(args.size, args.n_blocks, args.width)
    generators = [
        _load_generator(out, c, args.seed, setting, threads=args.threads) for c in args.candidates
    ]
    rows = []
    with torch.inference_mode():
        for i in args.scenes:
            x, y = test[i]
            rows.append(torch.stack([x, *(g(x[None])[0] for g in generators), y]))
    grid = torch.cat(rows)
    args.dest.mkdir(parents=True, exist_ok=True)
    name = f"scenes_{'_vs_'.join(args.candidates)}_{args.size}.png"
    save_image(grid * 0.5 + 0.5, args.dest / name, nrow=len(args.candidates) + 2, padding=2)
    print(args.dest / name)
    for photo in args.photos:
        pixels = v2.functional.to_image(load_image(photo))
        image = v2.functional.to_dtype(pixels, torch.float32, scale=True) * 2 - 1
        h, w = image.shape[-2:]
        width = args.photo_width
        height = max(4, round(h * width / w / 4) * 4)
        x = v2.functional.resize(image, [height, width], antialias=True)
        with torch.inference_mode():
            outs = [g(x[None])[0] for g in generators]
        dest = args.dest / f"{Path(photo).stem}_{'_vs_'.join(args.candidates)}_{args.size}.png"
        save_image(torch.stack([x, *outs]) * 0.5 + 0.5, dest, nrow=len(outs) + 1, padding=2)
        print(dest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "queue", "time", "table", "grid", "baselines", "shadows", "paired"):
        p = sub.add_parser(name)
        p.add_argument("--out", default=str(DEFAULT_OUT))
        p.add_argument("--size", type=int, default=64)
        p.add_argument("--n-blocks", type=int, default=6)
        p.add_argument("--width", type=int, default=None, help="channels of all four networks")
        p.add_argument("--steps", type=int, default=1000)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--save", action="store_true", help="keep the X->Y generator weights")
        p.add_argument("--device", default="cpu", help="run/queue: where to train (cpu, cuda)")
        p.add_argument(
            "--checkpoint-every",
            type=int,
            default=0,
            help="run/queue: save OUT/checkpoints/<run>/last.pt every N steps and resume from "
            "it when the same run is started again (0: no checkpoints)",
        )
        if name == "run":
            p.add_argument("--candidate", required=True)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument(
                "--no-record", action="store_true",
                help="do not append the run to OUT/runs.jsonl (with --checkpoint-every and "
                "--save: export a finished run's weights from its last checkpoint)",
            )  # fmt: skip
            p.add_argument(
                "--probe-every", type=int, default=0,
                help="print the trained X->Y generator's validation L1 every N steps (a "
                "diagnostic, benchmarks/validation_probe.py; 0: off)",
            )  # fmt: skip
            p.add_argument(
                "--shadow-ema", type=float, nargs="*", default=[0.98],
                help="also score warm EMAs of these decays (they do not change the training)",
            )  # fmt: skip
            p.add_argument(
                "--shadow-power", type=float, nargs="*", default=[0.0, 1.0, 2.0, 4.0, 8.0],
                help="also score EMAs (0.999) warmed up with these warmup_power values (the "
                "one that repeats the candidate's own average is left out)",
            )  # fmt: skip
        if name in ("queue", "time"):
            p.add_argument("--candidates", nargs="+", default=["reference", "improved"])
        if name == "queue":
            p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
        if name == "shadows":
            p.add_argument(
                "--prefix", default="ref+ema+residual+no_identity",
                help="only candidates whose name starts with this (default: the improved "
                "recipe and the candidates built on it)",
            )  # fmt: skip
        if name == "paired":
            p.add_argument("--base", default="improved", help="the candidate compared against")
            p.add_argument("--candidates", nargs="+", required=True)
            p.add_argument(
                "--base-shadow", default=None,
                help="score this shadow average of the base's runs (e.g. ema0.999_p0)",
            )  # fmt: skip
            p.add_argument("--shadow", default=None, help="the same for the candidates' runs")
            p.add_argument(
                "--goal", type=float, default=0.25,
                help="count the pairs of seeds whose test-L1 mean is this fraction below the "
                "base's (the issue's 25%%)",
            )  # fmt: skip
        if name == "table":
            p.add_argument("--rst", action="store_true", help="a reStructuredText list-table")
        if name == "grid":
            # --threads picks the runs' realisation here; by default the latest run of each
            p.set_defaults(threads=None)
            p.add_argument("--candidates", nargs="+", default=["reference", "improved"])
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
            p.add_argument("--photos", nargs="*", default=[], help="photo files to translate")
            p.add_argument("--photo-width", type=int, default=256)
            p.add_argument("--dest", type=Path, default=HERE.parent / "docs" / "images")
        if name == "time":
            p.add_argument("--warmup", type=int, default=3)
            p.add_argument("--repeats", type=int, default=5)
            p.add_argument("--block", type=int, default=5, help="steps per timed block")
    args = parser.parse_args()
    commands = {
        "run": _run,
        "queue": _queue,
        "time": _time,
        "table": _table,
        "grid": _grid,
        "baselines": _baselines,
        "shadows": _shadows,
        "paired": _paired,
    }
    commands[args.command](args)


if __name__ == "__main__":
    main()
