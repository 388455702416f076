"""The ``unpaired-i2i`` command line.

Commands: ``train``, ``translate``, ``export``, ``download``, ``download-model``, ``evaluate``,
``bench``.

``unpaired-i2i train --demo`` makes the built-in summer/winter data, trains a small CycleGAN on
the CPU in a few minutes and leaves a run folder with checkpoints, sample grids, a loss plot,
the metrics log and the paired evaluation of the final generator. Bad arguments get one clear
line on stderr and exit status 2, never a traceback.

``parser`` holds the options and their help; ``commands`` (and ``evaluate``) what each command
does; ``_common`` what they share (errors, option types, help texts, checkpoint and generator
loading).
"""

from unpaired_i2i.cli.commands import main
from unpaired_i2i.cli.parser import (
    DATA_DEFAULTS,
    DEFAULT_RECIPE,
    DEMO_DEFAULTS,
    PROG,
    build_parser,
)

__all__ = ["DATA_DEFAULTS", "DEFAULT_RECIPE", "DEMO_DEFAULTS", "PROG", "build_parser", "main"]
