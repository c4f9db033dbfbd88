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


@pytest.mark.parametrize("damage", ["half", "config"])
def test_a_reference_that_fails_to_load_leaves_no_output_folder(tmp_path, damage):
    """A reference that passes the file checks but does not load (a half-downloaded .pth.tar, a --config of
    another depth) was refused after OUT was made, leaving an empty folder."""
    import torch
    import yaml
    from importlib import resources

    from droptrack.config import load_config
    from droptrack.model.ostrack import build_model

    ref = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": build_model(load_config("tiny_ce_test")).state_dict(), "epoch": 300}, ref)
    extra = []
    if damage == "half":
        ref.write_bytes(ref.read_bytes()[: ref.stat().st_size // 2])
    else:
        data = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
        data["MODEL"]["BACKBONE"].update(DEPTH=3, CE_LOC=[1], CE_KEEP_RATIO=[0.7])
        (tmp_path / "depth3.yaml").write_text(yaml.safe_dump(data))
        extra = ["--config", tmp_path / "depth3.yaml"]
    out = tmp_path / "OUTDIR"
    line = one_line_error(cli("bench", default_checkpoint(), "--reference", ref, *extra, "-o", out))
    assert f"--reference {ref} cannot be loaded" in line, line
    assert not out.exists(), sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("held, said", [
    ((), "--reference {ref} is a folder, not a PyTorch checkpoint; pass the checkpoint file the artifacts come from"),
    (("model.onnx", "last.pth", "final.pt", "notes.txt"),
     "--reference {ref} is a folder, not a PyTorch checkpoint; it holds final.pt, last.pth: pass one of them, e.g. "
     "{ref}/final.pt"),
])
def test_a_reference_folder_is_named_a_folder(tmp_path, held, said):
    """`--reference runs/x` (the folder of a checkpoint) said 'not found' of a folder that is there."""
    ref = tmp_path / "runs"
    ref.mkdir()
    for name in held:
        (ref / name).write_bytes(b"x")
    out = tmp_path / "OUTDIR"
    line = one_line_error(cli("bench", default_checkpoint(), "--reference", ref, "-o", out))
    assert line == "error: " + said.format(ref=ref), line
    assert not out.exists()
