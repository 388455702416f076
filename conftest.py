"""Doctests that need an optional extra are skipped, not failed, when it is not installed.

``pip install -e ".[test]" && python -m pytest`` runs the doctests of ``src/unpaired_i2i`` too
(``--doctest-modules``), and some examples construct an object that needs an optional package
(``LossPlot`` needs matplotlib). Tests in ``tests/`` use ``pytest.importorskip`` for the same
purpose; a doctest cannot, so the examples are matched here by the names they use.
"""

from __future__ import annotations

import importlib.util

import pytest

#: A doctest whose source contains the key needs the module named by the value.
DOCTEST_NEEDS: dict[str, str] = {
    "LossPlot(": "matplotlib",
    "TensorBoardLogger(": "tensorboard",
    'format="onnx"': "onnxscript",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark doctests that need a missing optional package as skipped, naming the package."""
    for item in items:
        dtest = getattr(item, "dtest", None)  # set on doctest items only
        if dtest is None:
            continue
        source = "".join(example.source for example in dtest.examples)
        for needle, module in DOCTEST_NEEDS.items():
            if needle in source and not _installed(module):
                item.add_marker(pytest.mark.skip(reason=f"needs {module} (an optional extra)"))
                break
