"""`dt export -o droptrack/weights` wrote model.onnx and parity.json among the package's shipped model files (to be
installed with it), and named the shipped graph a file "of an earlier export of this checkpoint". An --output inside
the package's own folder is refused before any work; a folder beside it is not."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from droptrack.errors import ExportError
from droptrack.export.options import check_export_options
from helpers import cli, one_line_error

PACKAGE = Path(str(resources.files("droptrack")))


@pytest.mark.parametrize("sub", ["weights", "weights/new", "export", "."])
def test_output_inside_package_is_refused(sub):
    with pytest.raises(ExportError, match="inside the droptrack package's own folder"):
        check_export_options(None, None, PACKAGE / sub, 17, ["fp32"], None, 32, 4.0, "strong")


def test_output_beside_package_passes(tmp_path):
    check_export_options(None, None, tmp_path / "droptrack", 17, ["fp32"], None, 32, 4.0, "strong")


def test_cli_writes_nothing_into_weights():
    weights = PACKAGE / "weights"
    before = sorted(p.name for p in weights.iterdir())
    line = one_line_error(cli("export", "--ort", "-o", weights))
    assert line.startswith(f"error: --output '{weights}' is inside") and "-o out/export" in line
    assert sorted(p.name for p in weights.iterdir()) == before
