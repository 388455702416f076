"""``python -m unpaired_i2i``: the same command line as ``unpaired-i2i``."""

from unpaired_i2i.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
