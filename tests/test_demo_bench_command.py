"""The dt bench command dt demo records in bench.md / bench.json reproduces its bench when pasted: it left out
--sequences / --frames (the pasted command asked for the default 8x40 set and was refused by the demo's 1x3 set)
and did not quote paths with spaces."""

from __future__ import annotations

import json
import shlex

from helpers import cli


def test_recorded_bench_command_runs_as_printed(tiny_ckpt, tmp_path):
    out = tmp_path / "my demo"
    res = cli("demo", "--checkpoint", tiny_ckpt, "-o", out, "--sequences", 1, "--frames", 3, "--video-frames", 2,
              "--threads", 1)
    assert res.exit_code == 0, res.output
    argv = shlex.split(json.loads((out / "bench" / "bench.json").read_text())["command"])
    assert argv[:2] == ["dt", "bench"] and str(out / "export" / "model.onnx") in argv
    assert argv[argv.index("--sequences") + 1] == "1" and argv[argv.index("--frames") + 1] == "3"
    assert argv[argv.index("--root") + 1] == str(out / "data" / "synth_val_1x3")
    assert argv[argv.index("--threads") + 1] == "1"
    # a rerun into this folder is accepted: by the marker the demo now writes first, and without it (a folder of an
    # earlier version) by the recorded command above
    from droptrack.demo import check_demo_folder

    assert (out / ".droptrack-demo").is_file()
    check_demo_folder(out, 1, 3)
    (out / ".droptrack-demo").unlink()
    check_demo_folder(out, 1, 3)
