"""dt bench's closing `next: dt run ...` line on data that is not one video names --init X,Y,W,H next to VIDEO, as
dt export's does: without --init, dt run on a machine without a display stops at the box."""

from __future__ import annotations

import shlex

from helpers import cli

from droptrack.data import generate_synth


def test_next_command_after_a_synthetic_bench_names_init(tiny_ckpt, tmp_path):
    synth = generate_synth(tmp_path / "my synth", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    res = cli("bench", tiny_ckpt, "--data", synth, "--threads", "1", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    nxt = [ln for ln in res.output.splitlines() if ln.startswith("next: ")]
    assert len(nxt) == 1, res.output
    assert shlex.split(nxt[0][len("next: "):]) == ["dt", "run", "VIDEO", "--init", "X,Y,W,H", "--model",
                                                   str(tiny_ckpt), "--device", "cpu", "--threads", "1"]


def test_next_command_names_an_artifact_with_an_escape_sequence_as_text_that_pastes(tiny_ckpt, tmp_path):
    """The artifact's path went into the line with its escape sequence raw: now it is text, quoted as $'...', and
    bash reads back the path."""
    import shutil

    from helpers import pasted

    ckpt = tmp_path / "c[red]\x1b[2J.pt"
    shutil.copy(tiny_ckpt, ckpt)
    synth = generate_synth(tmp_path / "synth", sequences=1, frames=4, seed=0, size=(160, 120), split="val")
    res = cli("bench", ckpt, "--data", synth, "--threads", "1", "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    nxt = [ln for ln in res.output.splitlines() if ln.startswith("next: ")]
    assert len(nxt) == 1 and "\x1b" not in nxt[0], res.output
    assert pasted(nxt[0].removeprefix("next: "))[5] == str(ckpt), nxt


def test_next_command_after_a_bench_on_one_frame_folder_names_it_and_its_box(tiny_ckpt, tmp_path):
    """dt bench --data FRAMES/ --init X,Y,W,H (one folder of frames, as dt run takes it) printed `dt run VIDEO --init
    X,Y,W,H ...` as for a dataset; a video's bench named the video and its box. A frame folder is named too."""
    from helpers import drifting_clip

    (tmp_path / "frames").mkdir()
    drifting_clip(tmp_path / "frames", 4)
    res = cli("bench", tiny_ckpt, "--data", tmp_path / "frames", "--init", "30,22,26,20", "--threads", "1", "-o",
              tmp_path / "out")
    assert res.exit_code == 0, res.output
    nxt = [ln for ln in res.output.splitlines() if ln.startswith("next: ")]
    args = shlex.split(nxt[0][len("next: "):])
    assert args[:5] == ["dt", "run", str(tmp_path / "frames"), "--init", "30,22,26,20"], nxt
    run = cli(*args[1:], "-o", tmp_path / "boxes.txt")
    assert run.exit_code == 0, run.output


def test_next_command_skips_a_graph_another_runtime_emulated_here():
    """Benched on the CPU, the TensorRT INT8 graph (run by ONNX Runtime, its latency marked '*') was named as what to
    run next when it read fastest, on the CPU where it is 2.4x slower than model.onnx on a ViT-B."""
    from types import SimpleNamespace

    from droptrack.eval.bench_rows import BenchRow
    from droptrack.eval.bench_timing import Latency
    from droptrack.eval.bench_view import next_command

    def row(name: str, fps_ms: float, target: str | None) -> BenchRow:
        r = BenchRow(name, f"/m/{name}.onnx", "onnx", "int8" if target else "fp32", target_runtime=target)
        r.latency = Latency({"p50": fps_ms}, {"p50": fps_ms, "mean": fps_ms}, {}, 10, 1)
        return r

    opts = SimpleNamespace(threads=None, device="cpu", ext={}, config_for=lambda a: None, trust_for=lambda a: False)
    data = SimpleNamespace(kind="dataset", one_source=False, name="s", sequences=[])
    rows = [row("model", 20.0, None), row("model_int8_trt", 10.0, "tensorrt")]
    report = SimpleNamespace(rows=rows, options=opts, data=data)
    assert "--model /m/model.onnx " in next_command(report)
    report.rows = rows[1:]   # the only one that passed: still named
    assert "--model /m/model_int8_trt.onnx " in next_command(report)
