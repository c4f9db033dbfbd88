"""`dt export` prints its progress lines (the checkpoint's path, the calibration folder, node names of the graph) as
plain text: a checkpoint under a folder named like rich markup ('[bold]a[' / 'x]') ended the export in a MarkupError
traceback before any graph was written."""

from __future__ import annotations

import shutil

from helpers import cli


def test_a_checkpoint_path_that_reads_as_rich_markup_is_printed_as_it_is(tiny, tmp_path):
    ckpt = tmp_path / "[bold]a[" / "x]" / "tiny.pt"   # the path reads '.../[bold]a[/x]/tiny.pt'
    ckpt.parent.mkdir(parents=True)
    shutil.copy(tiny[0], ckpt)
    res = cli("export", ckpt, "-o", tmp_path / "out")
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    assert f"loaded{ckpt}(" in "".join(res.output.split()), res.output   # a long line may wrap anywhere
    assert (tmp_path / "out" / "model.onnx").is_file()


def export_engine(graph, monkeypatch, tmp_path):
    """`dt export GRAPH --engine` with TensorRT stood in for (no GPU here), the engine run as its graph."""
    import sys

    from droptrack.engine import tensorrt_backend as trt_backend
    from droptrack.engine import trt_compat
    from droptrack.engine.onnxruntime_backend import OrtBackend
    from fake_tensorrt import FakeTRT

    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4", "gpu": "Orin", "compute_capability": "8.7"}
    monkeypatch.setitem(sys.modules, "tensorrt", FakeTRT().module())
    monkeypatch.setattr(trt_compat, "unavailable_reason", lambda: "")
    monkeypatch.setattr(trt_compat, "runtime_env", lambda device=0, with_driver=True: dict(env))
    monkeypatch.setattr(trt_backend, "TensorRTBackend", lambda *a, **k: OrtBackend(graph))   # as its graph
    monkeypatch.setenv("DT_CACHE_DIR", str(tmp_path / "cache"))
    return cli("export", graph, "--engine")


def test_an_engine_named_after_a_graph_that_reads_as_rich_markup_keeps_its_name(onnx_model, tmp_path, monkeypatch):
    """`dt export '[red]g.onnx' --engine`: the table row and the parity title read 'g.engine' in red, the '[red]' of
    the file's name swallowed; escaping the markup left emoji codes to rich, so ':smile:' in the name showed as an
    emoji there."""
    graph = tmp_path / "[red]g:smile:.onnx"
    shutil.copy(onnx_model, graph)
    res = export_engine(graph, monkeypatch, tmp_path)
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    assert (tmp_path / "[red]g:smile:.engine").is_file()
    rows = [ln for ln in res.output.splitlines() if ln.startswith("│") and ".engine" in ln]
    assert rows and rows[-1].split()[1] == "[red]g:smile:.engine", res.output


def test_the_parity_table_names_its_artifact_and_pairs_as_they_are():
    """The parity table's title and pair rows: rich read ':smile:' in a name as an emoji, and '[red]' as markup."""
    import io

    from rich.console import Console

    from droptrack.export.parity import TOLERANCES, BoxStats, OutputStats, ParityReport, parity_table

    report = ParityReport("[red]g:smile:.engine", "fp32", "PyTorch", [OutputStats("score_map", 0.0, 0.0, 1.0)],
                          [BoxStats("pair:smile:1", 1.0, 0.0, True)], TOLERANCES["fp32"], failures=["boxes"])
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(parity_table(report))
    out = buf.getvalue()
    assert "parity [red]g:smile:.engine (fp32) vs PyTorch: FAIL" in out, out
    assert any(ln.split("│")[1].strip() == "pair:smile:1"
               for ln in out.splitlines() if ln.startswith("│")), out


def test_an_engine_built_from_a_graph_named_with_an_escape_sequence_loads_and_says_how_to_rebuild(onnx_model, tmp_path,
                                                                                                 monkeypatch):
    """Its sidecar's rebuild command held the escape sequence raw, inside shlex's quotes: every load refused the
    sidecar as 'not a short line of text'. Quoted as $'...' now, it is text that pastes as the graph's path."""
    from droptrack.engine.tensorrt_backend import read_sidecar
    from helpers import pasted

    graph = tmp_path / "g\x1b[2J.onnx"
    shutil.copy(onnx_model, graph)
    res = export_engine(graph, monkeypatch, tmp_path)
    assert res.exit_code == 0 and "\x1b" not in res.output, res.output
    command = read_sidecar(tmp_path / "g\x1b[2J.engine")["rebuild_command"]
    assert pasted(command)[:3] == ["export", str(graph), "--engine"], command


def test_a_stale_graph_in_the_output_is_named_with_its_control_characters_escaped(onnx_model, tmp_path):
    """The note naming graphs of another checkpoint left in --output (files from elsewhere) sent their names to the
    terminal raw."""
    import torch

    from droptrack.config import load_config
    from droptrack.model import build_model
    from droptrack.model.checkpoint import save_checkpoint

    torch.manual_seed(1)   # other weights than the graph's checkpoint (seed 0)
    cfg = load_config("tiny_ce_test")
    ckpt = save_checkpoint(tmp_path / "other.pt", build_model(cfg).eval(), cfg)
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(onnx_model, out / "old\x1b[2J.onnx")
    res = cli("export", ckpt, "-o", out)
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.output.splitlines() if ln.startswith("note: ")]
    assert any("old\\x1b[2J.onnx (checkpoint " in ln for ln in notes), res.output
    assert "\x1b" not in res.output, res.output


def test_the_summary_table_names_an_output_with_control_characters_escaped(tiny, tmp_path):
    """The table's title 'dt export -> OUTPUT' sent the folder's control characters to the terminal raw."""
    out = tmp_path / "o\x1b[2J"
    res = cli("export", tiny[0], "-o", out)
    assert res.exit_code == 0, res.output
    assert f"dt export -> {tmp_path}/o\\x1b[2J" in res.output and "\x1b" not in res.output, res.output


def test_a_long_checkpoint_path_stays_on_its_line(tiny, tmp_path):
    """The progress lines were wrapped at the console's width (80 columns in a pipe or a log): a long path was cut
    into two lines, which neither reads nor copies as one path."""
    ckpt = tmp_path / ("a long folder name " * 4).strip() / "tiny.pt"
    ckpt.parent.mkdir()
    shutil.copy(tiny[0], ckpt)
    res = cli("export", ckpt, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert any(ln.startswith(f"loaded {ckpt} (") for ln in res.output.splitlines()), res.output
