"""Names and text from files of someone else that dt prints or reads by: a checkpoint's or ONNX graph's config
name and precision (rich markup, terminal escape sequences), file, tracker and sequence names in `dt doctor`,
`dt bench`, `dt analyze` and `dt eval`, class names a pickle gives, a GOT-10k list.txt naming folders outside its
split, a named pipe as a result folder's eval.json.
(tests/test_untrusted_metadata.py: metadata values; tests/test_untrusted_files.py: code and external data.)"""

from __future__ import annotations

import io
import json
import os
import threading
import warnings

import pytest
import torch

from droptrack.data import got10k
from droptrack.errors import DatasetError, printable
from helpers import cli, one_line_error

MARKUP = "[link=http://evil.example]click[/link] [bold red]x"
ESCAPES = "\x1b]0;owned\x07\x1b[2J"
INIT = "60,40,40,50"


def test_doctor_prints_names_and_messages_as_plain_escaped_text(tiny_ckpt, tmp_path):
    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["config_name"] = MARKUP
    torch.save(obj, tmp_path / "named.pt")
    r = cli("doctor", tmp_path / "named.pt")
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("ok: checkpoint "))
    assert MARKUP in line, line   # shown as the text it is, not as a link and a style
    bad = tmp_path / f"m{ESCAPES}.pt"
    torch.save([1.0], bad)   # a PyTorch file, but not a model: the check names it
    r = cli("doctor", bad)
    assert r.exit_code == 1 and "\x1b" not in r.output and "\x07" not in r.output, r.output
    assert "m\\x1b]0;owned\\x07\\x1b[2J.pt" in r.output.replace("\n", ""), r.output


def test_names_with_control_characters_in_model_files_are_one_line(tiny_ckpt, onnx_model, tmp_path, video):
    import onnx

    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["config_name"] = "tiny" + ESCAPES
    torch.save(obj, tmp_path / "model.pt")
    model = onnx.load(str(onnx_model))
    for p in model.metadata_props:
        if p.key == "droptrack.config_name":
            p.value = json.dumps("tiny" + ESCAPES)
    onnx.save(model, str(tmp_path / "model.onnx"))
    for name in ("model.pt", "model.onnx"):
        line = one_line_error(cli("run", video, "-m", tmp_path / name, "--device", "cpu", "--init", INIT,
                                  "--output", tmp_path / "b.txt"))
        assert "config_name" in line and "control characters" in line and name in line, line
    assert not (tmp_path / "b.txt").exists()



@pytest.mark.parametrize("precision", ["[/]", "[link=http://evil.example]fp16", "fp64"])
def test_onnx_precision_other_than_what_export_writes_is_one_line(onnx_model, tmp_path, video, precision):
    import onnx

    model = onnx.load(str(onnx_model))
    for p in model.metadata_props:
        if p.key == "droptrack.precision":
            p.value = json.dumps(precision)
    onnx.save(model, str(tmp_path / "model.onnx"))
    for argv in (["run", video, "-m", tmp_path / "model.onnx", "--device", "cpu", "--init", INIT,
                  "--output", tmp_path / "b.txt"], ["export", tmp_path / "model.onnx", "--engine"]):
        line = one_line_error(cli(*argv))   # dt bench shows it in a rich table and picks its gates by it
        assert "'precision'" in line and "fp32, fp16, int8" in line and "model.onnx" in line, line
    assert not (tmp_path / "b.txt").exists()


def test_a_pickle_naming_hundreds_of_long_class_names_gives_short_lines(tmp_path, caplog):
    """300 classes of 1000-character names: the refusal and the --trust-checkpoint warning name a few, cut."""
    import sys
    import types

    from droptrack.errors import CheckpointError
    from droptrack.model.checkpoint import read_file

    module = types.ModuleType("faraway_trainer")
    classes = []
    for i in range(300):
        name = f"Meter{i:03d}" + "x" * 1000
        cls = type(name, (), {"__module__": module.__name__, "__qualname__": name})
        setattr(module, name, cls)
        classes.append(cls)
    sys.modules[module.__name__] = module
    try:
        torch.save({"net": {"backbone.x": torch.zeros(2)}, "stats": [c() for c in classes]}, tmp_path / "m.pth.tar")
    finally:
        del sys.modules[module.__name__]
    with pytest.raises(CheckpointError) as exc:
        read_file(tmp_path / "m.pth.tar")
    assert "faraway_trainer.Meter" in str(exc.value) and len(str(exc.value)) < 600, str(exc.value)[:300]
    with caplog.at_level("WARNING", logger="droptrack"):
        obj = read_file(tmp_path / "m.pth.tar", trust=True)
    assert len(obj["stats"]) == 300   # read as inert records, each naming its class
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "--trust-checkpoint" in warning and "more" in warning and len(warning) < 1200, warning[:300]

def _sequence(folder, n: int = 3) -> None:
    """A GOT-10k sequence folder of n black frames and a box per frame."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        cv2.imwrite(str(folder / f"{i:08d}.jpg"), np.zeros((48, 64, 3), np.uint8))
    (folder / "groundtruth.txt").write_text("10,10,20,20\n" * n)


@pytest.mark.parametrize("listed", ["../outside", "{outside}", "..", "a\x1b[2Jb"])
def test_got10k_list_naming_a_folder_outside_its_split_is_one_line(tmp_path, listed):
    root = tmp_path / "got10k"
    _sequence(root / "val" / "GOT-10k_Val_000001")
    _sequence(root / "outside")   # beside the split: what '../outside' or its absolute path reaches
    listed = listed.format(outside=root / "outside")
    (root / "val" / "list.txt").write_text(f"GOT-10k_Val_000001\n{listed}\n")
    with pytest.raises(DatasetError, match="not a sequence folder of that split") as exc:
        got10k.read(root, "val", None)
    assert "list.txt" in str(exc.value) and "\x1b" not in printable(exc.value)
    results = tmp_path / "res"
    results.mkdir()
    (results / "GOT-10k_Val_000001.txt").write_text("10\t10\t20\t20\n" * 3)
    line = one_line_error(cli("analyze", results, "--dataset", "got10k", "--root", root, "--split", "val",
                              "-o", tmp_path / "report"))
    assert "list.txt" in line and "not a sequence folder" in line, line


def test_got10k_list_of_plain_names_still_reads(tmp_path):
    _sequence(tmp_path / "val" / "GOT-10k_Val_000001")
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    assert [s.name for s in got10k.read(tmp_path, "val", None)] == ["GOT-10k_Val_000001"]


def test_analyze_shows_tracker_and_sequence_names_escaped(tmp_path):
    """A result folder and a sequence folder named with terminal escapes (set title, clear screen); one's own
    footage in the GOT-10k layout (GOT-10k itself names its sequences in list.txt, which refuses such names)."""
    seqs, trackers = ["GOT-10k_Val_000001", "seq" + ESCAPES], ["t1", "t2" + ESCAPES]
    for name in seqs:
        _sequence(tmp_path / "root" / "val" / name)
    for tracker, shift in zip(trackers, (0, 5)):
        (tmp_path / tracker).mkdir()
        for name in seqs:   # t2 is off by 5 px on the second sequence: the two differ there
            x = 10 + (shift if name != seqs[0] else 0)
            (tmp_path / tracker / f"{name}.txt").write_text(f"{x}\t10\t20\t20\n" * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # matplotlib: 'Glyph 27 missing from font' when a label holds ESC
        r = cli("analyze", *(tmp_path / t for t in trackers), "--dataset", "synth", "--root", tmp_path / "root",
                "--split", "val", "-o", tmp_path / "report")
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output, r.output
    assert printable("t2" + ESCAPES) in r.output and printable("seq" + ESCAPES) in r.output, r.output


def test_bench_shows_an_artifact_named_with_escapes_escaped(tmp_path):
    """A checkpoint whose file name holds terminal escapes (and that is no model: its row fails, naming it)."""
    path = tmp_path / f"m{ESCAPES}.pt"
    torch.save([1.0], path)
    r = cli("bench", path, "--data", "synthetic", "--sequences", "1", "--frames", "4", "-o", tmp_path / "bench")
    assert "\x1b" not in r.output and "\x07" not in r.output, r.output
    assert printable(path.stem) in r.output and "Traceback" not in r.output, r.output


class _Terminal(io.StringIO):
    """A stream that says it is a terminal: rich draws its progress bars into it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [_Terminal, io.StringIO])
def test_eval_progress_shows_a_sequence_name_as_plain_escaped_text(monkeypatch, stream):
    """A dataset's sequence folder named with markup and escapes, in dt eval's bars (terminal) and lines (a log)."""
    from droptrack.eval import progress

    monkeypatch.setattr(progress, "LINE_GAP_S", -1.0)   # lines mode: every finished sequence is a line
    name = "seq[link=http://evil.example]" + ESCAPES
    out = stream()
    with progress.EvalProgress([[0] * 4], resumed=0, stream=out) as shown:
        shown.update(name, 2, 4)
        shown.finish(name, 4)
    text = out.getvalue()
    assert printable(name) in text and "\x07" not in text, text
    assert "\x1b]0;owned" not in text and "\x1b[2J" not in text, text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_analyze_does_not_read_a_named_pipe_as_a_result_folders_eval_json(tmp_path):
    """Unread, it is no manifest; read, it waits for a writer (here a thread that writes one, so nothing hangs)."""
    from droptrack.eval.report import _tracked_inputs

    os.mkfifo(tmp_path / "eval.json")

    def write() -> None:
        with open(tmp_path / "eval.json", "w") as f:   # blocks until a reader opens the pipe
            f.write('{"inputs": {"seq": "read from a pipe"}}')

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert _tracked_inputs(tmp_path) == {}
    finally:   # let the writer finish if nobody read
        fd = os.open(tmp_path / "eval.json", os.O_RDONLY | os.O_NONBLOCK)
        writer.join(10)
        os.close(fd)
