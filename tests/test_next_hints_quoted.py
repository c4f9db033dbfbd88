"""The `next:` lines that end dt train, export, eval, bench, demo and data synth name commands that work when
pasted into bash, also when a path has a space in its name (dt train printed `next: dt export runs a/final.pt`, two
arguments) or control characters (an escape sequence reached the terminal raw)."""

from __future__ import annotations

import shlex
from importlib import resources

import pytest
import yaml

from helpers import cli, pasted


def test_train_next_line_runs_when_pasted(tmp_path):
    data = tmp_path / "my data"
    assert cli("data", "synth", data, "-n", "1", "--frames", "20").exit_code == 0
    cfg = yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())
    cfg["DATA"]["TRAIN"].update(DATASETS_NAME=["SYNTH"], DATASETS_RATIO=[1])
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "runs a"
    res = cli("train", "-c", tmp_path / "cfg.yaml", "-o", out, "--data", data, "--epochs", "1", "--batch-size", "2",
              "--samples-per-epoch", "2", "--device", "cpu", "--workers", "0")
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: "))
    words = shlex.split(line.removeprefix("next: ").split("   (")[0])
    assert words == ["dt", "export", str(out / "final.pt"), "-o", str(out / "export")] and (out / "final.pt").is_file()


def test_demo_next_line_quotes_its_artifacts():
    from droptrack.demo import bench_hint

    line = bench_hint(["w/tiny.pt", "my demo/export/model.onnx"], "my cfg.yaml")
    assert shlex.split(line) == ["dt", "bench", "w/tiny.pt", "my demo/export/model.onnx", "--data", "VIDEO",
                                 "--init", "x,y,w,h", "--config", "my cfg.yaml"]
    assert bench_hint(["a.pt"]) == "dt bench a.pt --data VIDEO --init x,y,w,h"


def test_demo_next_line_names_paths_with_an_escape_sequence_as_text_that_pastes():
    """dt demo printed it through `printable`: '\\x1b' inside shlex's quotes, another path when pasted."""
    from droptrack.demo import bench_hint
    from droptrack.errors import printable

    line = bench_hint(["d\x1b[2J/tiny.pt", "d\x1b[2J/export/model.onnx"], "c\x1b.yaml")
    assert printable(line) == line, line   # dt demo prints it through printable: it must reach bash as it is
    assert pasted(line) == ["bench", "d\x1b[2J/tiny.pt", "d\x1b[2J/export/model.onnx", "--data", "VIDEO", "--init",
                            "x,y,w,h", "--config", "c\x1b.yaml"]


@pytest.mark.parametrize("name", ["my set", "s[b]\x1b[2J"])
def test_bench_other_synth_set_hint_pastes(tmp_path, name):
    """dt bench --data synthetic --root SET, SET another size of set: the advised `--data PATH` is one argument (a
    name with an escape sequence: '\\x1b' inside shlex's quotes, another folder when pasted)."""
    from helpers import one_line_error

    root = tmp_path / name
    assert cli("data", "synth", root, "-n", "1", "--frames", "3", "--split", "val").exit_code == 0
    line = one_line_error(cli("bench", "--tracker", "kcf", "--data", "synthetic", "--root", root, "-o",
                              tmp_path / "b"))
    advised = pasted("dt " + line.split("bench it as it is with ")[1].split(", or pass")[0])
    assert advised == ["--data", str(root)], line


def test_engine_rebuild_command_pastes_with_a_space_in_the_path(tmp_path):
    """An engine's recorded rebuild command (sidecar, and the refusal that prints it) named the .onnx path unquoted."""
    from pathlib import Path

    from droptrack.export.tensorrt import rebuild_command

    onnx = tmp_path / "my deploy" / "model fp16.onnx"
    words = shlex.split(rebuild_command(onnx, 2.0, "flags"))
    assert words == ["dt", "export", str(onnx), "--engine", "--workspace", "2", "--trt-typing", "flags"]
    assert Path(words[2]) == onnx


@pytest.mark.parametrize("name", ["my runs", "r[b]\x1b[2J"])
def test_analyze_parent_folder_hint_pastes(tmp_path, name):
    """`dt analyze RUNS` where RUNS holds tracker folders suggests passing them: quoted when a name has a space or a
    control character, and as the whole command with its options, which runs (it said `dt analyze RUNS/kcf` alone,
    which stops at the missing --dataset)."""
    import re

    data = tmp_path / "set"
    assert cli("data", "synth", data, "-n", "1", "--frames", "12").exit_code == 0
    runs = tmp_path / name   # dt eval writes its tracker folder inside: my runs/kcf
    res = cli("eval", "--dataset", "synth", "--root", data, "--tracker", "kcf", "--output", runs)
    assert res.exit_code == 0, res.output
    out = tmp_path / "my report"
    res = cli("analyze", runs, "--dataset", "synth", "--root", data, "-o", out, "--per-sequence")
    assert res.exit_code == 2
    hint = re.search(r"pass those folders: (.*)$", res.output.strip().splitlines()[-1]).group(1)
    assert pasted(hint) == ["analyze", str(runs / "kcf"), "--dataset", "synth", "--root", str(data),
                            "--output", str(out), "--per-sequence"], hint
    res = cli(*pasted(hint))
    assert res.exit_code == 0 and (out / "report.json").is_file(), res.output


def test_words_with_control_characters_paste_back_as_themselves():
    """A path holding an escape sequence, a newline or a tab: quoted for bash ($'...'), the line is plain text on one
    line and bash reads back the same words."""
    from droptrack.errors import printable, shell_join

    words = ["dt", "run[/x]", "r\x1b[2J", "it's", "a b", "t\tab", "new\nline", "back\\slash\x07", "c1\x85",
             "raw\udcff", "", "plain"]
    line = shell_join(words)
    assert printable(line) == line and line.isascii(), line
    assert line.startswith("dt 'run[/x]' $'r\\x1b[2J' 'it'\"'\"'s' 'a b' $'t\\x09ab' $'new\\x0aline' "), line
    assert pasted(line) == words[1:]


def test_export_next_lines_name_a_path_with_an_escape_sequence_as_text_that_pastes(tiny_ckpt, tmp_path):
    """dt export -o 'e\\x1b[2J': its `next:` lines sent the escape sequence to the terminal raw."""
    import shutil

    ckpt = tmp_path / "c\x1b[2J" / "tiny.pt"
    ckpt.parent.mkdir()
    shutil.copy(tiny_ckpt, ckpt)
    out = tmp_path / "e[/x]\x1b[2J"
    res = cli("export", ckpt, "-o", out)
    assert res.exit_code == 0 and "\x1b" not in res.output, res.output
    bench = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt bench "))
    assert pasted(bench.removeprefix("next: ")) == ["bench", str(out / "model.onnx"), "--reference", str(ckpt)]


@pytest.mark.parametrize("name", ["my deploy", "d\x1b[2J"])
def test_the_onnx_graph_advised_instead_of_an_engine_pastes(tmp_path, name):
    """An engine that cannot run here advises its graph, `(PATH)`: the path went in unquoted (two words with a space,
    the escape sequence raw)."""
    from droptrack.engine.tensorrt_backend import onnx_instead
    from droptrack.errors import printable

    graph = tmp_path / name / "model.onnx"
    graph.parent.mkdir()
    graph.write_bytes(b"")
    line = onnx_instead(graph.with_suffix(".engine"))
    assert printable(line) == line, line
    assert pasted("dt " + line.split("(")[1].removesuffix(")")) == [str(graph)], line


def test_plain_lines_keep_emoji_codes_in_paths_as_text():
    """rich replaces ':smile:' by an emoji even with markup off: a `next:` line naming /data/run:smile:/ printed
    another path, which did not paste."""
    import io

    from rich.console import Console

    from droptrack.errors import print_plain, shell_join

    buf = io.StringIO()
    line = "next: " + shell_join(["dt", "run", "/data/run:smile:/clip:thumbs_up:.mp4"])
    print_plain(Console(file=buf, width=30), line)
    assert buf.getvalue() == "next: dt run /data/run:smile:/clip:thumbs_up:.mp4\n"


def test_c1_control_characters_paste_as_the_same_bytes_in_the_c_locale():
    """A C1 control character (U+0085) was written as bash's \\u0085, which bash turns into UTF-8 only in a UTF-8
    locale: under LC_ALL=C (a bare container, cron) it stayed the six characters '\\u0085', another file's name.
    The file's name on disk is UTF-8 bytes C2 85; the pasted word must be those bytes in any locale."""
    import os
    import shutil
    import subprocess

    from droptrack.errors import shell_join

    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    line = shell_join(["dt", "c1\x85", "raw\udcff"])
    script = "dt() { printf '%s\\0' \"$@\"; }\n" + line + "\n"
    for locale in ("C", "C.UTF-8"):
        out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, check=True,
                             env={**os.environ, "LC_ALL": locale}).stdout
        assert out.split(b"\0")[:-1] == [b"c1\xc2\x85", b"raw\xff"], (locale, line)
