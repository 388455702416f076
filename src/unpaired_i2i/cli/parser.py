"""The ``unpaired-i2i`` argument parser: every command, option, default, help text and example.

``unpaired-i2i train --demo`` makes the built-in summer/winter data, trains a small CycleGAN on
the CPU in a few minutes and leaves a run folder with checkpoints, sample grids, a loss plot,
the metrics log and the paired evaluation of the final generator. Bad arguments get one clear
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
from typing import Any

from unpaired_i2i.bench import BENCH_VARIANTS
from unpaired_i2i.cli._common import (
    _CHECKPOINT_HELP,
    _DEVICE_HELP,
    _DIRECTION_HELP,
    _GEN_BLOCKS_HELP,
    _NO_EMA_HELP,
    _PRESET_HELP,
    PROG,
    CommandError,
    UsageError,
    _HelpFormatter,
    _non_negative_float,
    _non_negative_int,
    _Parser,
    _positive_float,
    _positive_int,
    _subparser,
    _unit_float,
)
from unpaired_i2i.recipes import RECIPES

__all__ = [
    "DATA_DEFAULTS",
    "DEFAULT_RECIPE",
    "DEMO_DEFAULTS",
    "PROG",
    "CommandError",
    "UsageError",
    "build_parser",
]


#: The recipe ``train`` starts from (see :func:`unpaired_i2i.recipe`): ``improved`` reached a
#: lower paired L1 than ``reference`` at equal steps on held-out scenes (training guide).
DEFAULT_RECIPE = "improved"

#: Settings of ``train --demo`` (each can still be overridden on the command line). Chosen so
#: the run takes minutes on two CPU cores (2,400 steps); the recipes guide compares the recipes
#: on the same data.
DEMO_DEFAULTS: dict[str, Any] = {
    "recipe": DEFAULT_RECIPE,
    "preset": "cyclegan",
    "size": 64,
    "batch_size": 1,
    "base_channels": 16,
    "d_base_channels": 16,
    "n_blocks": 3,
    "epochs": 7,
    "decay_epochs": 5,
    "max_steps": None,
    "lr": 2e-4,
    "pool_size": 50,
    "lambda_identity": None,
    "r1_gamma": None,
    "log_every": 25,
    "sample_every": 250,
    "checkpoint_every": 250,
    "n_train": 200,
    "n_test": 16,
    "ema": None,
    "load_size": None,
    "preprocess": "resize_and_crop",
    "flip": True,
}

#: Defaults of ``train --data`` (the reference's, at 256x256 with 9 blocks).
DATA_DEFAULTS: dict[str, Any] = {
    "recipe": DEFAULT_RECIPE,
    "preset": "cyclegan",
    "size": 256,
    "batch_size": 1,
    "base_channels": None,
    "d_base_channels": None,
    "n_blocks": None,
    "epochs": 100,
    "decay_epochs": 100,
    "max_steps": None,
    "lr": 2e-4,
    "pool_size": 50,
    "lambda_identity": None,
    "r1_gamma": None,
    "log_every": 100,
    "sample_every": 1000,
    "checkpoint_every": 1000,
    "n_train": None,
    "n_test": None,
    "ema": None,
    "load_size": None,
    "preprocess": "resize_and_crop",
    "flip": True,
}


def _text(value: object) -> str:
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _by_source(key: str, *, demo: str | None = None, data: str | None = None) -> str:
    """``(default: D with --demo, R with --data)`` for a ``train`` setting."""
    on_demo = _text(DEMO_DEFAULTS[key]) if demo is None else demo
    on_data = _text(DATA_DEFAULTS[key]) if data is None else data
    if on_demo == on_data:
        return f"(default: {on_demo})"
    return f"(default: {on_demo} with --demo, {on_data} with --data)"


_TRAIN_EPILOG = f"""\
The defaults depend on the data:
  --demo  a small model at 64x64 (width 16, 3 residual blocks), 7 + 5 epochs on 200 scenes per
          season: about 4 minutes on 2 CPU cores
  --data  the reference settings: 256x256, the 9-block generator, 100 + 100 epochs (200 in
          all), batch 1: hours to days, on a GPU

Before training, every image file is checked; unreadable ones are all listed at once.

Several GPUs: start one process per GPU with torchrun (python -m torch.distributed.run).
Each process trains on cuda:LOCAL_RANK with --batch-size images per step, so the global batch
is --batch-size x the number of processes; rank 0 alone writes the run folder and prints.
Several machines: add torchrun's usual --nnodes, --node_rank and --rdzv_endpoint flags, with
RUN_DIR (and --data) on a filesystem every machine shares.

examples:
  {PROG} train --demo
  {PROG} train --demo --resume auto              # continue an interrupted run
  {PROG} train --data datasets/summer2winter_yosemite --out runs/yosemite
  {PROG} train --data photos/ --size 128 --n-blocks 6 --device cuda --amp bf16
  {PROG} train --data photos/ --preprocess scale_width_and_crop --load-size 512 --crop-size 256
  torchrun --nproc_per_node=2 -m unpaired_i2i train --data datasets/summer2winter_yosemite
"""

_TRANSLATE_EPILOG = f"""\
Every readable image is translated; each unreadable one is reported on its own line (stderr)
and the exit status is then 1.

examples:
  {PROG} translate runs/demo my_photos/ --out winter/
  {PROG} translate runs/yosemite/checkpoints/last.pt a.jpg b.jpg --out out/ --direction yx
  {PROG} translate runs/yosemite IMG_4000x3000.jpg --out out/ --tile 512   # bounded memory
"""

_EXPORT_EPILOG = f"""\
examples:
  {PROG} export runs/demo --out g_xy.pt                   # TorchScript
  {PROG} export runs/demo --out g_yx.onnx --format onnx --direction yx
"""

_DOWNLOAD_EPILOG = f"""\
The archive's SHA-256 is checked where a digest is recorded (apple2orange, cezanne2photo,
facades, horse2zebra, iphone2dslr_flower, maps, monet2photo, summer2winter_yosemite,
ukiyoe2photo, vangogh2photo), from the default server or a mirror alike.

examples:
  {PROG} download summer2winter_yosemite --root datasets
  {PROG} download horse2zebra --url file:///mnt/mirror/horse2zebra.zip
"""

_DOWNLOAD_MODEL_EPILOG = f"""\
The file is checked for its size and for loading as a state dict of tensors (nothing in it
runs); no digests are published for these files, so pass --sha256 to pin one.

examples:
  {PROG} download-model summer2winter_yosemite
  {PROG} translate ~/.cache/unpaired-i2i/models/summer2winter_yosemite.pth photo.jpg --out out/
  {PROG} download-model horse2zebra --url https://mirror.example/horse2zebra.pth --root models
"""

_BENCH_EPILOG = f"""\
Every variant is built in this process, warmed up (the warm-up time, compilation included, is
reported), then timed in alternation with the others, and reported with its spread, peak
memory and its ratio against plain-eager-fp32: the reference's step written the plain way.

examples:
  {PROG} bench
  {PROG} bench --variants eager-fp32 compile+channels_last --steps 3
  {PROG} bench --size 256 --n-blocks 9 --variants bf16 bf16+compile --json bench.json
  {PROG} bench --inference --size 1024 --variants bf16+channels_last
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the ``unpaired-i2i`` argument parser (one subcommand per job)."""
    from unpaired_i2i import __version__
    from unpaired_i2i.data.download import DATASET_NAMES, MODEL_NAMES
    from unpaired_i2i.data.transforms import PREPROCESS_MODES
    from unpaired_i2i.models.generators import GENERATOR_PRESETS

    parser = _Parser(
        prog=PROG,
        description="Unpaired image-to-image translation (CycleGAN).",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options and examples.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    train = _subparser(
        sub,
        "train",
        "train a CycleGAN on two image folders or the demo data",
        "Train a CycleGAN on two folders of unpaired images (--data) or on the built-in "
        "summer/winter scenes (--demo), leaving a run folder with checkpoints, sample grids, "
        "the loss log and plot.",
        _TRAIN_EPILOG,
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data",
        metavar="ROOT",
        help="dataset root: trainA/ + trainB/ (and testA/ + testB/), train/ with two domain "
        "folders, or two domain folders; X is the first domain (A, X, or the first by name)",
    )
    source.add_argument(
        "--demo",
        action="store_true",
        help="train on the built-in summer (X) / winter (Y) scenes, drawn into RUN_DIR/data",
    )
    train.add_argument(
        "--out",
        metavar="RUN_DIR",
        help="run folder (default: runs/demo with --demo, runs/<name of ROOT> with --data)",
    )
    train.add_argument(
        "--resume",
        metavar="CKPT|auto",
        help="continue from a checkpoint (.pt) or a run folder; 'auto': from RUN_DIR's "
        "checkpoints/last.pt if there is one (default: start a new run)",
    )
    train.add_argument(
        "--recipe",
        choices=RECIPES,
        help="what to start from: improved (the reference's networks as residual generators "
        "with a per-pixel colour matrix of the input's detail, no identity term, an EMA of "
        "the generators with warm-up, discriminators without normalisation: lower paired L1 "
        "at equal steps, shorter steps) or reference (the reference CycleGAN exactly); the options "
        "below change it " + _by_source("recipe"),
    )
    train.add_argument(
        "--preset",
        choices=("cyclegan", "basic"),
        help="network layout: cyclegan (the reference ResNet generator, 70x70 PatchGAN) or "
        "basic (compact, BatchNorm, 3 downsamplings) " + _by_source("preset"),
    )
    train.add_argument(
        "--size",
        type=_positive_int,
        help="training crop side in pixels, a multiple of 4 (8 for basic); smaller images are "
        "first scaled up to this shorter side " + _by_source("size"),
    )
    train.add_argument(
        "--crop-size",
        dest="size",
        type=_positive_int,
        help="the same as --size, by the reference's name (default: as --size)",
    )
    train.add_argument(
        "--load-size",
        type=_positive_int,
        help="side (resize_and_crop) or width (scale_width*) images are resized to before the "
        "crop, at least --size (default: --size x 286 / 256, 286 for 256)",
    )
    train.add_argument(
        "--preprocess",
        choices=PREPROCESS_MODES,
        help="resize_and_crop: to --load-size square, then crop; scale_width_and_crop: width "
        "to --load-size keeping the aspect ratio, then crop; crop: crop at the original "
        "resolution; scale_width, none: no crop, each image its own size (batch 1). Images "
        "smaller than --size are scaled up, keeping the aspect ratio "
        "(default: resize_and_crop)",
    )
    train.add_argument(
        "--no-flip",
        dest="flip",
        action="store_false",
        default=None,
        help="no random horizontal flips of the training images (default: flips on)",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        help="images per training step in each process; under torchrun the global batch is this "
        "x the number of processes " + _by_source("batch_size"),
    )
    train.add_argument(
        "--base-channels",
        type=_positive_int,
        help="generator width (channels of its first layer) "
        + _by_source("base_channels", data="64"),
    )
    train.add_argument(
        "--d-base-channels",
        type=_positive_int,
        help="discriminator width " + _by_source("d_base_channels", data="64"),
    )
    train.add_argument(
        "--n-blocks",
        type=_non_negative_int,
        help="residual blocks per generator "
        + _by_source("n_blocks", data="9 (6 for --preset basic)"),
    )
    train.add_argument(
        "--epochs",
        type=_non_negative_int,
        help="epochs at the full learning rate " + _by_source("epochs"),
    )
    train.add_argument(
        "--decay-epochs",
        type=_non_negative_int,
        help="epochs of linear learning-rate decay to 0 after --epochs "
        + _by_source("decay_epochs"),
    )
    train.add_argument(
        "--max-steps",
        type=_positive_int,
        help="stop after this many steps in total (default: no limit)",
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        help="Adam learning rate of the generators and discriminators " + _by_source("lr"),
    )
    train.add_argument(
        "--pool-size",
        type=_non_negative_int,
        help="past generated images each discriminator also sees (0: no pool) "
        + _by_source("pool_size"),
    )
    train.add_argument(
        "--lambda-identity",
        type=_non_negative_float,
        help="weight of the identity loss relative to the cycle loss (0: off) (default: the "
        "recipe's: 0.5 for reference, 0 for improved)",
    )
    train.add_argument(
        "--r1-gamma",
        type=_non_negative_float,
        help="weight of the R1 gradient penalty on real images in the discriminators' loss "
        "(0: off) (default: 0, as in both recipes)",
    )
    train.add_argument(
        "--ema",
        type=_unit_float,
        help="EMA decay of the generator weights used for samples, evaluation, translate and "
        "export (0: off) (default: the recipe's: 0.999 with warm-up for improved, off for "
        "reference)",
    )
    train.add_argument(
        "--log-every",
        type=_positive_int,
        help="record the losses in metrics.csv every this many steps " + _by_source("log_every"),
    )
    train.add_argument(
        "--sample-every",
        type=_positive_int,
        help="write a sample grid (samples/step-*.png and samples/latest.png) every this many "
        "steps " + _by_source("sample_every"),
    )
    train.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        help="write a checkpoint every this many steps, and at the end of every epoch "
        + _by_source("checkpoint_every"),
    )
    train.add_argument(
        "--num-workers",
        type=_non_negative_int,
        help="data loader worker processes (default: 4 on CUDA, 0 on the CPU)",
    )
    train.add_argument(
        "--device",
        help="cpu, cuda, cuda:1, ... (default: cuda if available, else cpu; under torchrun "
        "with CUDA each process takes cuda:LOCAL_RANK, so leave it out or pass cuda)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the initial weights, the data order and (--demo) the scenes",
    )
    train.add_argument(
        "--amp",
        choices=("off", "bf16", "fp16", "auto"),
        default="off",
        help="mixed precision: off, bf16 (CUDA or CPU), fp16 (CUDA), or auto: bf16 where it is "
        "faster (CUDA with bf16, CPUs with AMX or AVX-512 BF16), else off",
    )
    train.add_argument(
        "--channels-last",
        action="store_true",
        help="use the channels-last memory format (faster convolutions on recent GPUs)",
    )
    train.add_argument(
        "--compile",
        action="store_true",
        help="compile the four networks with torch.compile (the first steps take minutes)",
    )
    train.add_argument(
        "--compile-mode",
        choices=("default", "reduce-overhead", "max-autotune"),
        default="default",
        help="torch.compile mode with --compile: reduce-overhead uses CUDA graphs (small "
        "batches on a GPU)",
    )
    train.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="CUDA: let cuDNN pick the fastest convolution algorithms for the input size",
    )
    train.add_argument(
        "--tf32",
        action="store_true",
        help="CUDA: let float32 matrix products and convolutions use TF32 tensor cores",
    )
    train.add_argument(
        "--n-train",
        type=_positive_int,
        help=f"--demo only: training scenes per season (default: {DEMO_DEFAULTS['n_train']})",
    )
    train.add_argument(
        "--n-test",
        type=_positive_int,
        help=f"--demo only: paired test scenes (default: {DEMO_DEFAULTS['n_test']})",
    )
    train.add_argument(
        "--skip-corrupt",
        action="store_true",
        help="train without the image files that cannot be read (they are listed) instead of "
        "stopping before training",
    )
    train.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar and progress lines"
    )

    tr = _subparser(
        sub,
        "translate",
        "translate images with a trained generator",
        "Translate image files or folders with a trained generator and save each result as a "
        "PNG of the same size.",
        _TRANSLATE_EPILOG,
    )
    tr.add_argument("checkpoint", help=_CHECKPOINT_HELP)
    tr.add_argument(
        "inputs",
        nargs="+",
        help="image files or folders (every image directly in a folder; subfolders are not "
        "searched)",
    )
    tr.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder, created when the first result is saved: <input name>.png each",
    )
    tr.add_argument("--direction", choices=("xy", "yx"), default="xy", help=_DIRECTION_HELP)
    tr.add_argument(
        "--size",
        type=_positive_int,
        help="first resize each image so its shorter side has this many pixels (default: keep "
        "each image's size)",
    )
    tr.add_argument("--no-ema", action="store_true", help=_NO_EMA_HELP)
    tr.add_argument("--preset", choices=tuple(GENERATOR_PRESETS), help=_PRESET_HELP)
    tr.add_argument("--n-blocks", type=_non_negative_int, help=_GEN_BLOCKS_HELP)
    tr.add_argument("--device", help=_DEVICE_HELP)
    tr.add_argument(
        "--batch-size",
        type=_positive_int,
        help="images per generator call (default: 8, or 1 with --tile)",
    )
    tr.add_argument(
        "--tile",
        type=_positive_int,
        metavar="PX",
        help="translate each image in tiles of at most PX x PX pixels (plus --overlap around "
        "each): memory set by the tile, not the image, and the result that of the whole image "
        "(exact InstanceNorm statistics, one pass over the tiles per norm layer); default: "
        "each image whole",
    )
    tr.add_argument(
        "--overlap",
        type=_non_negative_int,
        metavar="PX",
        help="pixels of context around each tile (default: 32; only with --tile)",
    )
    tr.add_argument(
        "--tile-stats",
        choices=("exact", "thumbnail"),
        help="norm statistics of tiled translation: exact (whole image) or thumbnail (a faster "
        "approximation from the image shrunk to one tile) (default: exact; only with --tile)",
    )
    tr.add_argument(
        "--amp",
        choices=("off", "bf16", "fp16"),
        default="off",
        help="mixed precision: off, bf16 or fp16 autocast (fast on GPUs; slow on CPUs without "
        "native bf16/fp16)",
    )
    tr.add_argument(
        "--channels-last",
        action="store_true",
        help="use the channels-last memory format (faster convolutions on recent GPUs)",
    )
    tr.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average each translation with that of the mirrored image, mirrored back (twice "
        "the time; slightly more accurate for generators trained with random mirrors)",
    )

    ex = _subparser(
        sub,
        "export",
        "export a trained generator (TorchScript or ONNX)",
        "Export one trained generator as a TorchScript or ONNX file that runs without this "
        "library.",
        _EXPORT_EPILOG,
    )
    ex.add_argument("checkpoint", help=_CHECKPOINT_HELP)
    ex.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="file to write (.pt for TorchScript, .onnx for ONNX)",
    )
    ex.add_argument(
        "--format",
        choices=("torchscript", "onnx"),
        default="torchscript",
        help="torchscript (torch.jit.trace) or onnx (needs: pip install 'unpaired-i2i[onnx]')",
    )
    ex.add_argument("--direction", choices=("xy", "yx"), default="xy", help=_DIRECTION_HELP)
    ex.add_argument(
        "--size",
        type=_positive_int,
        default=256,
        help="side of the example input the export runs on; the result accepts other sizes",
    )
    ex.add_argument("--no-ema", action="store_true", help=_NO_EMA_HELP)
    ex.add_argument("--preset", choices=tuple(GENERATOR_PRESETS), help=_PRESET_HELP)
    ex.add_argument("--n-blocks", type=_non_negative_int, help=_GEN_BLOCKS_HELP)

    dl = _subparser(
        sub,
        "download",
        "download a public CycleGAN dataset",
        "Download and extract one of the datasets published with the reference CycleGAN "
        "implementation into ROOT/NAME (reference layout: trainA/ trainB/ testA/ testB/).",
        _DOWNLOAD_EPILOG,
    )
    dl.add_argument("name", help="dataset name, one of: " + ", ".join(DATASET_NAMES))
    dl.add_argument(
        "--root", default="datasets", metavar="DIR", help="folder the dataset is extracted into"
    )
    dl.add_argument(
        "--url",
        help="zip to fetch instead, e.g. a mirror or a file:// copy (default: the reference "
        "implementation's server)",
    )
    dl.add_argument(
        "--sha256",
        metavar="HEX",
        help="expected SHA-256 of the archive (default: the digest recorded for NAME, if any)",
    )
    dl.add_argument(
        "--no-verify",
        action="store_true",
        help="accept an archive that differs from the recorded digest",
    )

    dm = _subparser(
        sub,
        "download-model",
        "download a published pretrained generator",
        "Download one of the pretrained CycleGAN generators published with the reference "
        "implementation to ROOT/NAME.pth, ready for translate and export.",
        _DOWNLOAD_MODEL_EPILOG,
    )
    dm.add_argument("name", help="model name, one of: " + ", ".join(MODEL_NAMES))
    dm.add_argument(
        "--root",
        metavar="DIR",
        help="folder the file is saved in (default: $UNPAIRED_I2I_CACHE/models, else "
        "~/.cache/unpaired-i2i/models)",
    )
    dm.add_argument(
        "--url",
        help="file to fetch instead, e.g. a mirror or a file:// copy (default: the reference "
        "implementation's server)",
    )
    dm.add_argument("--sha256", metavar="HEX", help="expected SHA-256 of the file (checked)")

    bench = _subparser(
        sub,
        "bench",
        "time the training step or inference (plain eager fp32 vs fast paths)",
        "Time the full CycleGAN training step (both generators and discriminators), or the "
        "generator's inference, for each variant, against the plain eager float32 loop.",
        _BENCH_EPILOG,
    )
    bench.add_argument(
        "--inference",
        action="store_true",
        help="time g_xy's forward pass in eval mode instead of the training step",
    )
    bench.add_argument(
        "--preset", choices=("cyclegan", "basic"), default="cyclegan", help="network layout"
    )
    bench.add_argument("--size", type=_positive_int, default=128, help="image side in pixels")
    bench.add_argument("--batch-size", type=_positive_int, default=1, help="images per step")
    bench.add_argument(
        "--n-blocks", type=_non_negative_int, default=6, help="residual blocks per generator"
    )
    bench.add_argument(
        "--base-channels",
        type=_positive_int,
        help="generator width (default: 64)",
    )
    bench.add_argument(
        "--steps", type=_positive_int, default=5, help="timed steps per variant and round"
    )
    bench.add_argument(
        "--warmup",
        type=_non_negative_int,
        default=3,
        help="untimed steps per variant before timing (compilation happens here)",
    )
    bench.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="rounds; each round times every variant in turn",
    )
    bench.add_argument("--device", help=_DEVICE_HELP)
    bench.add_argument(
        "--variants",
        nargs="+",
        default=["eager-fp32"],
        choices=tuple(BENCH_VARIANTS),
        metavar="VARIANT",
        help="what to time besides plain-eager-fp32 (always timed), one or more of: "
        + ", ".join(BENCH_VARIANTS)
        + " (default: eager-fp32)",
    )
    bench.add_argument(
        "--json", metavar="PATH", help="also write the report as JSON (default: print only)"
    )
    bench.add_argument(
        "--markdown",
        metavar="PATH",
        help="also write the report as a Markdown table (default: print only)",
    )
    from unpaired_i2i.cli.evaluate import add_evaluate_parser

    add_evaluate_parser(sub)
    return parser
