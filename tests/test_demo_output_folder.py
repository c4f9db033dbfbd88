"""`dt demo -o DIR` replaced a user's own files of the names it writes (DIR/export/model.onnx, DIR/bench/bench.json,
the bikes_* video outputs, and until later its bench's norm_precision.png / attributes*.png) without a word. A folder that holds one is now refused before any work unless dt demo
wrote it: its marker `.droptrack-demo`, or, for folders of earlier versions (no marker), a bench/bench.json that
records the demo's dt bench command. Other files in the folder are fine."""

from __future__ import annotations

import json

import pytest

from droptrack.demo import check_demo_folder
from droptrack.errors import InputError
from helpers import cli, one_line_error


def _put(folder, rel, data=b"mine"):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _bench_json(folder, command):
    _put(folder, "bench/bench.json", json.dumps({"schema": 1, "command": command}).encode())


@pytest.mark.parametrize("rel, named", [("export/model.onnx", "export/model.onnx"),
                                        ("export/model_int8_ort.onnx", "export/model_int8_ort.onnx"),
                                        ("export/model_ort.onnx", "export/model_ort.onnx"),   # ONNX Runtime's FP32
                                        ("bench/bench.md", "bench/bench.md"),
                                        # plots its dt bench draws, or removes when it draws none
                                        ("bench/norm_precision.png", "bench/norm_precision.png"),
                                        ("bench/attributes.png", "bench/attributes.png"),
                                        ("bench/attributes_radar.png", "bench/attributes_radar.png"),
                                        ("bench/results/mine/eval.json", "bench/results"),
                                        ("data/synth_val_6x40/list.txt", "data/synth_val_6x40"),
                                        ("bikes_boxes.txt", "bikes_boxes.txt"),
                                        ("export", "export")])   # a file where the demo makes its folder
def test_a_users_file_of_a_demo_name_is_refused(tmp_path, rel, named):
    _put(tmp_path, rel)
    with pytest.raises(InputError) as err:
        check_demo_folder(tmp_path, 6, 40)
    assert f"'{tmp_path / named}'" in str(err.value) and "another --output" in str(err.value)


def test_the_first_path_the_demo_writes_is_named(tmp_path):
    for rel in ("bikes_strip.png", "bench/bench.md", "export/model_fp16.onnx"):
        _put(tmp_path, rel)
    with pytest.raises(InputError, match="model_fp16.onnx"):   # export (step 2) comes before bench and video
        check_demo_folder(tmp_path, 6, 40)


def test_unrelated_files_and_other_synthetic_sizes_are_fine(tmp_path):
    for rel in ("notes.txt", "model.onnx", "export/README.md", "bench/mine.json", "data/synth_val_2x6/list.txt",
                "bikes.mp4"):
        _put(tmp_path, rel)
    check_demo_folder(tmp_path, 6, 40)
    check_demo_folder(tmp_path / "not yet made", 6, 40)


def test_a_folder_with_the_marker_is_the_demos(tmp_path):
    _put(tmp_path, "export/model.onnx")
    _put(tmp_path, "bikes_tracked.mp4")
    _put(tmp_path, ".droptrack-demo", b"")
    check_demo_folder(tmp_path, 6, 40)


@pytest.mark.parametrize("command", [
    # this version: shlex-quoted, with --sequences / --frames / --threads
    "dt bench w/tiny.pt '{d}/export/model.onnx' --data synthetic --root '{d}/data/synth_val_1x3' --reference "
    "w/tiny.pt --output '{d}/bench' --sequences 1 --frames 3 --threads 1",
    # earlier versions: joined unquoted (a space in the folder's name splits it), no sizes, maybe --config
    "dt bench w/tiny.pt {d}/export/model.onnx {d}/export/model_fp16.onnx --data synthetic --root "
    "{d}/data/synth_val_6x40 --reference w/tiny.pt --output {d}/bench",
    "dt bench w/tiny.pt {d}/export/model.onnx --data synthetic --root {d}/data/synth_val_6x40 --reference w/tiny.pt "
    "--output {d}/bench --config tiny_ce_test",
    # the default folder, relative
    "dt bench /x/droptrack_tiny_synth.pt droptrack-demo/export/model.onnx --data synthetic --root "
    "droptrack-demo/data/synth_val_6x40 --reference /x/droptrack_tiny_synth.pt --output droptrack-demo/bench"])
def test_an_earlier_demo_folder_is_recognised_by_its_bench_command(tmp_path, command):
    out = tmp_path / "my demo"
    _put(out, "export/model.onnx")
    _bench_json(out, command.format(d=out))
    check_demo_folder(out, 6, 40)


@pytest.mark.parametrize("content", [
    json.dumps({"command": "dt bench model.onnx --data got10k --root /data/got10k --output {d}/bench"}),
    json.dumps({"command": "dt bench model.onnx --data synthetic --output {d}/bench"}),
    json.dumps({"command": ""}), json.dumps(["dt bench"]), "not json {"])
def test_another_bench_json_is_not_a_demo_folder(tmp_path, content):
    _put(tmp_path, "bench/bench.json", content.replace("{d}", str(tmp_path)).encode())
    with pytest.raises(InputError, match="bench.json"):
        check_demo_folder(tmp_path, 6, 40)


def test_dt_demo_refuses_before_any_work_and_keeps_the_users_model(tmp_path):
    mine = _put(tmp_path, "export/model.onnx", b"my own model")
    line = one_line_error(cli("demo", "-o", tmp_path, "--sequences", 1, "--frames", 3, "--video-frames", 2,
                              "--threads", 1))
    assert f"'{mine}'" in line and "not a dt demo folder" in line
    assert mine.read_bytes() == b"my own model"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["export", "export/model.onnx"]


DEMO_SET = {"version": 2, "sequences": 6, "frames": 40, "seed": 0, "size": [320, 240], "split": "val", "ext": "jpg"}


@pytest.mark.parametrize("name, where", [("synth.json", "complete"), (".synth_progress.jsonl", "cut short")])
def test_an_earlier_demo_stopped_before_its_bench_is_recognised_by_its_synthetic_set(tmp_path, name, where):
    # versions without the marker wrote bench.json last: a Ctrl-C during the export or the bench left the data set
    # (complete, or cut short with its journal), the graphs and a partial bench/ and the rerun was refused
    text = json.dumps(DEMO_SET) + ("\n" + json.dumps(["synth_val_00001", {}]) + "\n" if where == "cut short" else "")
    _put(tmp_path, f"data/synth_val_6x40/{name}", text.encode())
    _droptrack_graph(_put(tmp_path, "export/model.onnx"))   # what dt export wrote there
    _put(tmp_path, "bench/results/model/eval.json")
    check_demo_folder(tmp_path, 6, 40)
    check_demo_folder(tmp_path, 2, 5)   # a rerun with other sizes: still the demo's folder


def _droptrack_graph(path):
    """A graph with dt export's metadata at `path` (its weights do not matter here)."""
    import onnx

    from droptrack.artifact import ArtifactMeta
    from droptrack.export.onnx import set_metadata
    from helpers import identity_graph

    meta = ArtifactMeta("droptrack", "x", 128, 256, 2.0, 4.0, 16, checkpoint_sha256="a" * 64)
    model = identity_graph(meta)
    set_metadata(model, meta)
    onnx.save(model, str(path))


@pytest.mark.parametrize("rel", ["bikes_boxes.txt", "export/model.onnx"])
def test_a_synth_set_of_the_demos_settings_beside_a_users_file_is_no_demo_folder(tmp_path, rel):
    """`dt data synth DIR/data/synth_val_8x40 --split val` (the CLI's defaults are the demo's) beside the user's own
    bikes_boxes.txt made DIR pass for an earlier demo's folder, and that file was replaced without a word."""
    _put(tmp_path, "data/synth_val_8x40/synth.json", json.dumps({**DEMO_SET, "sequences": 8}).encode())
    mine = _put(tmp_path, rel, b"my own file")
    with pytest.raises(InputError, match="not a dt demo folder"):
        check_demo_folder(tmp_path, 6, 40)
    assert mine.read_bytes() == b"my own file"


@pytest.mark.parametrize("change", [{"seed": 3}, {"split": "train"}, {"frames": 41}, {"size": [640, 480]},
                                    {"attributes": ["occlusion"]}])
def test_a_synthetic_set_the_demo_does_not_make_there_is_no_sign(tmp_path, change):
    _put(tmp_path, "data/synth_val_6x40/synth.json", json.dumps({**DEMO_SET, **change}).encode())
    _put(tmp_path, "export/model.onnx")
    with pytest.raises(InputError, match="not a dt demo folder"):
        check_demo_folder(tmp_path, 6, 40)


def test_ctrl_c_says_how_to_continue(tmp_path, monkeypatch):
    import droptrack.demo

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.demo, "run_demo", stopped)   # Ctrl-C during a step
    res = cli("demo", "-o", tmp_path / "d")
    assert res.exit_code == 130
    assert f"run the same command again to continue in '{tmp_path / 'd'}'" in res.output


def test_a_second_demo_into_a_folder_one_is_writing_is_refused_before_any_work(tmp_path):
    """It redid the export while the first benchmarked it, and only then met the bench's lock."""
    from droptrack import filelock
    from droptrack.demo import LOCK, run_demo

    with filelock.held(tmp_path / LOCK, "held by the test"):   # the running demo
        with pytest.raises(InputError, match=rf"another dt demo is writing to '{tmp_path}'"):
            run_demo(tmp_path, sequences=1, frames=3, video_frames=2, progress=False, threads=1)
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]   # nothing of the second one's


def test_a_folder_where_the_demo_writes_a_file_is_refused_in_its_own_folder_too(tmp_path):
    # a finished demo's bikes_tracked.mp4 replaced by a folder: refused only at step 4, after export and bench
    _put(tmp_path, "export/model.onnx")
    _put(tmp_path, ".droptrack-demo", b"")
    (tmp_path / "bikes_tracked.mp4").mkdir()
    with pytest.raises(InputError, match="bikes_tracked.mp4' is a folder where dt demo writes a file"):
        check_demo_folder(tmp_path, 6, 40)
    (tmp_path / "bikes_tracked.mp4").rmdir()
    (tmp_path / "bench" / "results").mkdir(parents=True)   # its folders are folders
    (tmp_path / "data" / "synth_val_6x40").mkdir(parents=True)
    check_demo_folder(tmp_path, 6, 40)
