"""eval.json, the resume manifest of dt eval (and of dt bench's rows), is read by one bounded reader: a file larger
than any dt eval writes is refused without being read, a named pipe without being opened (its read never ended),
and one that is not a JSON object is refused; through the CLI each is one line, exit 2, and the file is kept."""

from __future__ import annotations

import json
import os
import threading

import pytest

from droptrack.data.synth import generate_synth
from droptrack.errors import InputError
from droptrack.eval.resume import MAX_MANIFEST, manifest_or_none, read_manifest
from helpers import cli, one_line_error


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("set") / "val", sequences=1, frames=4, seed=0, size=(64, 64),
                          split="val")


def run_eval(root, out):
    return cli("eval", "--dataset", "synth", "--root", root, "--tracker", "csrt", "--output", out.parent, "--name",
               out.name)


def test_a_huge_eval_json_is_refused_in_one_line_and_kept(synth_set, tmp_path):
    out = tmp_path / "results" / "csrt"
    out.mkdir(parents=True)
    with open(out / "eval.json", "wb") as f:   # 64 MiB (sparse): eight times the limit
        f.truncate(64 << 20)
    line = one_line_error(run_eval(synth_set, out))   # exit 2, one line, no traceback
    assert line == (f"error: {out} holds eval.json, which dt eval did not write: it is 64 MiB, larger than any "
                    "eval.json dt eval writes (8 MiB at most); pass another --output or move it away"), line
    assert sorted(p.name for p in out.iterdir()) == ["eval.json"] and (out / "eval.json").stat().st_size == 64 << 20


@pytest.mark.parametrize("content, why", [(b'{"artifact_sha256": "ab', "is not readable as JSON"),
                                          (b'[1, 2, 3]', "is not dt eval's (not a JSON object)"),
                                          (b'{"a": "\xff"}', "is not readable as JSON")],
                         ids=["cut-short", "a-list", "not-utf8"])
def test_a_corrupt_eval_json_is_refused_in_one_line_and_kept(synth_set, tmp_path, content, why):
    out = tmp_path / "results" / "csrt"
    out.mkdir(parents=True)
    (out / "eval.json").write_bytes(content)
    line = one_line_error(run_eval(synth_set, out))
    assert f"holds eval.json, which dt eval did not write: it {why}; pass another --output" in line, line
    assert (out / "eval.json").read_bytes() == content


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_eval_json_is_refused_not_opened_nor_replaced(synth_set, tmp_path):
    """It was read by the thread-count lookup before any check (a read that never ends), and then replaced."""
    out = tmp_path / "results" / "csrt"
    out.mkdir(parents=True)
    os.mkfifo(out / "eval.json")
    got = {}
    worker = threading.Thread(target=lambda: got.setdefault("r", run_eval(synth_set, out)), daemon=True)
    worker.start()
    worker.join(120)   # a guard against a hang, not a speed check
    assert "r" in got, "dt eval opened the pipe and waits for a writer"
    assert "eval.json, which dt eval did not write: it is not a regular file" in one_line_error(got["r"])
    assert (out / "eval.json").is_fifo()


def test_the_reader_refuses_in_one_line_and_the_lookers_get_none(tmp_path):
    path = tmp_path / "eval.json"
    with open(path, "wb") as f:
        f.truncate(MAX_MANIFEST + 1)
    with pytest.raises(InputError) as info:
        read_manifest(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{path} is 8 MiB, larger than any eval.json")
    assert str(info.value).endswith("move it away, or pass another --output")
    assert manifest_or_none(path) is None and manifest_or_none(tmp_path / "missing.json") is None
    path.write_text(json.dumps({"threads": 2, "inputs": {"a": "0123456789abcdef"}}))
    assert read_manifest(path) == {"threads": 2, "inputs": {"a": "0123456789abcdef"}}
