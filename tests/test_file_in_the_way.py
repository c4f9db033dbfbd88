"""A file where dt makes a folder, and a file locked against changes: one line naming that file, exit 2, no
traceback (dt eval ended in a NotADirectoryError traceback after tracking every sequence; an immutable report.json
was named by dt's temporary file)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
import typer

from helpers import cli, one_line_error


def test_a_file_where_dt_eval_makes_its_submission_folder(synth: Path, tiny_ckpt: Path, tmp_path: Path):
    out = tmp_path / "ev"
    row = out / tiny_ckpt.stem   # the tracker's results folder is named after the checkpoint
    row.mkdir(parents=True)
    (row / "got10k_submit").write_text("mine\n")
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", synth, "-m", tiny_ckpt, "-o", out,
                              "--threads", "1"))
    assert f"'{row / 'got10k_submit'}' is a file where dt makes a folder" in line, line
    assert (row / "got10k_submit").read_text() == "mine\n"


@pytest.mark.parametrize("code, words", [
    (errno.EPERM, ["cannot change", "Operation not permitted", "locked against changes"]),
    (errno.EACCES, ["cannot access", "closed to this user"]),
])
def test_a_refused_rename_names_the_file_it_replaces_not_the_temporary(tmp_path: Path, capsys, code, words):
    from droptrack.cli.app import friendly

    tmp, final = tmp_path / ".report.json.x1y2.tmp", tmp_path / "report.json"

    def replace_refused():   # as os.replace raises it: the temporary first, the target second
        raise PermissionError(code, os.strerror(code), str(tmp), None, str(final))

    with pytest.raises(typer.Exit) as exc:
        friendly(replace_refused)()
    assert exc.value.exit_code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and f"'{final}'" in line and str(tmp) not in line, line
    for w in words:
        assert w in line, line


@pytest.mark.parametrize("name", ["report.json", "success.png", "SEQ_time.txt"])
def test_a_folder_at_a_name_dt_eval_writes_is_refused_before_any_work(synth: Path, tiny_ckpt: Path, tmp_path: Path,
                                                                      name):
    out = tmp_path / "ev"
    seq = sorted(p.name for p in synth.iterdir() if p.is_dir())[0]
    folder = out / tiny_ckpt.stem / name.replace("SEQ", seq)
    (folder / "x").mkdir(parents=True)
    line = one_line_error(cli("eval", "--dataset", "synth", "--root", synth, "-m", tiny_ckpt, "-o", out,
                              "--threads", "1"))
    assert f"'{folder}' is a folder where dt writes a file" in line, line
    assert [p for p in (out / tiny_ckpt.stem).iterdir()] == [folder]   # nothing tracked, nothing written


def test_dt_analyze_replaces_its_set_whole_or_not_at_all(synth: Path, tiny_ckpt: Path, tmp_path: Path):
    # a folder at report.json's name was found after the plots had replaced the earlier run's (and their
    # temporaries were left); now before any work, every earlier file as it was
    ev = tmp_path / "ev"
    done = cli("eval", "--dataset", "synth", "--root", synth, "-m", tiny_ckpt, "-o", ev, "--threads", "1")
    assert done.exit_code == 0, done.output
    an = tmp_path / "an"
    first = cli("analyze", ev / tiny_ckpt.stem, "--dataset", "synth", "--root", synth, "-o", an)
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in an.iterdir() if p.is_file()}
    (an / "report.json").unlink()
    (an / "report.json").mkdir()
    line = one_line_error(cli("analyze", ev / tiny_ckpt.stem, "--dataset", "synth", "--root", synth, "-o", an))
    assert f"'{an / 'report.json'}' is a folder where dt writes a file" in line, line
    after = {p.name: p.read_bytes() for p in an.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "report.json"}
    assert not list(an.glob(".*.tmp"))


def test_a_bench_output_that_cannot_be_written_stops_the_bench_not_the_row(synth: Path, tiny_ckpt: Path,
                                                                           tmp_path: Path):
    # a sequence name whose temporary result file is too long for the file system: it failed the row (exit 1, as
    # if the artifact failed its gates) with the raw OSError; now one line, exit 2, naming the file
    import shutil

    long = "s" * 240
    data = tmp_path / "lds"
    data.mkdir()
    first = sorted(p for p in synth.iterdir() if p.is_dir())[0]
    shutil.copytree(first, data / long)
    (data / "list.txt").write_text(f"{long}\n")
    out = tmp_path / "be"
    line = one_line_error(cli("bench", tiny_ckpt, "--data", data, "--threads", "1", "-o", out))
    assert f"'{out / 'results' / tiny_ckpt.stem / long}_time.txt' is written first as" in line, line
    assert "File name too long" in line and "pass shorter names" in line, line


def test_a_dangling_link_as_an_output_folder_is_named_as_such(tmp_path: Path):
    # it read "'dl' is a file, not a folder"
    link = tmp_path / "dl"
    link.symlink_to(tmp_path / "gone")
    line = one_line_error(cli("data", "synth", link, "--sequences", "1", "--frames", "2", "--split", "val"))
    assert f"'{link}' is a symbolic link to '{tmp_path / 'gone'}', which does not exist" in line, line
    line = one_line_error(cli("export", "-o", link / "sub"))
    assert "is a symbolic link to" in line and "which does not exist" in line, line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk that is always full)")
def test_a_disk_full_before_the_first_line_does_not_name_a_file_it_keeps():
    # it said "'a.txt.part' keeps the 0 whole lines", a file the run then removed
    from droptrack.errors import OutputFull
    from droptrack.runtime.textsinks import StreamFile

    f = StreamFile("/dev/full")
    with pytest.raises(OutputFull) as exc:
        f.write_line("1,2,3,4")
    assert "no line of /dev/full was written" in str(exc.value) and "keeps the 0" not in str(exc.value)
    f.close()


def test_a_full_temporary_folder_names_tmpdir_as_the_fix(tmp_path: Path, monkeypatch):
    # dt export --int8's calibration frames on a full TMPDIR said "pass an output on another disk", which was not it
    import tempfile

    from droptrack.errors import full_message

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    scratch = tmp_path / "dt-calib-x1y2" / "0001.jpg"
    line = full_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), scratch)
    assert f"set TMPDIR to a folder on another disk (the temporary folder is {tmp_path})" in line, line
    other = full_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), tmp_path / "mine" / "boxes.txt")
    assert "pass an output on another disk" in other and "TMPDIR" not in other


@pytest.mark.parametrize("points_to", ["target.txt", "missing.txt"])
def test_a_symbolic_link_as_dt_runs_output_is_refused_not_replaced(video: Path, tiny_ckpt: Path, tmp_path: Path,
                                                                   points_to):
    # the run's rename replaced the link by a plain file and left what it pointed to as it was (or never made it)
    if points_to == "target.txt":
        (tmp_path / points_to).write_text("")
    link = tmp_path / "boxes.txt"
    link.symlink_to(tmp_path / points_to)
    line = one_line_error(cli("run", video, "-m", tiny_ckpt, "--init", "20,20,30,30", "--max-frames", "2",
                              "--output", link, "--overwrite"))
    assert f"--output '{link}' is a symbolic link to '{tmp_path / points_to}'" in line, line
    assert link.is_symlink()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux has it")
def test_a_crop_window_that_does_not_fit_in_memory_is_one_line():
    # a large (allowed) box on 4K frames under a memory limit: a cv2.error 'Insufficient memory' traceback
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import resource, numpy as np
        from droptrack.errors import InputError
        from droptrack.geometry import crop_params
        from droptrack.runtime.host_ops import _crop_window
        image = np.zeros((2160, 3840, 3), np.uint8)
        p = crop_params((-1920, -1080, 7680, 4320), 4.0, image.shape[:2])   # a 22,000 px window: 1.5 GB
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        try:
            _crop_window(image, p, 256)
        except InputError as exc:
            print("InputError:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "InputError: a crop window of" in out.stdout and "does not fit in memory" in out.stdout, out.stdout
