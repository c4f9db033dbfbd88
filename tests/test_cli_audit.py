"""User-level audit of dt export / bench (and checks every command shares): bad options give one line and exit
code 2, before work. dt eval / analyze: test_cli_audit_eval.py."""

from __future__ import annotations

from pathlib import Path

from droptrack.cli import app
from helpers import cli, one_line_error, runner


def test_export_opset_newer_than_the_exporter(tiny_ckpt, tmp_path):
    """--opset 99 was a 70-line torch traceback (exit 1) after loading the model; now one line before any work."""
    line = one_line_error(cli("export", tiny_ckpt, "--opset", 99, "-o", tmp_path / "out"))
    assert "opset 99" in line and "--opset 17" in line
    assert not (tmp_path / "out").exists()


def test_export_val_sequences_zero_or_negative(tiny_ckpt, tmp_path):
    """--val-sequences 0 was a ZeroDivisionError traceback (exit 1); -3 said 'one lost sequence would be -33.3%'."""
    for n in (0, -3):
        line = one_line_error(cli("export", tiny_ckpt, "--int8", "--auto-precision", "--val-sequences", n,
                                  "-o", tmp_path / "out"))
        assert f"got {n}: pass --val-sequences 34" in line and "-33" not in line
    assert not (tmp_path / "out").exists()


def test_export_int8_alias_takes_calib(tiny_ckpt, tmp_path):
    """--precision i8 (an alias of int8) with --calib was refused as '--calib is only used with --int8'."""
    line = one_line_error(cli("export", tiny_ckpt, "--precision", "i8", "--calib", "nowhere:/x", "-o", tmp_path / "o"))
    assert "only used with --int8" not in line and "nowhere" in line
    assert "only used with --int8" in one_line_error(cli("export", tiny_ckpt, "--fp16", "--calib", "synth"))


def test_bench_output_inside_the_data_folder(tiny_ckpt, tmp_path):
    """dt bench --data DIR -o DIR/bench wrote results and plots into the data, which the next bench on DIR then read
    as a sequence ('bench has no ground truth'); dt eval already refused an output inside its dataset root."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    before = sorted(p.name for p in data.iterdir())
    line = one_line_error(cli("bench", tiny_ckpt, "--data", data, "-o", data / "bench"))
    assert "inside the --data folder" in line
    assert sorted(p.name for p in data.iterdir()) == before


def test_bench_output_holding_eval_results(tiny_ckpt, tmp_path):
    """dt bench -o results/synth/tiny (a dt eval tracker folder) replaced dt eval's report.json and plots."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "eval.json").write_text("{}")
    (folder / "report.json").write_text('{"mine": 1}')
    line = one_line_error(cli("bench", tiny_ckpt, "-o", folder))
    assert "dt eval's results (eval.json)" in line
    assert sorted(p.name for p in folder.iterdir()) == ["eval.json", "report.json"]


def test_export_next_commands_quote_paths(tmp_path):
    """dt export -o 'my exports' printed `next: dt bench my exports/model.onnx`, two wrong arguments when pasted."""
    import shlex

    from droptrack.export.pipeline import ExportReport, ExportResult
    from droptrack.export.report import next_commands

    out = tmp_path / "my exports"
    results = [ExportResult(n, out / n, p, "ok", 0.0) for n, p in (("model.onnx", "fp32"), ("model_fp16.onnx", "fp16"),
                                                                   ("model_fp16.engine", "fp16"))]
    run, bench, run_trt, bench_trt = (shlex.split(c) for c in next_commands(ExportReport(out, results)))
    assert run == ["dt", "run", "VIDEO", "--model", str(out / "model.onnx"), "--init", "X,Y,W,H"]
    assert bench == ["dt", "bench", str(out / "model.onnx"), str(out / "model_fp16.onnx")]
    assert run_trt[4] == str(out / "model_fp16.engine") and bench_trt[2:] == [str(out / "model_fp16.engine"),
                                                                               "--device", "cuda"]


def test_bench_interrupt_says_how_to_resume(tiny_ckpt, tmp_path, monkeypatch):
    """Ctrl-C in dt bench printed a bare 'interrupted'; the finished sequences are kept but only --resume uses them
    (a plain re-run starts over), so the message now says so, as dt eval's does."""
    import droptrack.eval.bench as bench

    def interrupted(opts):   # stopped once it made --output (before that, nothing is saved: test_bench_signals)
        Path(opts.output_dir).mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_bench", interrupted)
    res = cli("bench", tiny_ckpt, "-o", tmp_path / "b")
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 130 and len(lines) == 1
    assert "--resume" in lines[0] and str(tmp_path / "b") in lines[0]


def test_unknown_config_before_any_work(tiny_ckpt, tmp_path):
    """--config nope: dt bench made a failed row (exit 1) after reading the data; dt eval drew a progress bar and
    made OUTPUT/tiny/eval.json; dt export made its output folder. Now one line, exit 2, nothing written."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=4, seed=0, size=(96, 72), split="val")
    out = tmp_path / "out"
    for args in (("bench", tiny_ckpt, "--data", data), ("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt),
                 ("export", tiny_ckpt)):
        assert "unknown config 'nope'" in one_line_error(cli(*args, "--config", "nope", "-o", out))
        assert not out.exists()


def test_export_missing_checkpoint_or_a_folder(tmp_path):
    """dt export nope.pt made the output folder before failing, and a folder passed as the checkpoint was 'not
    found'; now both fail before anything is made, and a folder is called a folder."""
    out = tmp_path / "out"
    assert "not found" in one_line_error(cli("export", tmp_path / "nope.pt", "-o", out))
    assert "is a folder" in one_line_error(cli("export", tmp_path, "-o", out))
    assert not out.exists()


def test_export_onnx_input_refuses_checkpoint_options(tmp_path):
    """dt export model.onnx --engine --fp16 -o elsewhere built the FP32 engine next to model.onnx, silently ignoring
    --fp16 and -o (on a machine with TensorRT); now the options it cannot honour are named before any work."""
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"")   # never read: the options are checked first
    line = one_line_error(cli("export", onnx, "--engine", "--fp16", "-o", tmp_path / "elsewhere"))
    assert "--fp16/--int8, --output apply to a checkpoint export" in line
    assert "--keep-fp32" in one_line_error(cli("export", onnx, "--engine", "--fp16", "--keep-fp32", "x"))
    assert not (tmp_path / "elsewhere").exists()


def test_help_texts_say_what_options_do():
    """dt analyze --root said 'default: the data module's' (dt eval's names DT_DATA_<NAME> / DT_DATA); dt export's
    --opset named no upper limit and --output did not say an .onnx CHECKPOINT's engine goes next to it."""
    import re

    def help_of(cmd: str) -> str:
        return re.sub(r"[\s│]+", " ", runner.invoke(app, [cmd, "--help"], terminal_width=200).output)

    assert "DT_DATA_<NAME> or DT_DATA" in help_of("analyze")
    export = help_of("export")
    assert "up to the newest the installed torch exports" in export and "its engine goes next to it" in export


def test_export_ignored_int8_options(tiny_ckpt, tmp_path):
    """dt export --fp16 --calib-method entropy (or --int8-target trt, --calib-pairs 64) and dt export --int8
    --val-sequences 80 (without --auto-precision) exported as if the option was not there."""
    out = tmp_path / "out"
    for args, needs in ((("--fp16", "--calib-method", "entropy"), "--int8"), (("--int8-target", "trt"), "--int8"),
                        (("--calib-pairs", 64), "--int8"),
                        (("--int8", "--val-sequences", 80, "--group-by", "kind"), "--auto-precision")):
        line = one_line_error(cli("export", tiny_ckpt, *args, "-o", out))
        assert f"only used with {needs}" in line and str(args[-2]) in line
    # --engine with only ONNX Runtime's INT8 graph built no engine and said nothing
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--int8-target", "ort", "--engine", "-o", out))
    assert "--engine" in line and "add trt to --int8-target" in line
    assert not out.exists()


def test_bench_bad_reference_before_the_data(tiny_ckpt, tmp_path):
    """dt bench --reference corrupt.pt (or an artifact whose checkpoint cannot be found) generated the synthetic set
    (or read the dataset) before saying so; now the references are resolved first."""
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "b"
    assert "--reference" in one_line_error(cli("bench", tiny_ckpt, "--reference", bad, "--sequences", 1, "--frames", 3,
                                               "-o", out))
    assert not list(out.glob("synth_val_*"))


def test_bench_options_without_meaning_are_refused(tiny_ckpt, tmp_path, video):
    """dt bench --tracker kcf --max-auc-drop 0.5 (or --reference, --max-divergence: OpenCV rows have no PyTorch
    reference; --config, read by no row) and dt bench --data <folder or video> --root X ran and passed as if the
    option was not there."""
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    out = tmp_path / "b"
    for args, named in ((("--max-auc-drop", 0.5), "--max-auc-drop"), (("--reference", tiny_ckpt), "--reference"),
                        (("--max-divergence", 0.1), "--max-divergence"), (("--config", "tiny_ce_test"), "--config"),
                        (("--trust-checkpoint",), "--trust-checkpoint")):   # --config: read by no row, ignored
        line = one_line_error(cli("bench", "--tracker", "kcf", "--data", data, *args, "-o", out))
        assert named in line and "pass an artifact" in line, line
        assert " compare " not in line, line   # one option: 'compares'; the checkpoint ones compare nothing
    for spec in (data, video):
        line = one_line_error(cli("bench", tiny_ckpt, "--data", spec, "--root", tmp_path, "-o", out))
        assert "drop --root" in line and str(spec) in line
    assert not out.exists()


def test_sizes_have_upper_limits(tiny_ckpt, tmp_path):
    """dt export --int8 --calib-pairs 100000000 exported the FP32 graph and then built pairs until memory ran out;
    dt bench / dt demo --sequences 100000 --frames 100000 started generating that synthetic set. One line each now,
    before any output."""
    from droptrack.eval.bench_data import SYNTH_MAX_FRAMES, SYNTH_MAX_SEQUENCES
    from droptrack.export.calibration import MAX_CALIB_PAIRS

    out = tmp_path / "o"
    line = one_line_error(cli("export", tiny_ckpt, "--int8", "--calib", "photos", "--calib-pairs", 10**8, "-o", out))
    assert line == "error: --calib-pairs: 100000000 is out of range; allowed: an integer in [8, 1024]"
    assert MAX_CALIB_PAIRS == 1024 and (SYNTH_MAX_SEQUENCES, SYNTH_MAX_FRAMES) == (200, 1000)
    for command in (("bench", "--tracker", "kcf"), ("demo",)):
        line = one_line_error(cli(*command, "--sequences", 201, "-o", out))
        assert line == "error: --sequences: 201 is out of range; allowed: an integer <= 200"
        line = one_line_error(cli(*command, "--frames", 1001, "-o", out))
        assert line == "error: --frames: 1001 is out of range; allowed: an integer <= 1000"
    assert not out.exists()
    # a dataset's --sequences / --frames keep the first N / M: no limit (a folder with 1 sequence of 3 frames)
    from droptrack.data import generate_synth

    data = generate_synth(tmp_path / "set", sequences=1, frames=3, seed=0, size=(96, 72), split="val")
    from droptrack.eval.bench_options import BenchOptions, check_options

    check_options(BenchOptions([], trackers=["kcf"], data=str(data), sequences=10**6, frames=10**6, output_dir=out))


def test_bench_notes_oversubscription_and_prints_a_next_command(tiny_ckpt, tmp_path, video, monkeypatch):
    """dt bench --threads above the usable cores measured stalls as latency without a word, and ended without the
    next command (dt eval and dt export print both); now a 'threads:' note and a `dt run` line that runs as it is."""
    import shlex

    import droptrack.engine.threads as threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 1)
    res = cli("bench", tiny_ckpt, "--data", video, "--init", "100,60,40,40", "--frames", 4, "--threads", 2,
              "--official", "--crop-grid", "0.1", "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    assert "threads: --threads 2 x 1 worker(s) > 1 usable cores: oversubscribed" in res.output
    nxt = [ln for ln in res.output.splitlines() if ln.startswith("next: ")]
    assert len(nxt) == 1
    argv = shlex.split(nxt[0][len("next: "):])
    assert argv == ["dt", "run", str(video), "--init", "100,60,40,40", "--model", str(tiny_ckpt), "--device", "cpu",
                    "--official", "--crop-grid", "0.1"]          # no oversubscribed --threads
    ran = runner.invoke(app, [*argv[1:], "--max-frames", "3", "--jsonl", str(tmp_path / "boxes.jsonl")])
    assert ran.exit_code == 0, ran.output
    assert len((tmp_path / "boxes.jsonl").read_text().splitlines()) == 3
    # the bench without the extra threads: no note; OpenCV rows alone: no model to run next
    res = cli("bench", "--tracker", "kcf", "--data", video, "--init", "100,60,40,40", "--frames", 4, "-o",
              tmp_path / "c")
    assert res.exit_code == 0 and "threads:" not in res.output and "next:" not in res.output, res.output
    from droptrack.runtime.extensions import option_args

    assert option_args({"SCALE_SEARCH": None, "SIZE_LR": 0.6, "REACQ_FRAMES": 3}) == [
        "--scale-search", "off", "--size-lr", "0.6", "--reacq-frames", "3"]
    assert option_args({"SCALE_SEARCH": [0.8, 1.25], "CROP_GRID": None}) == ["--scale-search", "0.8,1.25",
                                                                             "--crop-grid", "off"]


def test_export_interrupt_says_how_to_resume(tiny_ckpt, tmp_path, monkeypatch):
    """Ctrl-C in dt export printed a bare 'interrupted', though the same command run again resumes (the precision
    search from its journal), as dt eval's says. dt data synth's line: test_data_synth (stopped with a real journal)."""
    import droptrack.export.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "export_all", interrupted)
    res = cli("export", tiny_ckpt, "-o", tmp_path / "e")   # before its folder: nothing saved
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 130 and len(lines) == 1, res.output
    assert lines[0].startswith("interrupted") and "run the same command to start" in lines[0]
    (tmp_path / "e").mkdir()   # files written: the rerun starts over (only a precision search resumes)
    res = cli("export", tiny_ckpt, "-o", tmp_path / "e")
    assert res.exit_code == 130 and "run the same command to export again" in res.output, res.output
