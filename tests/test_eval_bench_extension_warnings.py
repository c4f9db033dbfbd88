"""`dt eval` and `dt bench` take dt run's tracker-extension options but gave none of its warnings on settings that work
against the run (`dt eval ... --reacq-factor 2 --template-refresh 0.1` said nothing). They now say the same lines
(one shared function, runtime/start_notes.py), once per run, before any sequence is tracked. The model's search
factor and TEST keys come from what the file says of itself (its config, ONNX metadata, engine sidecar): with
--workers N the model is loaded only in the workers."""

from __future__ import annotations

import pytest
import torch

from droptrack.config import load_config
from droptrack.data import generate_synth
from droptrack.model.checkpoint import save_checkpoint
from droptrack.model.ostrack import build_model
from helpers import cli, drifting_clip

REFRESH = ("warning: template refresh at 0.1 is below 0.25, the score under which dt run reports a target lost (its "
           "--lost-threshold): a frame reported lost with a score from 0.1 to 0.25 can crop a new template on what "
           "the box has drifted to; pass --template-refresh 0.25 or more")


def reacq(factor: str, model: int) -> str:
    return (f"warning: --reacq-factor {factor} is the search factor of the re-acquisition crop, not a multiple, and "
            f"this model already searches {model}x the target (TEST.SEARCH_FACTOR): a lost target is searched for in "
            f"a crop no wider than usual; pass more than {model}, e.g. {2 * model}")


def warned(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [ln for ln in result.output.splitlines() if ln.startswith("warning:")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate_synth(tmp_path_factory.mktemp("set") / "set", sequences=2, frames=4, seed=0, size=(96, 72))


@pytest.fixture(scope="module")
def own_keys(tmp_path_factory):
    """The tiny model saved with its own TEST keys: a search factor of 5 (not the tiny config's 4) and template
    refresh at 0.1."""
    torch.manual_seed(0)
    cfg = load_config("tiny_ce_test")
    cfg.TEST.SEARCH_FACTOR, cfg.TEST.TEMPLATE_REFRESH = 5.0, 0.1
    path = tmp_path_factory.mktemp("own") / "own.pt"
    save_checkpoint(path, build_model(cfg).eval(), cfg)
    return path


def test_dt_eval_says_dt_run_s_warnings_once_with_several_workers(tiny_ckpt, onnx_model, data, tmp_path,
                                                                   one_thread):
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", tiny_ckpt, "-o", tmp_path / "out", "--workers", "2",
              "--threads", "1", "--reacq-factor", "2", "--template-refresh", "0.1")
    assert warned(res) == [REFRESH, reacq("2", 4)], res.output
    assert res.output.index(REFRESH) < res.output.index("2 tracked"), res.output
    res = cli("eval", "--dataset", "synth", "--root", data, "-m", onnx_model, "-o", tmp_path / "out", "--threads",
              "1", "--reacq-factor", "3")   # an ONNX graph's metadata, as its check parsed it
    assert warned(res) == [reacq("3", 4)], res.output


def test_the_model_s_own_keys_and_search_factor_are_read_from_its_file(own_keys, data, tmp_path, one_thread):
    """Its TEMPLATE_REFRESH 0.1 is warned about without any option, its factor 5 names the fix; options that fix
    both, or --official, leave nothing to say."""
    args = ["eval", "--dataset", "synth", "--root", data, "-m", own_keys, "-o", tmp_path / "out", "--threads", "1"]
    assert warned(cli(*args, "--workers", "2")) == [REFRESH]   # read by the worker processes too; then in-process
    assert warned(cli(*args, "--reacq-factor", "4.5")) == [REFRESH, reacq("4.5", 5)]
    assert warned(cli(*args, "--reacq-factor", "6", "--template-refresh", "0.3")) == []
    assert warned(cli(*args, "--official")) == []


def test_the_lines_are_dt_run_s_own(own_keys, tmp_path, one_thread):
    """dt run on the same model says the re-acquisition line word for word (its refresh line names its
    --lost-threshold option, which dt eval and dt bench do not have)."""
    (tmp_path / "clip").mkdir()
    clip = drifting_clip(tmp_path / "clip", 3)
    res = cli("run", clip, "-m", own_keys, "--init", "30,22,26,20", "--reacq-factor", "4.5", "-o",
              tmp_path / "boxes.txt", "--threads", "1")
    assert reacq("4.5", 5) in warned(res), res.output


def test_what_the_file_says_of_itself_is_what_its_loaded_tracker_runs(own_keys, onnx_model):
    """The meta read without loading the model agrees with the loaded tracker's settings, a --config over a
    checkpoint's own included."""
    from droptrack.runtime.ext_overrides import merge_overrides
    from droptrack.runtime.start_notes import artifact_meta
    from droptrack.runtime.tracker import load_tracker

    for artifact, config in ((own_keys, None), (own_keys, "tiny_ce_test"), (str(onnx_model), None)):
        meta = artifact_meta(str(artifact), config)
        tracker = load_tracker(str(artifact), config=config)
        assert meta.search_factor == tracker.meta.search_factor
        assert merge_overrides(meta.tracker, None) == tracker.ext
    assert artifact_meta(str(own_keys)).search_factor == 5.0


def test_dt_bench_says_them_once_for_all_its_rows(tiny_ckpt, onnx_model, data, tmp_path, one_thread):
    res = cli("bench", tiny_ckpt, onnx_model, "--data", data, "-o", tmp_path / "bench", "--threads", "1",
              "--reacq-factor", "2", "--template-refresh", "0.1")
    assert res.exit_code in (0, 1), res.output   # gates on a random model's parity are not this test's
    assert [ln for ln in res.output.splitlines() if ln.startswith("warning:")] == [REFRESH, reacq("2", 4)], res.output


def test_a_safetensors_file_and_an_engine_sidecar_give_their_model_s_settings(tmp_path):
    """A .safetensors file's header (its tensors' shapes only) and an engine's sidecar (no TensorRT needed)."""
    import json

    from droptrack.config import meta_from_config
    from droptrack.model.checkpoint import write_safetensors
    from droptrack.runtime.start_notes import artifact_meta, settings_notes

    cfg = load_config("tiny_ce_test")
    cfg.TEST.SEARCH_FACTOR, cfg.TEST.TEMPLATE_REFRESH = 5.0, 0.1
    write_safetensors(tmp_path / "own.safetensors", build_model(cfg).eval(), cfg)
    (tmp_path / "own.engine").write_bytes(b"plan")
    (tmp_path / "own.engine.json").write_text(json.dumps({"meta": meta_from_config(cfg).to_dict(), "env": {}}))
    for name in ("own.safetensors", "own.engine"):
        meta = artifact_meta(str(tmp_path / name))
        assert (meta.search_factor, meta.tracker) == (5.0, {"TEMPLATE_REFRESH": 0.1}), name
        assert settings_notes(str(tmp_path / name), None, {"REACQ_FACTOR": 4.5}) == [
            REFRESH.removeprefix("warning: "), reacq("4.5", 5).removeprefix("warning: ")]
