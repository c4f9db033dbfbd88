"""Hostile metadata and text files from someone else: an .onnx file's metadata_props, an engine's sidecar, a
checkpoint's config and parts, a .safetensors header, YAML configs (aliases that expand to billions of values,
deep nesting, python tags) and JSON journals. Each gives one line (exit 2), never a traceback or a hang.
(tests/test_untrusted_files.py: code in pickles, ONNX external data, TensorRT engines.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import onnx
import pytest
import torch

from droptrack.artifact import ArtifactMeta
from droptrack.config import load_config
from droptrack.engine.tensorrt_backend import read_sidecar
from droptrack.errors import BackendError, CheckpointError, ConfigError, InputError, MetadataError
from droptrack.runtime import resume_point
from helpers import cli, one_line_error

INIT = "60,40,40,50"
DEEP = 100_000


def laughs(levels: int) -> str:
    """A YAML flow sequence of 9**levels ones written in a few hundred bytes (each anchor uses the last 9 times)."""
    parts = ["&l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    parts += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"



def with_metadata(src: Path, dst: Path, key: str, value: str | None) -> Path:
    """A copy of `src` whose metadata `key` is `value` (None: removed)."""
    model = onnx.load(str(src))
    props = [(p.key, p.value) for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    for k, v in props + ([(key, value)] if value is not None else []):
        model.metadata_props.add(key=k, value=v)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


@pytest.mark.parametrize("key,value,named", [
    ("stride", "0", "'stride' = 0"), ("search_size", "not json", "not JSON"), ("stride", None, "without stride"),
    ("search_factor", "NaN", "'search_factor' = nan"), ("template_factor", "-4", "'template_factor' = -4"),
    ("mean", "[1]", "'mean' = [1]"), ("std", "[0.2, 0, 0.2]", "'std'"), ("tracker", "[1, 2]", "'tracker'"),
    ("search_size", "1e308", "'search_size'"), ("search_size", "99999999999", "'search_size'"),
    ("stride", "true", "'stride' = True"), ("ce", '"yes"', "'ce'"), ("config_name", '{"a": 1}', "'config_name'"),
    ("search_size", "[" * DEEP + "]" * DEEP, "not JSON"),
    ("search_factor", "1e-200", "'search_factor' = 1e-200, expected a number from 0.5 to 100"),   # an infinite scale
    ("tracker", '{"SIZE_LR": 1e9}', "whose TEST.SIZE_LR: 1000000000.0 is out of range"),
    ("tracker", '{"SCALE_SEARCH": [0.8, NaN]}', "whose TEST.SCALE_SEARCH"),
    ("tracker", '{"NOPE": 1}', "whose key 'NOPE' is not a tracker-extension TEST key")])
def test_onnx_with_hostile_metadata_is_one_line(onnx_model, tmp_path, video, key, value, named):
    path = with_metadata(onnx_model, tmp_path / "m" / "model.onnx", f"droptrack.{key}", value)
    for argv in (["run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output", tmp_path / "b.txt"],
                 ["export", path, "--engine"]):
        line = one_line_error(cli(*argv))
        assert named in line and "model.onnx" in line and len(line) < 400, line
    assert not (tmp_path / "b.txt").exists()


def test_metadata_from_dict_checks_types_and_ranges():
    good = ArtifactMeta("droptrack", "x", 128, 256, 2.0, 4.0, 16).to_dict()
    assert ArtifactMeta.from_dict(good).search_size == 256
    for key, bad in (("stride", 512), ("search_size", 2.5), ("mean", ["a", 1, 2]), ("extra", {1: 2}),
                     ("precision", "x" * 1000)):
        with pytest.raises(MetadataError, match=key):
            ArtifactMeta.from_dict({**good, key: bad})
    with pytest.raises(MetadataError, match="list"):
        ArtifactMeta.from_dict([1, 2])


@pytest.mark.parametrize("text,named", [('{"meta": ' + "[" * DEEP + "]" * DEEP + ', "env": {}}', "unreadable"),
                                        ('{"meta": {"arch": "droptrack"}, "env": {}}', "without"),
                                        ('{"meta": {"arch": "droptrack", "config_name": "x", "template_size": 128, '
                                         '"search_size": 256, "template_factor": 2, "search_factor": 4, '
                                         '"stride": 0}, "env": {}}', "'stride' = 0")])
def test_engine_sidecar_with_hostile_content_is_one_line(tmp_path, text, named):
    (tmp_path / "model.engine").write_bytes(b"plan")
    (tmp_path / "model.engine.json").write_text(text)
    with pytest.raises(BackendError) as err:
        read_sidecar(tmp_path / "model.engine")
    assert named in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 400


META = {"arch": "droptrack", "config_name": "x", "template_size": 128, "search_size": 256, "template_factor": 2,
        "search_factor": 4, "stride": 16}


@pytest.mark.parametrize("extra,named", [
    ({"rebuild_command": "dt export m.onnx --engine\n\x1b[2Jrm -rf ~"}, "'rebuild_command' = 'dt export"),
    ({"precision": "fp16" * 200}, "'precision' = 'fp16fp16"),
    ({"env": {"gpu": "Orin\x1b]0;owned\x07", "tensorrt": "10.3.0"}}, "'env.gpu' = 'Orin\\x1b"),
    ({"env": {"tensorrt": ["10.3.0"] * 10_000}}, "'env.tensorrt' = ['10.3.0'")])
def test_sidecar_text_that_messages_would_print_is_checked(tmp_path, extra, named):
    """Sidecar fields that dt run and dt doctor print must be a short line of printable text: no newline, no
    terminal escape, no screenful of JSON in an error line."""
    (tmp_path / "model.engine").write_bytes(b"plan")
    (tmp_path / "model.engine.json").write_text(json.dumps({"meta": META, "env": {}, **extra}))
    with pytest.raises(BackendError) as err:
        read_sidecar(tmp_path / "model.engine")
    msg = str(err.value)
    assert named in msg and "not a short line of text" in msg and msg.isprintable() and len(msg) < 400, msg


def test_sidecar_of_many_megabytes_is_refused_unread(tmp_path):
    (tmp_path / "model.engine").write_bytes(b"plan")
    with open(tmp_path / "model.engine.json", "wb") as f:
        f.truncate(64 << 20)   # sparse: takes no disk
    with pytest.raises(BackendError, match=r"model\.engine\.json is 64 MiB, not an engine description"):
        read_sidecar(tmp_path / "model.engine")


def test_a_real_sidecar_still_reads(tmp_path):
    (tmp_path / "model.engine").write_bytes(b"plan")
    env = {"tensorrt": "10.3.0", "cuda": "12.6", "driver": "540.4.0", "gpu": "NVIDIA GeForce RTX 4090",
           "compute_capability": "8.9"}
    (tmp_path / "model.engine.json").write_text(json.dumps(
        {"meta": META, "env": env, "precision": "fp16", "rebuild_command": "dt export m.onnx --engine --workspace 4"}))
    assert read_sidecar(tmp_path / "model.engine")["env"] == env


def test_stale_engine_note_skips_sidecars_that_are_not_ours(tmp_path):
    """dt export names engines of another checkpoint left in its --output folder by their sidecar's
    meta.checkpoint_sha256; a sidecar with a number there, a JSON list or a named pipe is not ours: skipped (a number
    was a TypeError traceback after the export, a pipe blocked it)."""
    import os

    from droptrack.export.pipeline import ExportReport, ExportResult
    from droptrack.export.report import stale_artifacts

    meta = ArtifactMeta("droptrack", "x", 128, 256, 2.0, 4.0, 16, checkpoint_sha256="a" * 64)
    report = ExportReport(tmp_path, [ExportResult("model.onnx", tmp_path / "model.onnx", "fp32", "ok", 0.0, meta=meta)])
    sidecars = {"old": {"meta": {"checkpoint_sha256": "b" * 64}}, "number": {"meta": {"checkpoint_sha256": 5}},
                "list": [1, 2], "flat": {"meta": "text"}}
    for name, content in sidecars.items():
        (tmp_path / f"{name}.engine").write_bytes(b"plan")
        (tmp_path / f"{name}.engine.json").write_text(json.dumps(content))
    if hasattr(os, "mkfifo"):
        (tmp_path / "pipe.engine").write_bytes(b"plan")
        os.mkfifo(tmp_path / "pipe.engine.json")
    (line,) = stale_artifacts(report)
    assert line.endswith("not rewritten by this export: old.engine (checkpoint bbbbbbbbbbbb), old.engine.json "
                         "(checkpoint bbbbbbbbbbbb); re-export those precisions or move them away before dt bench / "
                         "dt run"), line


def test_a_sidecar_built_from_a_deep_onnx_path_still_reads(tmp_path):
    """dt export writes rebuild_command = 'dt export ONNX_PATH --engine --workspace N': a path of a few hundred
    characters (a deep project folder) is a real sidecar, not a screenful; refusing it asked to rebuild forever."""
    from droptrack.export.tensorrt import rebuild_command

    onnx_path = Path("/data") / "/".join(["a_fairly_long_folder_name_for_experiments"] * 8) / "model.onnx"
    command = rebuild_command(onnx_path, 4.0, "strong")
    assert len(command) > 300
    (tmp_path / "model.engine").write_bytes(b"plan")
    (tmp_path / "model.engine.json").write_text(json.dumps(
        {"meta": META, "env": {}, "precision": "fp16", "rebuild_command": command}))
    assert read_sidecar(tmp_path / "model.engine")["rebuild_command"] == command


# ----- configs -----

@pytest.mark.parametrize("text,named", [
    ("MODEL: !!python/object/apply:os.system ['touch MARKER']\n", "not valid YAML"),
    ("MODEL: !!python/name:os.system\n", "not valid YAML"),
    ("DATA:\n  MEAN: " + "[" * DEEP + "]" * DEEP + "\n", "nested too deeply"),
    ("MODEL:\n" + "".join("  " * (i + 1) + f"K{i}:\n" for i in range(400)), "nested"),   # 2000 levels: too big
    ("DATA:\n  MEAN: " + laughs(7) + "\n", "more than 10000 values"),
    ("DATA:\n  SEARCH:\n    SIZE: " + laughs(7) + "\n", "more than 10000 values"),
    ("DATA:\n  SEARCH:\n    SIZE: " + "9" * 5000 + "\n", "not valid YAML")])
def test_hostile_yaml_config_is_one_line(tmp_path, text, named):
    path = tmp_path / "cfg.yaml"
    path.write_text(text.replace("MARKER", str(tmp_path / "yaml_ran_code")))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert named in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 400
    assert not (tmp_path / "yaml_ran_code").exists()


def test_a_config_file_of_megabytes_is_refused_before_parsing(tmp_path):
    """PyYAML reads about 150 KB/s: a config of hundreds of MB would hang for minutes before any check."""
    path = tmp_path / "cfg.yaml"
    path.write_text("DATA:\n  MEAN: [" + ", ".join(["0.5"] * 60_000) + "]\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml' is 292 KiB, larger than a tracker config can be"):
        load_config(path)


@pytest.mark.parametrize("name", ["vitb_384_mae_ce_32x4_ep300", "vitb_256_mae_32x4_ep300", "tiny_ce_test",
                                  "droptrack_tiny_synth_hard"])
def test_shipped_configs_load_from_their_files_too(tmp_path, name):
    from importlib import resources

    path = tmp_path / f"{name}.yaml"
    path.write_text((resources.files("droptrack") / "configs" / f"{name}.yaml").read_text())
    assert load_config(path) == load_config(name)


def test_dt_run_with_a_billion_laughs_config_is_one_line(tmp_path, video, tiny_ckpt):
    path = tmp_path / "cfg.yaml"
    path.write_text("DATA:\n  MEAN: " + laughs(9) + "\n")   # 387 million values once expanded
    line = one_line_error(cli("run", video, "-m", tiny_ckpt, "--config", path, "--device", "cpu", "--init", INIT,
                              "--output", tmp_path / "b.txt"))
    assert "more than 10000 values" in line


# ----- checkpoints: config and parts of a droptrack-format file -----

def bomb(levels: int) -> list:
    """9**levels values sharing one list per level: a pickle keeps the sharing, so the file stays small."""
    a: list = [1.0] * 9
    for _ in range(levels):
        a = [a] * 9
    return a


@pytest.mark.parametrize("change,named", [
    (lambda o: o["config"]["DATA"].__setitem__("MEAN", bomb(8)), "more than 10000 values"),
    (lambda o: o.__setitem__("config", "abc"), "str 'config'"),
    (lambda o: o.__setitem__("config", None), "NoneType 'config'"),
    (lambda o: o.__setitem__("net", [1]), "list 'net'"),
    (lambda o: o.__setitem__("config_name", 5), "int 'config_name'"),
    (lambda o: o.__setitem__("variant", 7), "int 'variant'"),
    (lambda o: o["net"].__setitem__("backbone.pos_embed", [1.0]), "backbone.pos_embed")])
def test_checkpoint_with_hostile_parts_is_one_line(tiny_ckpt, tmp_path, video, change, named):
    obj = copy.deepcopy(torch.load(tiny_ckpt, weights_only=True))
    change(obj)
    path = tmp_path / "model.pt"
    torch.save(obj, path)
    for argv in (["run", video, "-m", path, "--device", "cpu", "--init", INIT, "--output", tmp_path / "b.txt"],
                 ["export", path, "-o", tmp_path / "out"]):
        line = one_line_error(cli(*argv))
        assert named in line and "model.pt" in line and len(line) < 500, line
    assert not (tmp_path / "b.txt").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("key,value", [("SIZE", "x" * 100_000), ("X" * 100_000, 1)])
def test_a_huge_config_value_or_key_is_cut_in_the_error_line(tiny_ckpt, tmp_path, video, key, value):
    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["config"]["DATA"]["SEARCH"][key] = value
    torch.save(obj, tmp_path / "model.pt")
    line = one_line_error(cli("run", video, "-m", tmp_path / "model.pt", "--device", "cpu", "--init", INIT))
    assert "model.pt" in line and "DATA.SEARCH." in line and len(line) < 600, line[:300]


def test_safetensors_with_hostile_header_metadata_is_one_line(tiny_ckpt, tmp_path, video):
    from safetensors.torch import save_file

    net = torch.load(tiny_ckpt, weights_only=True)["net"]
    for i, config in enumerate(("[" * DEEP + "]" * DEEP, json.dumps({"DATA": {"MEAN": [[1.0] * 100] * 200}}))):
        path = tmp_path / f"m{i}.safetensors"
        save_file({k: v.contiguous() for k, v in net.items()}, str(path),
                  metadata={"format": "droptrack", "config": config, "meta": "{}"})
        line = one_line_error(cli("run", video, "-m", path, "--device", "cpu", "--init", INIT,
                                  "--output", tmp_path / "b.txt"))
        assert path.name in line and ("damaged" in line or "more than 10000 values" in line), line


# ----- JSON journals -----

def test_resume_journal_nested_too_deeply_is_one_line(tmp_path):
    journal = tmp_path / "b.txt.resume.json"
    journal.write_text('{"format": 2, "identity": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(InputError) as err:
        resume_point.load(journal, {})
    assert "cannot be read" in str(err.value) and "\n" not in str(err.value)


def test_other_resume_journals_nested_too_deeply_are_skipped(tmp_path):
    """--resume without its own journal looks at the other *.resume.json files beside the outputs."""
    (tmp_path / "x.txt.resume.json").write_text('{"identity": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(InputError, match="there is no journal"):
        resume_point.load(tmp_path / "b.txt.resume.json", {"outputs": [str(tmp_path / "b.txt")]})


def test_resume_templates_whose_header_claims_terabytes_are_one_line(tmp_path):
    """An .npz array header is trusted for the allocation: (10**13,) float32 in a file of a few hundred bytes."""
    import io
    import zipfile

    import numpy as np

    journal = tmp_path / "b.txt.resume.json"
    journal.write_text(json.dumps({"format": 2, "identity": {}, "frames": 3, "states": [], "memory": [],
                                   "template_version": 0}))
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (10**13,)})
    with zipfile.ZipFile(tmp_path / "b.txt.resume.0.npz", "w") as z:
        z.writestr("templates.npy", npy.getvalue() + b"\0" * 64)
    with pytest.raises(InputError) as err:
        resume_point.load(journal, {})
    assert "b.txt.resume.0.npz cannot be read" in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_errors_from_metadata_name_the_file(tiny_ckpt, tmp_path):
    from droptrack.model.checkpoint import read_meta

    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["meta"]["search_factor"] = float("inf")
    torch.save(obj, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"m\.pt' has metadata 'search_factor' = inf"):
        read_meta(tmp_path / "m.pt")


@pytest.mark.parametrize("text", ["[1, 2]", "[" * DEEP + "]" * DEEP, '{"cache_key": "abc"'])
def test_an_existing_sidecar_that_is_not_ours_means_rebuild(tmp_path, text):
    """dt export --engine into a folder holding someone else's model.engine.json rebuilds instead of crashing."""
    from droptrack.export.tensorrt import _read_key

    (tmp_path / "model.engine.json").write_text(text)
    assert _read_key(tmp_path / "model.engine.json") == ""


def test_dataset_json_nested_too_deeply_is_one_line_or_ignored(tmp_path):
    """A dataset from elsewhere: COCO's annotation file is refused in one line; a synthetic set's synth.json that
    cannot be read is treated as absent, as an unreadable one already was."""
    from droptrack.data import coco
    from droptrack.data.registry import check_split
    from droptrack.data.synth import _marker_differences
    from droptrack.errors import DatasetError

    deep = "[" * DEEP + "]" * DEEP
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(deep)
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        coco.read(tmp_path, "val", None)
    (tmp_path / "synth.json").write_text(deep)
    assert check_split("synth", tmp_path, "val") is None
    assert _marker_differences(tmp_path, {"seed": 1}) is None


@pytest.mark.parametrize("text", ["[1, 2]", "[" * DEEP + "]" * DEEP,
                                  '{"inputs": [1], "dataset": "' + "d" * 10**5 + '"}'])
def test_output_folder_json_of_someone_else_is_one_line_or_replaced(tmp_path, text):
    """dt eval's eval.json and dt export's parity.json in an --output folder copied from elsewhere."""
    from droptrack.eval.resume import check_manifest
    from droptrack.export.parity import write_parity_json

    (tmp_path / "eval.json").write_text(text)
    (tmp_path / "seq1.txt").write_text("1\t2\t3\t4\n")
    ident = {"artifact": "m.pt", "artifact_sha256": "ab", "config": None, "dataset": "synth",
             "tracker_overrides": {}, "realtime": None}
    with pytest.raises(InputError, match=r"holds eval.json, which dt eval did not write: .*\(seq1.txt\)") as err:
        check_manifest(tmp_path, ident, "cpu", {"seq1": "f1"})
    assert len(str(err.value)) < 400
    (tmp_path / "parity.json").write_text(text)
    write_parity_json(tmp_path, [], {"note": 1})
    merged = json.loads((tmp_path / "parity.json").read_text())
    assert merged["artifacts"] == {} and merged["note"] == 1


@pytest.mark.parametrize("key,value,named", [
    ("tracker", '{"SIZE_LR": 1e9}', "whose TEST.SIZE_LR: 1000000000.0 is out of range"),   # doctor said "ok"
    ("template_size", "96", "input 'template' of 'model.onnx' has shape [1, 3, 64, 64] but its metadata says (1, 3, "
                            "96, 96)")])   # doctor filed it under "on cpu", exit 1: the file's fault on any device
def test_dt_doctor_and_bench_refuse_a_graph_its_metadata_misdescribes(onnx_model, tmp_path, key, value, named):
    """dt run refused these graphs (exit 2); dt doctor passed one and blamed this machine for the other (exit 1), and
    dt bench ran its PyTorch reference first, then failed the row (exit 1). All refuse them in one line now."""
    path = with_metadata(onnx_model, tmp_path / "m" / "model.onnx", f"droptrack.{key}", value)
    for argv in (["doctor", path], ["bench", path, "--frames", "4", "-o", tmp_path / "b"]):
        line = one_line_error(cli(*argv))
        assert named in line, line
    assert not (tmp_path / "b").exists()


def test_a_config_far_larger_than_the_weights_is_refused_before_it_is_built(tmp_path, video):
    """--config with EMBED_DIM 8388608 built the model at that size before comparing shapes: a 24 GiB allocation
    traceback (or a stalled machine where it fits in swap), in dt run and dt doctor alike."""
    import yaml

    from droptrack.model.default import default_checkpoint

    cfg = yaml.safe_load((Path(__file__).parents[1] / "droptrack/configs/droptrack_tiny_synth.yaml").read_text())
    cfg["MODEL"]["BACKBONE"]["EMBED_DIM"] = 8388608
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(cfg))
    want = ("MODEL.BACKBONE.EMBED_DIM gives width 8388608, the checkpoint's width is 128; building that model would "
            "take 25165824.0 GiB")   # 12 x 8388608^2 x 8 blocks x 4 bytes
    for argv in (["run", video, "--config", big, "--init", INIT, "-o", tmp_path / "b.txt"],
                 ["doctor", default_checkpoint(), "--config", big]):
        line = one_line_error(cli(*argv))
        assert want in line and line.endswith("pass the right --config"), line
