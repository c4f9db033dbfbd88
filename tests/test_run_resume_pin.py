"""`dt run --resume` pins what the killed run tracked with by content: other weights of the same size and mtime (a
replaced --model file, an upgraded built-in model) are refused in one line, while a `touch`, a copy or a restore
from backup of the same source and model resumes; a journal of the previous format resumes or says why not; other
output options name the outputs the interrupted run wrote."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from droptrack.artifact import sha256_file
from droptrack.runtime.fingerprint import CHUNK, sampled_sha256
from droptrack.runtime.run import RunOptions, run
from helpers import cli, drifting_clip, one_line_error

INIT = "30,22,26,20"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """60 frames of a textured square drifting over noise (96x72 PNGs)."""
    return drifting_clip(tmp_path_factory.mktemp("clip"), 60)


@pytest.fixture(scope="module")
def other_ckpt(tiny_ckpt, tmp_path_factory) -> Path:
    """The tiny model with other weights: a file of the same size as `tiny_ckpt` (checked)."""
    from droptrack.config import load_config
    from droptrack.model.checkpoint import save_checkpoint
    from droptrack.model import build_model

    torch.manual_seed(1)
    cfg = load_config("tiny_ce_test")
    path = tmp_path_factory.mktemp("other") / "tiny.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    assert path.stat().st_size == tiny_ckpt.stat().st_size and path.read_bytes() != tiny_ckpt.read_bytes()
    return path


def options(source: Path, ckpt: Path | None, out: Path, **kw) -> RunOptions:
    return RunOptions(source=str(source), artifact=None if ckpt is None else str(ckpt), init=[INIT],
                      output=str(out / "b.txt"), jsonl=str(out / "b.jsonl"), device="cpu", threads=1, **kw)


def interrupt_at(n: int):
    """on_frame: SIGINT (the run finishes that frame and stops) once the outputs hold n frames."""
    return lambda s: os.kill(os.getpid(), signal.SIGINT) if s.frames == n else None


def files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def replace_keeping_stat(path: Path, new: Path) -> None:
    """Put `new`'s bytes at `path` with `path`'s size (asserted) and mtime: what size + mtime cannot tell apart."""
    st = path.stat()
    shutil.copyfile(new, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


def test_other_weights_of_the_same_size_and_mtime_are_refused(clip, tiny_ckpt, other_ckpt, tmp_path):
    """A --model file replaced by other weights of the same size (mtime set back) resumed with them: two models'
    boxes in one file."""
    ckpt = tmp_path / "m" / "model.pt"
    ckpt.parent.mkdir()
    shutil.copy(tiny_ckpt, ckpt)
    out = tmp_path / "out"
    run(options(clip, ckpt, out), on_frame=interrupt_at(20))
    before = files(out)
    replace_keeping_stat(ckpt, other_ckpt)
    line = one_line_error(cli("run", clip, "-m", ckpt, "--device", "cpu", "--init", INIT, "-o", out / "b.txt",
                              "--jsonl", out / "b.jsonl", "--resume"))
    assert "the --model file holds other weights than the killed run tracked with" in line
    assert "rerun without --resume and with --overwrite" in line
    assert files(out) == before


def test_an_upgraded_built_in_model_is_refused(clip, tiny_ckpt, other_ckpt, tmp_path, monkeypatch):
    """The built-in default model (no --model) with other weights after an upgrade: refused, naming it."""
    builtin = tmp_path / "weights" / "default.pt"
    builtin.parent.mkdir()
    shutil.copy(tiny_ckpt, builtin)
    monkeypatch.setattr("droptrack.model.default.default_checkpoint", lambda: builtin)
    out = tmp_path / "out"
    run(options(clip, None, out), on_frame=interrupt_at(20))
    before = files(out)
    replace_keeping_stat(builtin, other_ckpt)
    with pytest.raises(Exception, match=r"the built-in default model's weights changed since the killed run .*"
                                        r"rerun without --resume and with --overwrite") as exc:
        run(options(clip, None, out, resume=True))
    assert "\n" not in str(exc.value) and files(out) == before


@pytest.fixture(scope="module")
def external_onnx(tiny_ckpt, tmp_path_factory) -> Path:
    """The tiny model exported to ONNX and saved with its large tensors in an external data file beside it."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("onnx")
    r = cli("export", tiny_ckpt, "-o", folder)
    assert r.exit_code == 0, r.output
    onnx.save_model(onnx.load(str(folder / "model.onnx")), str(folder / "ext.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="ext.onnx.data", size_threshold=4096)
    return folder / "ext.onnx"


def halve_first_external_weight(graph: Path) -> None:
    """Halve the first float tensor the graph keeps in its external data file (the .onnx file stays as it is)."""
    import numpy as np
    import onnx

    data_file = graph.with_name("ext.onnx.data")
    data = bytearray(data_file.read_bytes())
    for t in onnx.load(str(graph), load_external_data=False).graph.initializer:
        entries = {e.key: e.value for e in t.external_data}
        if t.data_type == onnx.TensorProto.FLOAT and "length" in entries:
            start, end = int(entries.get("offset", 0)), int(entries.get("offset", 0)) + int(entries["length"])
            data[start:end] = (np.frombuffer(bytes(data[start:end]), np.float32) * 0.5).tobytes()
            data_file.write_bytes(bytes(data))
            return
    raise AssertionError("no external float tensor")


def test_other_weights_in_an_onnx_graphs_external_data_are_refused(clip, external_onnx, tmp_path):
    """An ONNX --model whose external data file got other weights (the .onnx graph unchanged) resumed with them."""
    model = tmp_path / "m" / "ext.onnx"
    model.parent.mkdir()
    for f in (external_onnx, external_onnx.with_name("ext.onnx.data")):
        shutil.copy(f, model.parent / f.name)
    out = tmp_path / "out"
    run(options(clip, model, out), on_frame=interrupt_at(20))
    before, graph, data = files(out), model.read_bytes(), model.with_name("ext.onnx.data").read_bytes()
    halve_first_external_weight(model)
    assert model.read_bytes() == graph
    base = ["run", clip, "-m", model, "--device", "cpu", "--threads", "1", "--init", INIT, "-o", out / "b.txt",
            "--jsonl", out / "b.jsonl", "--resume"]
    line = one_line_error(cli(*base))
    assert "external data (ext.onnx.data) holds other weights than the killed run tracked with" in line, line
    assert files(out) == before
    model.with_name("ext.onnx.data").write_bytes(data)   # the weights it tracked with: it resumes
    res = cli(*base)
    assert res.exit_code == 0, res.output


def test_a_journal_from_before_external_data_was_pinned_still_resumes(clip, external_onnx, tmp_path):
    """A journal written by an earlier droptrack holds the graph's sha256 only: an unchanged ONNX model with external
    data resumes from it (comparing the new external-data entry with nothing refused it as 'other weights')."""
    model = tmp_path / "m" / "ext.onnx"
    model.parent.mkdir()
    for f in (external_onnx, external_onnx.with_name("ext.onnx.data")):
        shutil.copy(f, model.parent / f.name)
    ref, out = tmp_path / "ref", tmp_path / "out"
    run(options(clip, model, ref))
    run(options(clip, model, out), on_frame=interrupt_at(20))
    (journal,) = out.glob("*.resume.json")
    data = json.loads(journal.read_text())
    pinned = data["identity"]["model"].pop("external_data")
    assert pinned == {"ext.onnx.data": sha256_file(model.parent / "ext.onnx.data")}
    journal.write_text(json.dumps(data))
    res = cli("run", clip, "-m", model, "--device", "cpu", "--threads", "1", "--init", INIT, "-o", out / "b.txt",
              "--jsonl", out / "b.jsonl", "--resume")
    assert res.exit_code == 0, res.output
    assert files(out) == files(ref)


def test_touched_and_copied_source_and_model_resume(clip, tiny_ckpt, tmp_path):
    """The same frames and weights with new mtimes (`touch`, a copy put back, a restore from backup) were refused as
    changed files; frames whose content changed still are."""
    src, ckpt = tmp_path / "clip", tmp_path / "model.pt"
    shutil.copytree(clip, src)
    shutil.copy(tiny_ckpt, ckpt)
    ref = tmp_path / "ref"
    assert run(options(src, ckpt, ref)).frames == 60
    out = tmp_path / "out"
    run(options(src, ckpt, out), on_frame=interrupt_at(25))
    for p in [*src.iterdir(), src]:
        os.utime(p, ns=(10**18, 10**18))   # touch
    shutil.copy(ckpt, tmp_path / "backup.pt")
    os.replace(tmp_path / "backup.pt", ckpt)   # restored from a copy: another inode and mtime
    last = sorted(src.iterdir())[-1]
    saved = last.read_bytes()
    shutil.copyfile(sorted(src.iterdir())[0], last)   # another image as the last frame
    base = ["run", src, "-m", ckpt, "--device", "cpu", "--threads", "1", "--init", INIT, "-o", out / "b.txt",
            "--jsonl", out / "b.jsonl", "--resume"]
    assert "the source (its content changed) differ" in one_line_error(cli(*base))
    last.write_bytes(saved)
    res = cli(*base)
    assert res.exit_code == 0, res.output
    assert files(out) == files(ref)


def test_a_large_source_is_identified_by_size_and_four_fixed_chunks(tmp_path):
    """Videos over 4 MiB: the size and 1 MiB at 0, 1/3, 2/3 and the end (a same-size edit elsewhere goes unseen)."""
    data = bytearray(os.urandom(5 * CHUNK + 123))
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    first = sampled_sha256(path)
    os.utime(path, ns=(0, 0))
    assert sampled_sha256(path) == first

    def edited(offset: int) -> str:
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        path.write_bytes(changed)
        return sampled_sha256(path)

    size = len(data)
    for offset in (0, (size - CHUNK) // 3, 2 * (size - CHUNK) // 3 + CHUNK - 1, size - 1):
        assert edited(offset) != first, offset
    assert edited(CHUNK + 10) == first   # between the first and the second chunk: the documented blind spot
    path.write_bytes(data + b"x")
    assert sampled_sha256(path) != first


def test_a_journal_of_the_previous_format(clip, tiny_ckpt, tmp_path, monkeypatch):
    """Format 1 recorded files by path, size and mtime: still resumed where they match (its next journal is format
    2); one that used the built-in model, whose weights it did not record, is one line."""
    ref = tmp_path / "ref"
    assert run(options(clip, tiny_ckpt, ref)).frames == 60
    out = tmp_path / "out"
    st_clip, st_ckpt = clip.stat(), tiny_ckpt.stat()
    old_source = {"path": str(clip.resolve()), "size": None, "mtime_ns": st_clip.st_mtime_ns}

    def as_format_1(model: dict | None) -> None:
        journal = out / "b.jsonl.resume.json"
        data = json.loads(journal.read_text())
        del data["identity"]["streams"]
        data["identity"].update(source=old_source, model=model, config=None)
        data["format"] = 1
        journal.write_text(json.dumps(data))

    run(options(clip, tiny_ckpt, out), on_frame=interrupt_at(20))
    as_format_1({"path": str(tiny_ckpt.resolve()), "size": st_ckpt.st_size, "mtime_ns": st_ckpt.st_mtime_ns})
    assert run(options(clip, tiny_ckpt, out, resume=True), on_frame=interrupt_at(40)).resumed == 20
    assert json.loads((out / "b.jsonl.resume.json").read_text())["format"] == 2
    assert run(options(clip, tiny_ckpt, out, resume=True)).resumed == 40
    assert files(out) == files(ref)
    run(options(clip, tiny_ckpt, out, overwrite=True), on_frame=interrupt_at(20))
    as_format_1(None)   # as format 1 recorded the built-in model
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "-o", out / "b.txt",
                              "--jsonl", out / "b.jsonl", "--resume"))
    assert "the model (or its file changed) differ" in line   # -m given now, the built-in one then
    monkeypatch.setattr("droptrack.model.default.default_checkpoint", lambda: tiny_ckpt)
    with pytest.raises(Exception, match="written by an earlier droptrack, which did not record the built-in"):
        run(options(clip, None, out, resume=True))


@pytest.mark.parametrize("first, then", [(("-o", "--jsonl"), ("-o",)), (("-o", "--jsonl"), ("--jsonl",)),
                                         (("-o",), ("-o", "--jsonl"))])
def test_other_output_options_name_what_the_run_wrote(clip, tiny_ckpt, tmp_path, first, then):
    """Adding or dropping --jsonl / --output on the resume command said there was no journal."""
    paths = {"-o": tmp_path / "b.txt", "--jsonl": tmp_path / "b.jsonl"}
    run(RunOptions(source=str(clip), artifact=str(tiny_ckpt), init=[INIT], device="cpu", threads=1,
                   output=str(paths["-o"]) if "-o" in first else None,
                   jsonl=str(paths["--jsonl"]) if "--jsonl" in first else None), on_frame=interrupt_at(15))
    before = files(tmp_path)
    line = one_line_error(cli("run", clip, "-m", tiny_ckpt, "--device", "cpu", "--init", INIT, "--resume",
                              *[a for k in then for a in (k, paths[k])]))
    wrote = " and ".join(str(paths[k].resolve()) for k in ("--jsonl", "-o") if k in first)
    assert f"the interrupted run wrote {wrote} (journal" in line, line
    given = " ".join(f"{k} {paths[o].resolve()}" for k, o in (("--jsonl", "--jsonl"), ("--output", "-o"))
                     if o in first)
    assert f"resume with the same output options (exactly {given})" in line, line
    assert files(tmp_path) == before


def test_a_shipped_config_name_is_pinned_by_its_text(clip, tiny_ckpt, tmp_path):
    """`--config NAME` (a shipped config, not a file; needed with .safetensors weights) crashed every resumable run
    with FileNotFoundError: the journal hashed NAME as a path. Now it resumes byte-identically."""
    from safetensors.torch import save_file

    weights = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in torch.load(tiny_ckpt, weights_only=True)["net"].items()}, str(weights))
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert run(options(clip, weights, ref, config="tiny_ce_test")).frames == 60
    run(options(clip, weights, out, config="tiny_ce_test"), on_frame=interrupt_at(20))
    journal = json.loads(next(out.glob("*.resume.json")).read_text())
    assert json.dumps(journal).count("tiny_ce_test") >= 1
    res = cli("run", clip, "-m", weights, "--config", "tiny_ce_test", "--device", "cpu", "--threads", "1", "--init",
              INIT, "-o", out / "b.txt", "--jsonl", out / "b.jsonl", "--resume")
    assert res.exit_code == 0, res.output
    assert files(out) == files(ref)
