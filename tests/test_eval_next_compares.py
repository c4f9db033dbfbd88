"""dt eval's `next: dt analyze` line named only the tracker just evaluated, so after `dt eval ... ` with the model and
`dt eval ... --tracker csrt` into the same --output, the printed command scored csrt alone: the comparison the two
runs were for needed the folders typed by hand. The line now also lists the other trackers' folders beside it that
hold every sequence of this run, tracked on the same frames of the same dataset; a folder of other sequences is
left out (dt analyze would drop the missing ones from every tracker's averages)."""

from __future__ import annotations

import shlex

from helpers import cli, drifting_clip


def _root(folder):
    for name in ("seq_a", "seq_b"):
        (folder / name).mkdir(parents=True)
        drifting_clip(folder / name, 4)
        (folder / name / "groundtruth.txt").write_text("30,22,26,20\n" * 4)
    (folder / "list.txt").write_text("seq_a\nseq_b\n")
    return folder


def _hint(res) -> list[str]:
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("next: dt analyze"))
    return shlex.split(line.removeprefix("next: dt "))


def test_the_hint_compares_the_trackers_evaluated_beside_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = _root(tmp_path / "mine")
    first = _hint(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "mil", "-o", "res"))
    assert first[:3] == ["analyze", "res/mil", "--dataset"], first
    cli("eval", "--dataset", "synth", "--root", root, "--tracker", "mosse", "--sequences", "seq_a", "-o", "res")
    args = _hint(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "-o", "res"))
    assert args[:4] == ["analyze", "res/kcf", "res/mil", "--dataset"], args   # not mosse: seq_b is missing there
    res = cli(*args, "-o", "an")
    assert res.exit_code == 0, res.output
    rows = [ln.split("│")[1].strip() for ln in res.output.splitlines() if ln.startswith("│ kcf") or
            ln.startswith("│ mil")]
    assert rows[:2] == ["kcf", "mil"], res.output


def test_a_tracker_named_with_a_leading_dot_is_compared_too(tmp_path, monkeypatch):
    """`--name .hidden` wrote res/.hidden, but the next line of a tracker evaluated beside it left that folder out
    (dot folders were skipped): the printed dt analyze compared without it. It names it as written now."""
    monkeypatch.chdir(tmp_path)
    root = _root(tmp_path / "mine")
    assert _hint(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "mil", "--name", ".hidden", "-o",
                     "res"))[:2] == ["analyze", "res/.hidden"]
    args = _hint(cli("eval", "--dataset", "synth", "--root", root, "--tracker", "kcf", "-o", "res"))
    assert args[:4] == ["analyze", "res/kcf", "res/.hidden", "--dataset"], args   # its own folder first
    res = cli(*args, "-o", "an")
    assert res.exit_code == 0, res.output
    assert {".hidden", "kcf"} <= {ln.split("│")[1].strip() for ln in res.output.splitlines() if ln.count("│") > 2}
