"""The dt bench command dt demo records in bench.md / bench.json reproduces its bench when pasted: it left out
--sequences / --frames (the pasted command asked for the default 8x40 set and was refused by the demo's 1x3 set)
and did not quote paths with spaces."""

from __future__ import annotations

import json
import shlex


def test_recorded_bench_command_runs_as_printed(small_demo):
    """The session's one demo run (tests/conftest.py): 2x6 frames into a folder with a space in its name."""
    _, out, res = small_demo
    assert res.exit_code == 0, res.output
    argv = shlex.split(json.loads((out / "bench" / "bench.json").read_text())["command"])
    assert argv[:2] == ["dt", "bench"] and str(out / "export" / "model.onnx") in argv
    assert argv[argv.index("--sequences") + 1] == "2" and argv[argv.index("--frames") + 1] == "6"
    assert argv[argv.index("--root") + 1] == str(out / "data" / "synth_val_2x6")
    assert argv[argv.index("--threads") + 1] == "1"
    # a rerun into this folder is accepted: by the marker the demo now writes first, and without it (a folder of an
    # earlier version) by the recorded command above
    from droptrack.demo import check_demo_folder

    marker = out / ".droptrack-demo"
    assert marker.is_file()
    check_demo_folder(out, 2, 6)
    kept = marker.read_bytes()
    marker.unlink()
    try:
        check_demo_folder(out, 2, 6)
    finally:
        marker.write_bytes(kept)   # the run is shared: put it back as the demo wrote it
