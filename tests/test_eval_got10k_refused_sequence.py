"""`dt eval --dataset synth` scores a GOT-10k toolkit report beside its own, and that toolkit refuses a sequence with
a NaN box on a frame its cover.label says is in view (its AO would be NaN). The report then left that sequence out
without a word in the summary, and when it was the only one (or every one) the run failed once everything was
tracked, its report.json unwritten, saying to 'fix the result files'. Such a sequence is now refused before any
work in one line naming it, the row and the fix; the others are tracked once it is fixed or left out."""

from droptrack.data import generate_synth
from helpers import cli, one_line_error


def _set(tmp_path):
    """Three synthetic sequences; the second's groundtruth.txt line 3 (frame 2, cover label 2) holds NaN."""
    root = generate_synth(tmp_path / "set", 3, 6, seed=0, size=(96, 64), split="val")
    seq = root / "synth_val_00002"
    assert (seq / "cover.label").read_text().split()[2] != "0"
    lines = (seq / "groundtruth.txt").read_text().splitlines()
    lines[2] = "NaN,NaN,NaN,NaN"
    (seq / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    return root


def test_a_sequence_the_got10k_report_refuses_is_named_before_any_work(tmp_path):
    root = _set(tmp_path)
    out = tmp_path / "out"
    for only in ([], ["--sequences", "synth_val_00002"]):
        res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--output", out, *only)
        assert res.exit_code == 2
        assert one_line_error(res) == (
            "error: synth_val_00002: ground-truth row 2 has NaN on a frame with cover > 0 (the GOT-10k toolkit's AO "
            "would be NaN); fix groundtruth.txt or set that frame's cover label to 0; or leave it out with "
            "--sequences (the names to track)")
        assert not out.exists()   # nothing tracked or written
    # the fix named: the others are tracked and scored by both reports
    res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--output", out,
              "--sequences", "synth_val_00001,synth_val_00003")
    assert res.exit_code == 0, res.output
    assert "GOT-10k toolkit: AO" in res.output
    # the cover label set to 0 on that frame (as GOT-10k labels an absent target): all three tracked
    cover = root / "synth_val_00002" / "cover.label"
    labels = cover.read_text().split()
    labels[2] = "0"
    cover.write_text("\n".join(labels) + "\n")
    res = cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "--output", tmp_path / "all")
    assert res.exit_code == 0 and "3 tracked, 0 resumed" in res.output, res.output
