"""What the ``unpaired-i2i`` commands do: train, translate, export, download(-model), bench.

Each command reads its parsed arguments (:func:`~unpaired_i2i.cli.parser.build_parser`) and
returns an exit status; :func:`main` turns errors into one line on stderr: exit status 2 for
bad arguments, 1 for a failure at run time, 130 for Ctrl-C.

``train`` also runs under ``torchrun`` (one process per GPU): every process joins the process
group before anything is written; rank 0 alone draws the demo data, checks the images, creates
the run folder, prints, writes ``run.json`` / ``eval.json`` and evaluates, and the other ranks
follow its decisions. A process that fails prints its error (tagged with its rank unless it is
rank 0) and exits at once; ``torchrun`` then stops the others.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from unpaired_i2i.bench import BENCH_VARIANTS
from unpaired_i2i.cli._common import (
    PROG,
    CommandError,
    UsageError,
    _checkpoint_file,
    _device,
    _generator,
    _write_json,
)
from unpaired_i2i.cli.evaluate import run_evaluate
from unpaired_i2i.cli.parser import DATA_DEFAULTS, DEMO_DEFAULTS, build_parser

__all__ = ["main"]

if TYPE_CHECKING:
    from unpaired_i2i.training.distributed import DistributedEnv


# ------------------------------------------------------------------------------------- train
def _settings(args: argparse.Namespace) -> dict[str, Any]:
    defaults = DEMO_DEFAULTS if args.demo else DATA_DEFAULTS
    settings = dict(defaults)
    for key in defaults:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    return settings


#: Generator options of the improved recipe that changed after runs of it were saved:
#: a resumed run keeps the checkpoint's values (what the recipe builds when they are absent).
_RECIPE_GENERATOR_CHOICES = {"local_affine": False, "local_affine_detail": None}


def _recipe_choices_kept(checkpoint: Mapping[str, Any], recipe_name: str) -> dict[str, Any]:
    """Recipe choices a resumed run keeps from its checkpoint, so it resumes as it was built.

    A run of the ``improved`` recipe saved before its colour matrix (2026-12-04) has residual
    generators without ``local_affine``: it resumes with ``local_affine=False`` instead of
    failing on the head's shape (and a run from the day the matrix multiplied the whole input,
    with ``local_affine_detail=None``). A run whose average was warmed up with another power
    (``2`` from 2026-12-01 to 2026-12-05) keeps it (``ema_warmup_power``), so its average goes
    on as it began. Only these options are taken from the checkpoint; a layout the command
    line changes is still refused by the trainer, naming it.
    """
    from unpaired_i2i.recipes import IMPROVED_RECIPE

    meta = checkpoint.get("meta")
    configs = meta.get("model_config") if isinstance(meta, Mapping) else None
    generator = configs.get("g_xy") if isinstance(configs, Mapping) else None
    if recipe_name != "improved" or not isinstance(generator, Mapping):
        return {}
    if generator.get("residual") is not True:  # not a run of any improved recipe
        return {}
    saved = {k: generator.get(k, absent) for k, absent in _RECIPE_GENERATOR_CHOICES.items()}
    ours = {k: IMPROVED_RECIPE.get(k, absent) for k, absent in _RECIPE_GENERATOR_CHOICES.items()}
    kept = saved if saved != ours else {}
    callbacks = checkpoint.get("callbacks")
    ema = callbacks.get("EMA") if isinstance(callbacks, Mapping) else None
    power = ema.get("warmup_power") if isinstance(ema, Mapping) else None
    if isinstance(power, int | float) and power != IMPROVED_RECIPE["ema_warmup_power"]:
        kept["ema_warmup_power"] = float(power)
    return kept


def _resume_path(resume: str | None, out: Path) -> Path | None:
    if resume is None:
        return None
    if resume == "auto":
        last = out / "checkpoints" / "last.pt"
        return last if last.exists() else None
    return _checkpoint_file(resume, missing="argument --resume: checkpoint not found")


def _size_factor(preset: str) -> int:
    """What the generator's input sides must be multiples of: 8 for ``basic``, else 4."""
    return 8 if preset == "basic" else 4


def _check_preprocess(s: dict[str, Any]) -> None:
    """Refuse ``--preprocess`` / ``--load-size`` / ``--batch-size`` combinations that fail."""
    mode, size, load = s["preprocess"], s["size"], s["load_size"]
    if mode in ("scale_width", "none") and s["batch_size"] > 1:
        raise UsageError(
            f"argument --preprocess: {mode} gives each image its own size, so images cannot be "
            f"batched; use --batch-size 1 (got {s['batch_size']}) or a mode with a crop"
        )
    if load is None:
        return
    if mode in ("crop", "none"):
        raise UsageError(f"argument --load-size: --preprocess {mode} does not resize; leave it out")
    if load < size:
        raise UsageError(
            f"argument --load-size: must be at least --size ({size}) with --preprocess {mode}; "
            f"got {load}"
        )


def _input_text(s: dict[str, Any]) -> str:
    """The training input in the start-up line: ``256x256`` or ``whole images (none)``."""
    if s["preprocess"] in ("scale_width", "none"):
        return f"each image at its own size ({s['preprocess']})"
    return f"{s['size']}x{s['size']}"


def _fixed_images(dataset: Any, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    items = [dataset[i] for i in range(min(count, len(dataset)))]
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


def _say(message: str) -> None:
    print(message, flush=True)


def _quiet(message: str) -> None:
    """What ``_say`` is on the ranks other than 0 under ``torchrun``: nothing is printed."""


@contextlib.contextmanager
def _removed_if_left_empty(folder: Path) -> Iterator[None]:
    """On failure, remove ``folder`` (and the parents made for it) if the command left it empty.

    A failed command should not leave behind an empty run or output folder that it created.
    """
    missing = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        for path in missing:
            try:
                path.rmdir()  # fails, and stops, at the first folder that is not empty
            except OSError:
                break
        raise


def _check_images(
    datasets: Sequence[Any],
    root: Path,
    *,
    skip: bool,
    progress: bool,
    env: DistributedEnv,
) -> None:
    """Check every image of ``datasets`` before training; stop or drop the unreadable ones.

    Without ``skip`` all unreadable files are reported in one message with what to do;
    with it they are listed, removed from the datasets' file lists, and training goes on.

    Under ``torchrun`` rank 0 alone reads the files and hands its verdict to the other ranks:
    every rank then stops, or drops the same files, on the same list. Checking on every rank
    would read each file once per process, and a file that one rank read and another could
    not (a flaky network filesystem) would leave the ranks with datasets of different
    lengths, hence different numbers of steps per epoch, and the run would hang.
    """
    from unpaired_i2i.data.datasets import verify_images
    from unpaired_i2i.training.distributed import from_rank_zero

    paths = list(dict.fromkeys(p for d in datasets for p in (*d.paths_x, *d.paths_y)))
    bad: list[tuple[Path, str]] = []
    took = ""
    if env.is_global_zero:
        t0 = time.perf_counter()
        bad = verify_images(paths, progress=progress, description="checking images")
        took = f"{time.perf_counter() - t0:.1f} s"
    if env.is_distributed:
        bad = from_rank_zero(bad)
    say = _say if env.is_global_zero else _quiet
    if not bad:
        say(f"checked {len(paths):,} images: all readable ({took})")
        return
    listing = "\n".join(f"  {path}: {reason}" for path, reason in bad)
    if not skip:
        if not env.is_global_zero:  # rank 0 reports the files
            raise CommandError(f"{len(bad)} images under {root} cannot be read (see rank 0)")
        raise CommandError(
            f"{len(bad)} of {len(paths):,} images under {root} cannot be read (checked before "
            f"training):\n{listing}\nfix or delete these files, or pass --skip-corrupt to train "
            "without them"
        )
    say(f"skipping {len(bad)} of {len(paths):,} images that cannot be read (--skip-corrupt):")
    say(listing)
    unreadable = {path for path, _ in bad}
    for dataset in datasets:
        for attr, folder in (("paths_x", dataset.root_x), ("paths_y", dataset.root_y)):
            kept = [p for p in getattr(dataset, attr) if p not in unreadable]
            if not kept:
                raise CommandError(f"no readable image left in {folder}")
            setattr(dataset, attr, kept)


def _train(args: argparse.Namespace) -> int:
    from unpaired_i2i.training.distributed import destroy_group, from_rank_zero, init_from_env

    s = _settings(args)
    if args.demo:
        out = Path(args.out or "runs/demo")
    else:
        root = Path(args.data)
        if not root.is_dir():
            raise UsageError(f"argument --data: folder not found: {root}")
        out = Path(args.out or Path("runs") / root.resolve().name)
    device = _device(args.device)
    factor = _size_factor(s["preset"])
    if s["size"] % factor or s["size"] < 2 * factor:
        raise UsageError(
            f"argument --size: the {s['preset']!r} generator needs a multiple of {factor} "
            f"that is at least {2 * factor}; got {s['size']}"
        )
    _check_preprocess(s)
    resume = _resume_path(args.resume, out)  # a missing checkpoint stops before any work
    # Under torchrun: join the process group before anything is written (each rank on
    # cuda:LOCAL_RANK with CUDA). From here on, rank 0 alone creates and writes files and
    # prints; the other ranks follow its decisions.
    env, ranked_device = init_from_env(device)
    if ranked_device is not None:
        device = ranked_device
    if env.is_distributed and args.resume == "auto":
        resume = from_rank_zero(resume)  # the same file on every rank
        if resume is not None and not resume.exists():
            raise CommandError(
                f"--resume auto: rank 0 resumes from {resume}, which rank {env.rank} cannot "
                "read; the run folder must be on a filesystem every node shares"
            )
    cleanup = _removed_if_left_empty(out) if env.is_global_zero else contextlib.nullcontext()
    with cleanup:
        code = _run_training(args, s, out, device, resume, env)
    # Only after success: a failing rank exits at once, and torchrun stops the others.
    if env.is_distributed:
        destroy_group()
    return code


def _run_training(
    args: argparse.Namespace,
    s: dict[str, Any],
    out: Path,
    device: torch.device,
    resume: Path | None,
    env: DistributedEnv,
) -> int:
    from torch.utils.data import DataLoader

    from unpaired_i2i.data import (
        ColorTransfer,
        UnpairedImageDataset,
        evaluate_paired,
        make_season_dataset,
    )
    from unpaired_i2i.recipes import recipe
    from unpaired_i2i.training import (
        Callback,
        CycleTrainer,
        LossPlot,
        MetricsLogger,
        ModelCheckpoint,
        ProgressBar,
        SampleGrid,
        load_checkpoint_file,
    )
    from unpaired_i2i.training.distributed import barrier

    say = _say if env.is_global_zero else _quiet
    if args.demo:
        data_root = out / "data"
        if env.is_global_zero:
            t0 = time.perf_counter()
            out.mkdir(parents=True, exist_ok=True)
            data_root = make_season_dataset(
                data_root, n_train=s["n_train"], n_test=s["n_test"], size=128, seed=args.seed
            )
            say(f"demo data: {data_root} ({time.perf_counter() - t0:.1f} s)")
        barrier()  # the other ranks read the scenes once rank 0 has drawn them
    else:
        data_root = Path(args.data)
    skip = bool(args.skip_corrupt)
    preprocess: dict[str, Any] = {
        "size": s["size"],
        "load_size": s["load_size"],
        "preprocess": s["preprocess"],
        "multiple": _size_factor(s["preset"]),
    }
    # Data problems surface here, before the run folder of a --data run is created.
    train_set = UnpairedImageDataset.from_root(
        data_root, "train", flip=s["flip"], skip_corrupt=skip, **preprocess
    )
    test_set: UnpairedImageDataset | None
    try:
        test_set = UnpairedImageDataset.from_root(
            data_root, "test", skip_corrupt=skip, **preprocess
        )
    except (ValueError, FileNotFoundError):
        test_set = None
    sample_source = test_set if test_set is not None else train_set
    if not train_set.default_transform.crops:  # sample grids stack images of one size
        preprocess.update(preprocess="scale_width_and_crop", load_size=s["size"])
    fixed_set = UnpairedImageDataset(
        sample_source.root_x,
        sample_source.root_y,
        train=False,
        serial=True,
        skip_corrupt=skip,
        **preprocess,
    )
    checked = [train_set, fixed_set] if test_set is None else [train_set, test_set, fixed_set]
    progress = not args.no_progress and sys.stderr.isatty()  # a bar only where it redraws
    _check_images(checked, data_root, skip=skip, progress=progress, env=env)
    if env.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)

    workers = (
        args.num_workers if args.num_workers is not None else (4 if device.type == "cuda" else 0)
    )
    # Under torchrun the trainer shards this loader (a DistributedSampler): each rank sees
    # about 1/world_size of the images per epoch, batch_size at a time.
    per_rank = -(-len(train_set) // env.world_size)
    loader = DataLoader(
        train_set,
        batch_size=s["batch_size"],
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=per_rank >= 2 * s["batch_size"],
    )

    overrides: dict[str, Any] = {"preset": s["preset"]}
    if s["n_blocks"] is not None:
        overrides["n_blocks"] = s["n_blocks"]
    if s["base_channels"] is not None:
        overrides["base_channels"] = s["base_channels"]
    if s["d_base_channels"] is not None:
        overrides["d_base_channels"] = s["d_base_channels"]
    # None: the recipe's own choice
    for key in ("ema", "lambda_identity", "r1_gamma"):
        if s[key] is not None:
            overrides[key] = s[key]
    resumed: dict[str, Any] | None = None
    if resume is not None:
        # read once: its model config can decide how the networks are built, then it is loaded
        resumed = load_checkpoint_file(resume, map_location="cpu")
        kept = _recipe_choices_kept(resumed, s["recipe"])
        if kept:
            overrides.update(kept)
            say(
                f"{resume} was trained by the {s['recipe']} recipe as it was before these "
                f"options: resuming with {kept}"
            )
    torch.manual_seed(args.seed)
    spec = recipe(
        s["recipe"],
        **overrides,
        lr=s["lr"],
        epochs=s["epochs"],
        decay_epochs=s["decay_epochs"],
        pool_size=s["pool_size"],
        seed=args.seed,
        log_every=s["log_every"],
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        compile_mode=args.compile_mode,
        cudnn_benchmark=args.cudnn_benchmark,
        tf32=args.tf32,
    )
    model, config = spec.model, spec.config
    fixed_x, fixed_y = _fixed_images(fixed_set, 4)
    callbacks: list[Callback] = []
    if not args.no_progress:
        callbacks.append(ProgressBar())
    callbacks += spec.callbacks  # the recipe's (an EMA for "improved")
    checkpoints = ModelCheckpoint(
        out / "checkpoints", every_n_steps=s["checkpoint_every"], every_n_epochs=1, keep_last=3
    )
    samples = SampleGrid(out / "samples", fixed_x, fixed_y, every_n_steps=s["sample_every"])
    callbacks += [MetricsLogger(out / "metrics.csv"), samples, checkpoints]
    plot_path: Path | None = out / "loss_plot.png"
    try:
        callbacks.append(LossPlot(out / "loss_plot.png"))
    except ImportError as err:
        plot_path = None
        say(f"note: no loss plot ({err})")

    trainer = CycleTrainer(model, config, callbacks=callbacks, device=device)
    if resume is not None:
        assert resumed is not None
        trainer.load_state_dict(resumed, source=resume)
        say(f"resumed from {resume} at step {trainer.state.step} (epoch {trainer.state.epoch})")
    elif args.resume == "auto":
        say(f"no checkpoint in {out / 'checkpoints'}; starting a new run")
    n_params = sum(p.numel() for p in model.parameters())
    batch = f"batch {s['batch_size']}"
    where = f"device {device}"
    if env.is_distributed:
        batch += f" per process ({s['batch_size'] * env.world_size} in all)"
        where = f"{env.world_size} processes (device {device} on rank 0)"
    say(
        f"training {s['preset']} ({n_params:,} parameters) on {len(train_set)} images/epoch, "
        f"{_input_text(s)}, {batch}, {config.total_epochs} epochs, {where}"
    )
    if env.is_global_zero:
        _write_json(
            out / "run.json",
            {
                "settings": s,
                "seed": args.seed,
                "data": str(data_root),
                "world_size": env.world_size,
            },
        )
    t0 = time.perf_counter()
    trainer.fit(loader, max_steps=s["max_steps"])
    elapsed = time.perf_counter() - t0
    if not env.is_global_zero:
        return 0  # rank 0 evaluates and reports
    say(f"trained to step {trainer.state.step} in {elapsed:.0f} s")

    report: dict[str, Any] = {"step": trainer.state.step, "epoch": trainer.state.epoch}
    eval_path: Path | None = None
    if test_set is not None and args.demo:
        generator = trainer.inference_generator("xy")
        scores = evaluate_paired(generator, test_set, device=device)
        baseline = ColorTransfer.fit(
            UnpairedImageDataset.from_root(data_root, "train", size=s["size"], train=False)
        )
        color = evaluate_paired(baseline, test_set, device="cpu")
        report.update(scores)
        report.update({f"color_transfer_{k}": v for k, v in color.items() if "identity" not in k})
        eval_path = out / "eval.json"
        _write_json(eval_path, report)
        say(
            f"paired test L1 (summer->winter, lower is better): generator "
            f"{scores['l1']:.3f}, colour transfer {color['l1']:.3f}, identity "
            f"{scores['identity_l1']:.3f}; SSIM generator {scores['ssim']:.3f}"
        )
    say(f"run folder: {out}")
    say(f"  checkpoints: {checkpoints.last_path}")
    latest = out / "samples" / "latest.png"
    if latest.exists():
        say(f"  samples:     {latest} (real | translated | reconstructed; all in {latest.parent})")
    if plot_path is not None:
        say(f"  loss plot:   {plot_path}")
    say(f"  metrics:     {out / 'metrics.csv'}")
    if eval_path is not None:
        say(f"  evaluation:  {eval_path}")
    return 0


# ------------------------------------------------------------------------- translate/export
def _translate(args: argparse.Namespace) -> int:
    from unpaired_i2i.inference import UnreadableImagesError, translate
    from unpaired_i2i.tiling import plan_tiling

    for flag, value in (("--overlap", args.overlap), ("--tile-stats", args.tile_stats)):
        if value is not None and args.tile is None:
            raise UsageError(f"argument {flag}: applies to tiled translation; add --tile PX")
    device = _device(args.device)
    generator = _generator(args, device)
    if args.tile is not None:
        overlap = 32 if args.overlap is None else args.overlap
        try:
            plan = plan_tiling(
                generator,
                (2 * args.tile, 2 * args.tile),
                tile=args.tile,
                overlap=overlap,
                stats=args.tile_stats or "exact",
            )
        except ValueError as err:
            raise UsageError(f"argument --tile: {err}") from None
        kind = "exact" if plan.stats == "exact" else "approximate (thumbnail)"
        _say(
            f"tiled translation: tiles of {plan.tile} px with {plan.overlap} px of overlap; "
            f"{kind} statistics of {plan.norm_layers} norm layers: {plan.passes} pass(es) over "
            "the tiles of each image larger than one tile"
        )
    out = Path(args.out)
    failures: list[tuple[Path, str]] = []
    with _removed_if_left_empty(out):
        try:
            written = len(
                translate(
                    generator,
                    list(args.inputs),
                    output_dir=out,
                    size=args.size,
                    batch_size=args.batch_size,
                    device=device,
                    tile=args.tile,
                    overlap=args.overlap,
                    tile_stats=args.tile_stats,
                    amp=args.amp,
                    channels_last=args.channels_last,
                    self_ensemble=args.self_ensemble,
                )
            )
        except UnreadableImagesError as err:
            written, failures = len(err.results), err.failures
    for path, reason in failures:
        print(f"{PROG} translate: error: cannot read image {path}: {reason}", file=sys.stderr)
    if not failures:
        _say(f"translated {written} image(s) into {out}")
        return 0
    total = written + len(failures)
    if written:
        _say(f"translated {written} of {total} images into {out}")
    else:
        _say(f"translated none of {total} images; nothing written to {out}")
    return 1


def _export(args: argparse.Namespace) -> int:
    from unpaired_i2i.inference import export_generator

    generator = _generator(args, torch.device("cpu"))
    path = export_generator(generator, args.out, format=args.format, size=args.size)
    _say(f"exported the {args.direction} generator ({args.format}) to {path}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from unpaired_i2i.data import download_dataset

    path = download_dataset(
        args.name, args.root, url=args.url, sha256=args.sha256, verify=not args.no_verify
    )
    _say(f"dataset ready: {path}")
    return 0


def _download_model(args: argparse.Namespace) -> int:
    from unpaired_i2i.data import download_model

    path = download_model(args.name, args.root, url=args.url, sha256=args.sha256)
    _say(f"model ready: {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from unpaired_i2i.bench import BenchKind, format_result, run_benchmarks

    kind: BenchKind = "inference" if args.inference else "train"
    results = run_benchmarks(
        [BENCH_VARIANTS[v] for v in args.variants],
        kind=kind,
        preset=args.preset,
        size=args.size,
        batch_size=args.batch_size,
        n_blocks=args.n_blocks,
        base_channels=args.base_channels,
        steps=args.steps,
        warmup=args.warmup,
        repeats=args.repeats,
        device=_device(args.device),
        output=args.json,
        markdown=args.markdown,
    )
    machine = results[0]["machine"]
    flags = ", ".join(machine["cpu_flags"]) or "no AVX2"
    cpu = f"{machine['cpu_model']}, {flags}, {machine['torch_threads']} threads"
    where = machine.get("device_name") or f"{machine['device']} ({cpu})"
    _say(f"{kind}: {args.preset} {args.size}x{args.size}, batch {args.batch_size}, on {where}")
    for result in results:
        _say(format_result(result))
    for path in (args.json, args.markdown):
        if path:
            _say(f"wrote {path}")
    return 0


_COMMANDS = {
    "train": _train,
    "translate": _translate,
    "export": _export,
    "download": _download,
    "download-model": _download_model,
    "bench": _bench,
    "evaluate": run_evaluate,
}


def _rank_tag() -> str:
    """`` (rank R)`` for the error lines of ranks other than 0 under ``torchrun``, else ``""``.

    Every rank that fails prints its own error (it may be the only one that failed); rank 0's
    line reads as in a single process.
    """
    from unpaired_i2i.training.distributed import detect

    try:
        env = detect()
    except ValueError:  # a malformed torchrun environment: train reports it
        return ""
    return f" (rank {env.rank})" if env.is_distributed and not env.is_global_zero else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage, 130 interrupt).

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    from unpaired_i2i.data import DownloadError
    from unpaired_i2i.training import CheckpointError, NonFiniteLossError

    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), "")
    prog = f"{PROG} {command}".strip() if command in _COMMANDS else PROG
    prog += _rank_tag()
    try:
        args = build_parser().parse_args(args_list)
        return _COMMANDS[args.command](args)
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except CommandError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; continue with --resume auto", file=sys.stderr)
        return 130
    except (
        CheckpointError,
        DownloadError,
        NonFiniteLossError,
        ImportError,
        ValueError,  # includes ShapeError
        OSError,  # includes FileNotFoundError and CorruptImageError
    ) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
