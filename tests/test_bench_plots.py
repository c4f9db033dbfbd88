"""dt bench's latency.png as a person reads it (figure built from hand-made rows, no model run)."""

from __future__ import annotations

from droptrack.eval.bench_plot import latency_figure
from droptrack.eval.bench_rows import BenchRow
from droptrack.eval.bench_timing import Latency


def _row(name: str, fmt: str, precision: str, stages: dict[str, float]) -> BenchRow:
    mean = sum(stages.values())
    lat = Latency({"p50": mean}, {"mean": mean, "p50": mean}, stages, frames=10, warmup_frames=2)
    return BenchRow(name, name, fmt, precision, latency=lat)


def test_baseline_rows_read_plainly_and_the_legend_names_only_stages_drawn():
    """OpenCV rows were labelled 'kcf (opencv -)', MOSSE's 0.03 ms read '0.0 ms', and the legend listed pre, infer
    and post though no bar had them."""
    rows = [_row("kcf", "opencv", "-", {"tracker": 2.2}), _row("mosse", "opencv", "-", {"tracker": 0.034})]
    ax = latency_figure(rows).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mosse (opencv)", "kcf (opencv)"]   # first on top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tracker"]
    assert sorted(t.get_text() for t in ax.texts) == [" 0.03 ms (29412 FPS)", " 2.2 ms (455 FPS)"]
    model = [_row("tiny", "onnx", "fp16", {"pre": 1.0, "infer": 3.0, "post": 0.5}), *rows]
    ax = latency_figure(model).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pre (crop, normalise)", "infer (network)",
                                                                  "post (decode, map back)", "tracker"]
    assert ax.get_yticklabels()[-1].get_text() == "tiny (onnx fp16)"


def test_bench_md_states_the_divergence_gate_the_rows_were_held_to():
    """bench.md's footnote said 'gated: default FP16 1 %, INT8 3 %' whatever the run: FP32 rows are gated at 1 %
    too, and --max-divergence replaces the defaults."""
    from droptrack.eval.bench_report import divergence_gate

    assert divergence_gate(None) == "gated by default at FP32 1.0%, FP16 1.0%, INT8 3.0%"
    assert divergence_gate(0.05) == "gated at 5.0%, --max-divergence"


def test_stages_are_greys_and_the_title_says_what_was_measured():
    """The stages were blue / orange / green, the colours of the first three trackers in the curves of the same
    report (orange was model_fp16 there and 'infer' here); the PNG did not say on what it was measured."""
    from matplotlib.colors import to_rgb

    rows = [_row("tiny", "onnx", "fp16", {"pre": 1.0, "infer": 3.0, "post": 0.5})]
    ax = latency_figure(rows, "cpu, AMD EPYC, 1 thread; s: 2 sequences, 20 frames").axes[0]
    for patch in ax.patches:
        r, g, b = to_rgb(patch.get_facecolor())
        assert r == g == b, patch.get_facecolor()   # a grey
    assert ax.get_title() == "End-to-end latency by stage\ncpu, AMD EPYC, 1 thread; s: 2 sequences, 20 frames"
