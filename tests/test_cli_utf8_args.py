"""A file name that is not UTF-8 (latin-1 'lat\\xe9.pt', as such names reach Python: surrogate escapes) was run as far
as it went: ONNX Runtime and safetensors refused it with a wrong diagnosis ('corrupt', 'incompatible constructor
arguments'), and dt eval / dt bench tracked every sequence, then crashed writing their plots and report (exit 1).
Every command refuses such an argument in one line before any work now."""

from __future__ import annotations

import shutil

import pytest

from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error

LATIN1 = "lat\udce9"   # os.fsdecode(b"lat\xe9")


@pytest.mark.parametrize("argv", [
    ["run", "{d}/clip", "-m", "{d}/lat\udce9.pt", "--init", "1,1,5,5", "-o", "{d}/out.txt"],
    ["eval", "--dataset", "synth", "--root", "{d}/set", "-m", "{d}/lat\udce9.pt", "-o", "{d}/out"],
    ["bench", "{d}/lat\udce9.pt", "-o", "{d}/out"],
    ["doctor", "{d}/lat\udce9.pt"],
    ["eval", "--dataset", "synth", "--root", "{d}/set", "--tracker", "kcf", "-o", "{d}/out\udcff"],
])
def test_an_argument_that_is_not_utf8_is_refused_before_any_work(tmp_path, argv):
    shutil.copyfile(default_checkpoint(), f"{tmp_path}/{LATIN1}.pt".encode("utf-8", "surrogateescape"))
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line_error(cli(*[a.format(d=tmp_path) for a in argv]))
    assert line.startswith("error: '") and "' is not valid UTF-8: a name written under another encoding" in line
    assert ("lat\\xe9.pt'" in line or "out\\xff'" in line) and "rename it to UTF-8" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_utf8_names_are_taken(tmp_path):
    model = tmp_path / "modèle.pt"
    shutil.copyfile(default_checkpoint(), model)
    res = cli("doctor", model)
    assert res.exit_code == 0, res.output
