"""`dt bench A --reference MISSING.pt -o OUT` made OUT (and its lock) before refusing the reference: an input that is
refused must leave no output behind. The reference's file checks (missing, an .onnx, bytes of another kind) now run
with the other option checks, before the output folder is made; the error lines are unchanged."""

from __future__ import annotations

import pytest

from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error


@pytest.mark.parametrize("name, body, said", [
    ("MISSING.pt", None, "--reference {ref} not found; pass the PyTorch checkpoint"),
    ("graph.onnx", b"\x08\x07", "--reference {ref} is not a PyTorch checkpoint"),
    ("notes.pt", b"not a model\n", "--reference {ref} cannot be loaded: model '{ref}' is corrupt"),
])
def test_a_refused_reference_leaves_no_output_folder(tmp_path, name, body, said):
    ref = tmp_path / name
    if body is not None:
        ref.write_bytes(body)
    out = tmp_path / "OUTDIR"
    line = one_line_error(cli("bench", default_checkpoint(), "--reference", ref, "-o", out))
    assert said.format(ref=ref) in line, line
    assert not out.exists(), sorted(p.name for p in out.iterdir())


def test_a_windows_style_missing_reference_gets_the_separator_note(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("bench", default_checkpoint(), "--reference", "runs\\x\\last.pt", "-o", "OUTDIR"))
    assert "it separates folders with '\\' as Windows does" in line and "'runs/x/last.pt'" in line, line
    assert not (tmp_path / "OUTDIR").exists()
