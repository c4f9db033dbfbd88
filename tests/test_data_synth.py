"""The synthetic benchmark generator: determinism and layout, resuming a killed run, boxes that match the pixels,
the val split's photos, never writing over another dataset, restyled looks, and `dt data synth`."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from droptrack.data import get_sequences
from droptrack.data.synth import ensure_synth, generate_synth, synth_sequence
from droptrack.data import synth_render
from droptrack.data.synth_render import TRAIN_PHOTOS, VAL_PHOTOS, cover_label
from droptrack.errors import DatasetError, InputError
from helpers import text

pytestmark = pytest.mark.usefixtures("no_data_env")   # conftest.py


def test_synth_determinism_and_layout(tmp_path):
    a = generate_synth(tmp_path / "a", 2, 6, seed=3)
    b = generate_synth(tmp_path / "b", 2, 6, seed=3)
    c = generate_synth(tmp_path / "c", 2, 6, seed=4)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    f1 = a / "synth_train_00001" / "00000003.jpg"
    assert f1.read_bytes() != (c / "synth_train_00001" / "00000003.jpg").read_bytes()
    assert (a / "list.txt").read_text().split() == ["synth_train_00001", "synth_train_00002"]
    seqs = get_sequences("synth", a)
    mem = synth_sequence(1, 6, 3)
    np.testing.assert_allclose(seqs[1].boxes, mem.boxes, atol=1e-4)
    assert seqs[1].cover.tolist() == mem.cover.tolist() and seqs[0].image_size == (320, 240)
    assert seqs[0].visible[0] and ((mem.absence == 1) == (mem.cover == 0)).all()


def test_killed_synth_run_resumes_after_the_sequences_it_finished(tmp_path, monkeypatch):
    """A run killed after 2 of 4 sequences, started again with the same parameters, writes only the other 2 and
    ends byte-identical to an uninterrupted run; with other parameters nothing is reused."""
    from droptrack.data import synth

    whole = generate_synth(tmp_path / "whole", 4, 5, seed=3)
    real_write, made = synth._write_sequence, []

    def killed_after_two(folder, seq, ext, *progress):
        if len(made) == 2:
            raise KeyboardInterrupt
        made.append(folder.name)
        real_write(folder, seq, ext, *progress)

    monkeypatch.setattr(synth, "_write_sequence", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate_synth(tmp_path / "cut", 4, 5, seed=3)
    monkeypatch.setattr(synth, "_write_sequence", lambda folder, seq, ext, *p: (made.append(folder.name),
                                                                                real_write(folder, seq, ext, *p)))
    made.clear()
    cut = generate_synth(tmp_path / "cut", 4, 5, seed=3)
    assert made == ["synth_train_00003", "synth_train_00004"]
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(cut) for p in cut.rglob("*") if p.is_file())   # progress file gone
    assert all((whole / f).read_bytes() == (cut / f).read_bytes() for f in files)
    made.clear()
    monkeypatch.setattr(synth, "_write_sequence", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate_synth(tmp_path / "other", 4, 5, seed=3)
    made.clear()
    monkeypatch.setattr(synth, "_write_sequence", lambda folder, seq, ext, *p: (made.append(folder.name),
                                                                                real_write(folder, seq, ext, *p)))
    # another seed replaced the 2 finished sequences without a word; now refused, as a complete set's is
    with pytest.raises(InputError, match=r"stopped part-way \(2 sequences written\) with other settings \(seed 3, "
                                         r"not 4\); run its own command again"):
        generate_synth(tmp_path / "other", 4, 5, seed=4)
    assert made == [] and (tmp_path / "other" / "synth_train_00002").is_dir()
    generate_synth(tmp_path / "other", 4, 5, seed=4, overwrite=True)     # --overwrite: every sequence again
    assert len(made) == 4


def test_synth_box_matches_pixels():
    seen_occlusion = seen_exit = False
    for idx in range(6):
        with_t = synth_sequence(idx, 24, seed=1, keep_masks=True)
        without = synth_sequence(idx, 24, seed=1, draw_target=False)
        for t, (fa, fb, box, m) in enumerate(zip(with_t.frames, without.frames, with_t.boxes, with_t.target_masks)):
            if not m.any():
                assert box.tolist() == [0, 0, 0, 0] and with_t.absence[t] == 1
                seen_exit = True
                continue
            ys, xs = np.nonzero(m)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            diff = np.abs(fa.astype(int) - fb.astype(int)).max(axis=2) > 12
            x, y, w, h = box.astype(int)
            r = 1 + (with_t.blur[t] // 2 + 1 if with_t.blur[t] else 0)  # soft edge, plus motion-blur tails
            near = np.zeros_like(diff)
            near[max(0, y - r):y + h + r, max(0, x - r):x + w + r] = True
            if not with_t.cut[t]:  # a target cut by the frame edge may smear in from outside; skip those
                assert not (diff & ~near).any(), (idx, t, r)
            if with_t.cover[t] == 8:  # fully visible: the target really is drawn over most of its mask
                assert diff[m].mean() > 0.3
            seen_occlusion |= bool(with_t.cover[t] < 8 and with_t.cut[t] == 0)
    assert seen_occlusion and seen_exit
    assert [cover_label(f) for f in (0.0, 0.1, 0.15, 0.5, 0.95, 1.0)] == [0, 1, 1, 4, 7, 8]


def test_synth_val_split_photos_and_ensure(tmp_path):
    assert not set(TRAIN_PHOTOS) & set(VAL_PHOTOS)
    val = generate_synth(tmp_path / "val", 4, 3, seed=0, split="val", ext="png", size=(96, 64))
    meta = json.loads((val / "synth.json").read_text())
    used = {p for ph in meta["photos"].values() for p in ph.values()}
    assert used <= set(VAL_PHOTOS) and (val / "synth_val_00001" / "00000001.png").is_file()
    tr = json.loads((generate_synth(tmp_path / "tr", 4, 3, seed=0, size=(96, 64)) / "synth.json").read_text())
    assert {p for ph in tr["photos"].values() for p in ph.values()} <= set(TRAIN_PHOTOS)
    stamp = (val / "synth.json").stat().st_mtime_ns
    ensure_synth(val, 4, 3, seed=0, split="val", ext="png", size=(96, 64))
    assert (val / "synth.json").stat().st_mtime_ns == stamp
    ensure_synth(val, 5, 3, seed=0, split="val", ext="png", size=(96, 64))
    assert json.loads((val / "synth.json").read_text())["sequences"] == 5
    with pytest.raises(InputError, match="--split"):
        generate_synth(tmp_path / "x", 1, 3, split="test")


def test_synth_never_writes_over_another_dataset_or_set(tmp_path):
    """A GOT-10k folder given as OUT lost its list.txt to the generator, and dt bench --data synthetic --root SET
    regenerated a set made with other parameters; both are refused, untouched. A set a killed run left without its
    marker is still regenerated."""
    from droptrack.eval.bench_data import load_bench_data

    got = tmp_path / "got"
    text(got / "list.txt", "seqA\n")
    text(got / "seqA" / "groundtruth.txt", "1,1,5,5\n")
    with pytest.raises(InputError, match="holds 'list.txt', which is not part of a synthetic set"):
        generate_synth(got, 1, 2, size=(64, 64))
    text(tmp_path / "notes" / "readme.txt", "keep\n")
    with pytest.raises(InputError, match="holds 'readme.txt'"):
        load_bench_data("synthetic", str(tmp_path / "notes"), tmp_path / "out", 1, 2)
    assert sorted(p.name for p in got.rglob("*")) == ["groundtruth.txt", "list.txt", "seqA"]
    assert (got / "list.txt").read_text() == "seqA\n"
    mine = generate_synth(tmp_path / "mine", 1, 3, seed=5, split="val", size=(64, 64))
    marker = (mine / "synth.json").read_text()
    with pytest.raises(InputError, match=r"--root .* holds another synthetic set \(sequences 1, not 2\).*--data"):
        load_bench_data("synthetic", str(mine), tmp_path / "out", 2, 3)
    assert (mine / "synth.json").read_text() == marker and not (mine / "synth_val_00002").exists()
    (got / "list.txt").write_bytes(b"\x9b\xff\x00seqA")       # binary garbage was a UnicodeDecodeError traceback
    with pytest.raises(DatasetError, match="which is not a sequence folder of that split"):   # one line, named
        get_sequences("got10k", got, split="val")
    (mine / "synth.json").unlink()      # as a killed generation leaves it: not read (it may mix two runs) ...
    with pytest.raises(DatasetError, match="generation was interrupted"):
        get_sequences("synth", mine, split="val")
    assert ensure_synth(mine, 1, 3, seed=5, split="val", size=(64, 64)) == mine and (mine / "synth.json").is_file()
    assert len(get_sequences("synth", mine, split="val")) == 1          # ... but made again


def test_synth_restyle_and_video_stills(monkeypatch):
    from droptrack.data.synth_render import load_photo, restyle

    cache: dict = {}
    still = load_photo("carphone_pristine.mp4@80", cache)
    assert still.shape == (144, 176, 3) and still.dtype == np.uint8 and still.std() > 10
    photo = load_photo("astronaut.png", cache)
    looks = [restyle(np.random.default_rng(i), photo) for i in range(12)]
    assert all(lk.shape == photo.shape and lk.dtype == np.uint8 for lk in looks)
    assert any(np.array_equal(lk[..., 0], lk[..., 1]) for lk in looks)  # some become gray
    assert len({lk.tobytes() for lk in looks}) == 12 and np.array_equal(cache["astronaut.png"], photo)
    assert np.array_equal(restyle(np.random.default_rng(3), photo), looks[3])
    n_gray = [sum(np.array_equal(lk[..., 0], lk[..., 2]) for lk in
                  (restyle(np.random.default_rng(i), photo, gray=g) for i in range(40))) for g in (0.0, 0.7)]
    assert n_gray[0] == 0 and n_gray[1] > 20
    with pytest.raises(InputError, match="--gray"):
        generate_synth("unused", 1, 3, split="val", gray=0.5)
    # training sequences draw restyled looks; the val split never does, so held-out sets stay as they were
    calls = []
    real = synth_render.restyle
    monkeypatch.setattr(synth_render, "restyle", lambda *a, **k: calls.append(1) or real(*a, **k))
    tr = synth_sequence(0, 3, seed=5, size=(96, 64), split="train")
    assert tr.photos["target"] in TRAIN_PHOTOS and len(calls) == 3
    synth_sequence(0, 3, seed=5, size=(96, 64), split="val")
    assert len(calls) == 3


def test_cli_data_synth(tmp_path):
    from typer.testing import CliRunner

    from droptrack.cli import app

    out = tmp_path / "cli"
    res = CliRunner().invoke(app, ["data", "synth", str(out), "--sequences", "3", "--frames", "4", "--seed", "2",
                                   "--size", "128x96"])
    assert res.exit_code == 0, res.output
    assert (out / "list.txt").read_text().split() == [f"synth_train_{i:05d}" for i in (1, 2, 3)]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"synth_train_{i:05d}" for i in (1, 2, 3)]
    assert cv2.imread(str(out / "synth_train_00001" / "00000004.jpg")).shape == (96, 128, 3)
    bad = CliRunner().invoke(app, ["data", "synth", str(out), "--size", "big"])
    assert bad.exit_code == 2 and "WxH" in bad.output


def test_synth_keeps_the_same_set_and_refuses_another_unless_overwrite(tmp_path):
    """`dt data synth OUT --seed 2` over a complete seed-1 set replaced it without a word (a validation set lost to
    a typo), and the same command again rewrote every frame; now the same set is kept untouched, another is refused
    (one line, exit 2) and --overwrite replaces it, removing the sequences the new set does not have."""
    from typer.testing import CliRunner

    from droptrack.cli import app

    out = tmp_path / "set"
    args = ["data", "synth", str(out), "--frames", "4", "--size", "96x64"]
    assert CliRunner().invoke(app, [*args, "--sequences", "3", "--seed", "1"]).exit_code == 0
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert CliRunner().invoke(app, [*args, "--sequences", "3", "--seed", "1"]).exit_code == 0
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    bad = CliRunner().invoke(app, [*args, "--sequences", "2", "--seed", "2"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    assert "(sequences 3, not 2; seed 1, not 2)" in bad.output and "--overwrite" in bad.output
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before
    ok = CliRunner().invoke(app, [*args, "--sequences", "2", "--seed", "2", "--overwrite"])
    assert ok.exit_code == 0, ok.output
    assert json.loads((out / "synth.json").read_text())["seed"] == 2
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["synth_train_00001", "synth_train_00002"]
    fresh = generate_synth(tmp_path / "fresh", 2, 4, seed=2, size=(96, 64))
    assert all((out / f.relative_to(fresh)).read_bytes() == f.read_bytes() for f in fresh.rglob("*") if f.is_file())


SIGTERM_AFTER_ONE = """
import os, signal, sys
from droptrack.data import synth
real, calls = synth._write_sequence, []
def write(folder, seq, ext, *progress):
    calls.append(folder)
    if len(calls) == 2:   # as `timeout` or a scheduler, once one sequence is done and journalled
        os.kill(os.getpid(), signal.SIGTERM)
    real(folder, seq, ext, *progress)
synth._write_sequence = write
from droptrack.cli import app
app(["data", "synth", sys.argv[1], "-n", "3", "--frames", "5"], prog_name="dt")
"""


def test_sigterm_stops_dt_data_synth_with_how_to_resume(tmp_path):
    """SIGTERM killed `dt data synth` without a word (exit -15, as for a crash); it now says what Ctrl-C says."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "set"
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-c", SIGTERM_AFTER_ONE, str(out)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.strip().splitlines()[-1] == (f"stopped by SIGTERM: finished sequences are saved in {out}; run "
                                                    "the same command to resume"), proc.stderr
    assert (out / "synth_train_00001").is_dir()


@pytest.mark.parametrize("marker", ['{"mine": 1}\n', "[1, 2]\n", "not json\n"])
def test_a_synth_json_the_generator_did_not_write_is_not_replaced(tmp_path, marker):
    """Any synth.json made a folder pass for a synthetic set: one of another tool (a JSON object) was 'a complete
    synthetic set made with other settings (version None, not 2; ...)', and --overwrite then replaced the folder's
    list.txt and sequence boxes; one that was not an object was replaced without a word. It is now a file that is not
    part of a synthetic set, refused, untouched, with or without --overwrite."""
    from helpers import cli, one_line_error

    out = tmp_path / "mine"
    text(out / "synth.json", marker)
    text(out / "list.txt", "synth_train_00001\n")
    text(out / "synth_train_00001" / "groundtruth.txt", "1,1,5,5\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for extra in ([], ["--overwrite"]):
        line = one_line_error(cli("data", "synth", out, "--sequences", 1, "--frames", 3, *extra))
        assert f"'{out}' holds 'synth.json', which is not part of a synthetic set" in line
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("finished", [0, 1])
def test_ctrl_c_says_whether_any_sequence_was_saved(tmp_path, monkeypatch, finished):
    """Stopped in its first sequence, `dt data synth` said 'finished sequences are saved' of none (its journal holds
    only the settings); it now says nothing was saved. After one, the rerun keeps it, and the line says so."""
    import droptrack.data.synth as synth
    import droptrack.data.synth_journal as synth_journal
    from helpers import cli

    real, calls = synth._write_sequence, []

    def write(*args, **kwargs):   # Ctrl-C while sequence `finished` (from 0) is written
        calls.append(1)
        if len(calls) > finished:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "_write_sequence", write)
    out = tmp_path / "set"
    res = cli("data", "synth", out, "-n", "3", "--frames", "4")
    assert res.exit_code == 130, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    if finished:
        assert res.output.startswith(f"interrupted: finished sequences are saved in {out}; run the same command to "
                                     "resume"), res.output
        assert synth_journal.journalled(out) == 1
    else:
        assert res.output.startswith("interrupted before any sequence was saved: nothing saved; run the same command "
                                     "to start"), res.output
