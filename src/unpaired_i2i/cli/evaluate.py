"""The ``unpaired-i2i evaluate`` command: paired scores and FID / KID of a trained generator.

``evaluate RUN_OR_CKPT --data ROOT`` translates the test split of ROOT with one generator of the
run and prints what can be measured there: the paired L1 / PSNR / SSIM when the two test
folders hold true pairs (the same file names in both, as the demo data does), and FID / KID
against the real target images when a feature extractor is available (the FID Inception weights
from ``--weights``, the environment variable or torch's cache, or ``--feature-extractor``).
``--json`` prints the results as JSON (or writes them to a file).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["add_evaluate_parser", "run_evaluate"]

_EPILOG = """\
Paired L1 / PSNR / SSIM need true pairs: the two test folders must hold the same file names
(testA/0007.png is the counterpart of testB/0007.png, as in the demo data). FID / KID need
the FID Inception weights file weights-inception-2015-12-05-6726825d.pth (never downloaded;
see the documentation's metrics page), from --weights, the environment variable
UNPAIRED_I2I_FID_WEIGHTS or torch's cache; without it, FID / KID are skipped with a note.
FID is biased upward below a few thousand images: compare numbers of one protocol only.

examples:
  {prog} evaluate runs/demo --data runs/demo/data
  {prog} evaluate runs/yosemite --data datasets/summer2winter_yosemite --weights inception.pth
  {prog} evaluate runs/yosemite/checkpoints/last.pt --data datasets/summer2winter_yosemite \\
      --direction yx --json scores.json
"""


def add_evaluate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to the subparsers ``sub`` of the main parser.

    Args:
        sub: What ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The subcommand's parser.
    """
    from unpaired_i2i.cli._common import (
        _CHECKPOINT_HELP,
        _DEVICE_HELP,
        _DIRECTION_HELP,
        _NO_EMA_HELP,
        PROG,
        _non_negative_int,
        _positive_int,
        _subparser,
    )

    ev = _subparser(
        sub,
        "evaluate",
        "score a trained generator (paired L1/PSNR/SSIM, FID/KID)",
        "Translate the test split of a dataset with a trained generator and score it: paired "
        "L1 / PSNR / SSIM when the test folders hold true pairs, FID / KID against the real "
        "target images when the Inception weights (or another feature extractor) are available.",
        _EPILOG.format(prog=PROG),
    )
    ev.add_argument("checkpoint", metavar="RUN_OR_CKPT", help=_CHECKPOINT_HELP)
    ev.add_argument(
        "--data",
        required=True,
        metavar="ROOT",
        help="dataset root holding the split: testA/ + testB/ (reference layout) or test/ with "
        "two domain folders; X is the first domain",
    )
    ev.add_argument(
        "--split", default="test", help="the split to score (the test split is the protocol)"
    )
    ev.add_argument("--direction", choices=("xy", "yx"), default="xy", help=_DIRECTION_HELP)
    ev.add_argument(
        "--weights",
        metavar="PATH",
        help="the FID Inception weights file weights-inception-2015-12-05-6726825d.pth "
        "(default: $UNPAIRED_I2I_FID_WEIGHTS, else torch's cache; FID/KID are skipped with a "
        "note when there is none)",
    )
    ev.add_argument(
        "--feature-extractor",
        metavar="PATH",
        help="a feature extractor file, used instead of the Inception (scores then not "
        "comparable with FID): a torch.export program (.pt2) or a TorchScript module mapping "
        "(N, 3, H, W) float images in [0, 1] to (N, D) features (default: the Inception)",
    )
    ev.add_argument(
        "--size",
        type=_positive_int,
        help="side the test images are resized and centre-cropped to (default: the run's "
        "training size from its run.json, else 256)",
    )
    ev.add_argument("--batch-size", type=_positive_int, default=16, help="images per call")
    ev.add_argument("--kid-subsets", type=_positive_int, default=100, help="number of KID subsets")
    ev.add_argument(
        "--kid-subset-size",
        type=_positive_int,
        default=1000,
        help="images per KID subset, lowered to the smaller set's size",
    )
    ev.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the KID subsets")
    ev.add_argument("--no-ema", action="store_true", help=_NO_EMA_HELP)
    ev.add_argument("--device", help=_DEVICE_HELP)
    ev.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="print the results as JSON instead of text; with a PATH, write them there as well "
        "as printing the text (put --json last, or write --json=PATH) (default: text only)",
    )
    # What the shared generator loader reads for generator files (layout from the file).
    ev.set_defaults(preset=None, n_blocks=None)
    return ev


# ------------------------------------------------------------------------------ the command
class _Swapped(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A paired dataset with ``(y, x)`` items: scores the Y-to-X generator."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data[index]
        return y, x


def _stems(paths: list[Path], root: Path) -> list[str]:
    return [str(p.relative_to(root).with_suffix("")) for p in paths]


def _paired(dataset: Any) -> bool:
    """Whether the two folders hold the same file names (true pairs, served in order)."""
    return len(dataset.paths_x) == len(dataset.paths_y) and _stems(
        dataset.paths_x, dataset.root_x
    ) == _stems(dataset.paths_y, dataset.root_y)


def _run_size(checkpoint: Path) -> int | None:
    """The training crop size recorded in the run's ``run.json``, if there is one."""
    folder = checkpoint.parent
    run = folder.parent if folder.name == "checkpoints" else folder
    try:
        settings = json.loads((run / "run.json").read_text(encoding="utf-8"))["settings"]
        size = settings["size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats (PSNR of an exact prediction) become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


class _Exported(torch.nn.Module):
    """A ``torch.export`` program as a module, held outside the module tree and only called.

    An exported program cannot switch between train and eval mode (``eval()`` raises), so it
    is not registered as a submodule.
    """

    program: Any

    def __init__(self, program: Any) -> None:
        super().__init__()
        object.__setattr__(self, "program", program)  # not a submodule: eval() leaves it be

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.program(images)
        return out


def _feature_extractor(path_text: str, device: torch.device) -> torch.nn.Module:
    """A feature extractor file: ``torch.export`` (``.pt2``) or TorchScript (other names)."""
    from unpaired_i2i.cli._common import CommandError, UsageError

    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"argument --feature-extractor: file not found: {path}")
    kind = "torch.export program (.pt2)" if path.suffix == ".pt2" else "TorchScript module"
    try:
        if path.suffix == ".pt2":
            module: torch.nn.Module = _Exported(torch.export.load(str(path)).module().to(device))
        else:
            with warnings.catch_warnings():  # TorchScript still loads; torch says it is old
                warnings.filterwarnings("ignore", category=FutureWarning, message=".*jit.*")
                module = torch.jit.load(str(path), map_location=device)  # type: ignore[no-untyped-call]
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CommandError(
            f"cannot load the feature extractor {path} as a {kind}: {type(err).__name__}: {reason}"
        ) from err
    return module


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run ``unpaired-i2i evaluate`` with parsed arguments; returns the exit status.

    Args:
        args: The namespace :func:`add_evaluate_parser`'s options produce.

    Returns:
        0 when something was scored.

    Raises:
        UsageError: A bad argument (missing data folder, feature extractor file).
        CommandError: Nothing can be scored (no true pairs and no feature extractor).
    """
    from unpaired_i2i.cli._common import (
        CommandError,
        UsageError,
        _checkpoint_file,
        _device,
        _generator,
        _write_json,
    )
    from unpaired_i2i.data import UnpairedImageDataset, evaluate_paired
    from unpaired_i2i.metrics import InceptionWeightsError, evaluate_fid_kid

    root = Path(args.data)
    if not root.is_dir():
        raise UsageError(f"argument --data: folder not found: {root}")
    if args.weights is not None and args.feature_extractor is not None:
        raise UsageError(
            "argument --feature-extractor: not allowed with --weights (the Inception's); "
            "pass one of them"
        )
    if args.weights is not None and not Path(args.weights).is_file():
        raise UsageError(f"argument --weights: file not found: {args.weights}")
    device = _device(args.device)
    checkpoint = _checkpoint_file(args.checkpoint, missing="argument RUN_OR_CKPT: not found")
    size = args.size or _run_size(checkpoint) or 256
    generator = _generator(args, device)
    dataset = UnpairedImageDataset.from_root(root, args.split, size=size, train=False)
    direction = "x2y" if args.direction == "xy" else "y2x"
    names = dataset.domains if args.direction == "xy" else dataset.domains[::-1]
    counts = (len(dataset.paths_x), len(dataset.paths_y))
    if args.direction == "yx":
        counts = counts[::-1]
    quiet = args.json == "-"
    _say(
        f"evaluating the {args.direction} generator of {checkpoint} on {root} "
        f"({args.split}: {names[0]}, {counts[0]} images -> {names[1]}, {counts[1]} images; "
        f"{size}x{size}, device {device})",
        quiet,
    )
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "data": str(root),
        "split": args.split,
        "direction": args.direction,
        "domains": list(names),
        "size": size,
        "n_source": counts[0],
        "n_target": counts[1],
        "paired": None,
        "fid_kid": None,
        "notes": [],
    }

    if _paired(dataset):
        pairs = dataset if args.direction == "xy" else _Swapped(dataset)
        scores = evaluate_paired(generator, pairs, device=device, batch_size=args.batch_size)
        report["paired"] = {"n_pairs": counts[0], **scores}
        _say(
            f"paired ({counts[0]} true pairs): L1 {scores['l1']:.4f} | PSNR {scores['psnr']:.2f} "
            f"dB | SSIM {scores['ssim']:.4f}   (the input itself: L1 "
            f"{scores['identity_l1']:.4f} | PSNR {scores['identity_psnr']:.2f} dB | SSIM "
            f"{scores['identity_ssim']:.4f})",
            quiet,
        )
    else:
        note = (
            f"no paired scores: {names[0]} and {names[1]} do not hold the same file names "
            "(no true pairs)"
        )
        report["notes"].append(note)
        _say(f"note: {note}", quiet)

    extractor = None
    if args.feature_extractor is not None:
        extractor = _feature_extractor(args.feature_extractor, device)
    try:
        fid = evaluate_fid_kid(
            generator,
            dataset,
            dataset,
            direction=direction,  # type: ignore[arg-type]
            weights_path=args.weights,
            feature_extractor=extractor,
            batch_size=args.batch_size,
            kid_subsets=args.kid_subsets,
            kid_subset_size=args.kid_subset_size,
            seed=args.seed,
            device=device,
        )
    except (InceptionWeightsError, ImportError) as err:
        if args.weights is not None or extractor is not None:
            raise  # asked for explicitly: a failure, not a note
        if report["paired"] is None:
            raise CommandError(
                f"nothing to evaluate: the {args.split} folders hold no true pairs, and FID / "
                f"KID cannot be computed: {err}"
            ) from err
        report["notes"].append(f"no FID / KID: {err}")
        _say(f"note: no FID / KID: {err}", quiet)
    else:
        extractor_name = (
            f"feature extractor {args.feature_extractor}"
            if extractor is not None
            else "Inception, 2048 pool features"
        )
        report["fid_kid"] = {**fid, "features": extractor_name, "kid_subsets": args.kid_subsets}
        _say(
            f"FID {fid['fid']:.3f} | KID {fid['kid_mean']:.5f} +- {fid['kid_std']:.5f} "
            f"({fid['n_translated']} translated vs {fid['n_real']} real images; KID "
            f"{args.kid_subsets} subsets of {fid['kid_subset_size']}; {extractor_name})",
            quiet,
        )
        if min(fid["n_translated"], fid["n_real"]) < 2000:
            note = (
                "FID is biased upward with fewer than a few thousand images: compare only "
                "scores computed with the same protocol and image counts"
            )
            report["notes"].append(note)
            _say(f"note: {note}", quiet)

    result = _finite(report)
    if args.json == "-":
        print(json.dumps(result, indent=2), flush=True)
    elif args.json is not None:
        _write_json(Path(args.json), result)
        _say(f"wrote {args.json}", quiet)
    sys.stdout.flush()
    return 0
