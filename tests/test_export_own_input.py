"""`dt export deploy/model.safetensors --safetensors -o deploy` replaced its own input checkpoint with a file of
other bytes, so the graphs it wrote named (by sha256) a checkpoint that no longer existed. It is refused before any
work, through a symlinked path too; without --safetensors, or into another folder, the export runs."""

from __future__ import annotations

from helpers import cli as dt


def test_safetensors_output_that_is_the_input_checkpoint_is_refused(tiny_ckpt, tmp_path):
    deploy = tmp_path / "deploy"
    assert dt("export", tiny_ckpt, "--safetensors", "-o", deploy).exit_code == 0
    ckpt = deploy / "model.safetensors"
    before = ckpt.read_bytes()
    (tmp_path / "link").symlink_to(deploy)
    for given in (ckpt, tmp_path / "link" / "model.safetensors"):
        res = dt("export", given, "--safetensors", "-o", deploy)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1, res.output
        assert f"which is the input checkpoint '{given}'" in lines[0] and "drop --safetensors" in lines[0]
        assert ckpt.read_bytes() == before
    assert dt("export", ckpt, "-o", deploy).exit_code == 0 and ckpt.read_bytes() == before
    assert dt("export", ckpt, "--safetensors", "-o", tmp_path / "other").exit_code == 0
