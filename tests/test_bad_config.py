"""Bad config values and `dt train` options: exit 2, one line naming the key/flag, no traceback, nothing trained."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from droptrack.cli import app


def _tiny() -> dict:
    return yaml.safe_load((resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_text())


def _with(section: str, key: str, value) -> dict:
    data = _tiny()
    node = data
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    return data


# (case id, YAML text or dict of the config, words the message must contain)
CONFIG_CASES = [
    ("batch-size-word", "TRAIN:\n  BATCH_SIZE: four\n", ["TRAIN.BATCH_SIZE", "'four'", "integer >= 1"]),
    ("lr-word", "TRAIN:\n  LR: abc\n", ["TRAIN.LR", "'abc'", "> 0"]),
    ("lr-nan", "TRAIN:\n  LR: .nan\n", ["TRAIN.LR", "nan", "not finite"]),
    ("lr-inf", "TRAIN:\n  LR: .inf\n", ["TRAIN.LR", "inf", "not finite"]),
    ("lr-negative", _with("TRAIN", "LR", -0.001), ["TRAIN.LR", "-0.001", "> 0"]),
    ("epoch-negative", "TRAIN:\n  EPOCH: -3\n", ["TRAIN.EPOCH", "-3", ">= 1"]),
    ("epoch-float", _with("TRAIN", "EPOCH", 2.5), ["TRAIN.EPOCH", "2.5", "integer"]),
    ("amp-string", _with("TRAIN", "AMP", "sometimes"), ["TRAIN.AMP", "true or false"]),
    ("optimizer", _with("TRAIN", "OPTIMIZER", "SGD"), ["TRAIN.OPTIMIZER", "'SGD'", "ADAMW"]),
    ("scheduler-type", _with("TRAIN.SCHEDULER", "TYPE", "cosine"), ["TRAIN.SCHEDULER.TYPE", "'step'"]),
    ("decay-rate", _with("TRAIN.SCHEDULER", "DECAY_RATE", 0.5), ["TRAIN.SCHEDULER.DECAY_RATE", "0.5", "0.1"]),
    ("sampler-mode", _with("DATA", "SAMPLER_MODE", "trident"), ["DATA.SAMPLER_MODE", "'causal'"]),
    ("freeze-layers", _with("TRAIN", "FREEZE_LAYERS", [2]), ["TRAIN.FREEZE_LAYERS", "[2]", "[0]"]),
    ("print-interval", _with("TRAIN", "PRINT_INTERVAL", 0), ["TRAIN.PRINT_INTERVAL", ">= 1"]),
    ("cat-mode", _with("MODEL.BACKBONE", "CAT_MODE", "partition"), ["MODEL.BACKBONE.CAT_MODE", "'direct'"]),
    ("std-zero", _with("DATA", "STD", [0, 1, 1]), ["DATA.STD", "> 0"]),
    ("mean-length", _with("DATA", "MEAN", [0.5]), ["DATA.MEAN", "3"]),
    ("drop-path", _with("TRAIN", "DROP_PATH_RATE", 1.5), ["TRAIN.DROP_PATH_RATE", "1.5", "[0, 1)"]),
    ("keep-ratio", _with("MODEL.BACKBONE", "CE_KEEP_RATIO", [0.7, 0.0]), ["CE_KEEP_RATIO", "(0, 1]"]),
    ("ratio-length", _with("DATA.TRAIN", "DATASETS_RATIO", [1, 1]), ["DATASETS_RATIO", "one ratio per dataset"]),
    ("grad-clip", _with("TRAIN", "GRAD_CLIP_NORM", -0.5), ["TRAIN.GRAD_CLIP_NORM", "-0.5", ">= 0"]),
    ("head-channels", _with("MODEL.HEAD", "NUM_CHANNELS", 4), ["MODEL.HEAD.NUM_CHANNELS", ">= 8"]),
    ("search-size", _with("DATA.SEARCH", "SIZE", 64), ["DATA.SEARCH.SIZE 64 and TEST.SEARCH_SIZE 128 differ",
                                                      "set both to the same value"]),
    ("search-number", _with("DATA.SEARCH", "NUMBER", 2), ["DATA.SEARCH.NUMBER", "1"]),
    ("unknown-key", _with("TRAIN", "LRR", 0.1), ["TRAIN.LRR", "did you mean"]),
    ("section-scalar", "TRAIN: 5\n", ["TRAIN", "mapping"]),
    ("not-a-mapping", "- 1\n- 2\n", ["YAML mapping"]),
    ("bad-yaml", "TRAIN: {LR: [\n", ["not valid YAML"]),
    ("empty", "# only a comment\n", ["is empty", "tiny_ce_test"]),
    ("key-twice", "TRAIN:\n  LR: 0.001\n  EPOCH: 3\n  LR: 0.1\n", ["'LR' (line 4) twice"]),
    ("section-twice", "TRAIN:\n  LR: 0.001\nTEST:\n  EPOCH: 3\nTRAIN:\n  EPOCH: 2\n", ["'TRAIN' (line 5) twice"]),
]

# (case id, extra `dt train` arguments, words the message must contain)
OPTION_CASES = [
    ("epochs-0", ["--epochs", "0"], ["--epochs", "0", ">= 1"]),
    ("batch-size-0", ["--batch-size", "0"], ["--batch-size", "0", ">= 1"]),
    ("batch-size-negative", ["--batch-size", "-2"], ["--batch-size", "-2", ">= 1"]),
    ("workers-negative", ["--workers", "-1"], ["--workers", "-1", ">= 0"]),
    ("device-tpu", ["--device", "tpu"], ["--device", "'tpu'", "cuda"]),
    ("save-every-0", ["--save-every", "0"], ["--save-every", "0", ">= 1"]),
    ("save-interval-0", ["--save-interval", "0"], ["--save-interval", ">= 1"]),
    ("amp-fp8", ["--amp", "fp8"], ["--amp", "'fp8'", "bf16"]),
    ("keep-last-negative", ["--keep-last", "-1"], ["--keep-last", ">= 0"]),
    ("seed-negative", ["--seed", "-1"], ["--seed", "-1"]),
    ("samples-0", ["--samples-per-epoch", "0"], ["--samples-per-epoch", ">= 1"]),
    ("samples-below-batch", ["--samples-per-epoch", "2"], ["SAMPLE_PER_EPOCH", "global batch"]),
    ("stop-after-0", ["--stop-after", "0"], ["--stop-after", ">= 1"]),
    ("threads-0", ["--threads", "0"], ["--threads", ">= 1"]),
    ("threads-huge", ["--threads", "99999999999999999999"], ["--threads 99999999999999999999 is more than", "usable"]),
    ("threads-999", ["--threads", "999"], ["--threads 999 is more than", "usable"]),   # the cap was 1024
    ("workers-huge", ["--workers", "10000"], ["--workers 10000 is more than", "data-loading processes"]),
    ("nproc-0", ["--nproc", "0"], ["--nproc", ">= 1"]),
    ("val-every-0", ["--val-every", "0"], ["--val-every", ">= 1"]),
    ("max-iters-0", ["--max-iters", "0"], ["--max-iters", ">= 1"]),
    ("nproc-2-bad-batch", ["--nproc", "2", "--batch-size", "-2"], ["--batch-size", "-2"]),
    ("pretrained-missing", ["--pretrained", "nope.pth"], ["--pretrained", "not found"]),
    ("data-missing", ["--data", "SYNTH=/nonexistent/dt"], ["--data", "does not exist"]),
    ("config-missing", ["--config", "nope.yaml"], ["nope.yaml", "not found"]),
]


def _invoke(tmp_path: Path, args: list[str]):
    out, data = tmp_path / "out", tmp_path / "data"   # beside, not inside, the data folder (that is refused)
    data.mkdir(exist_ok=True)
    result = CliRunner().invoke(app, ["train", "--config", "tiny_ce_test", "--output", str(out), "--data",
                                      str(data), "--device", "cpu", *args])
    return result, out


def _assert_refused(result, out: Path, words: list[str]) -> None:
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert text.startswith("error: ")
    for w in words:
        assert w in text, (w, text)
    assert not list(out.glob("*.pt")) if out.is_dir() else True


@pytest.mark.parametrize("case, config, words", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_value_is_refused(tmp_path, case, config, words):
    path = tmp_path / f"{case}.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    result, out = _invoke(tmp_path, ["--config", str(path)])
    _assert_refused(result, out, words)


@pytest.mark.parametrize("case, args, words", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_bad_train_option_is_refused(tmp_path, case, args, words):
    result, out = _invoke(tmp_path, args)
    _assert_refused(result, out, words)


def test_binary_file_as_config_is_refused(tmp_path):
    """A checkpoint passed as --config was a UnicodeDecodeError traceback."""
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04\xae\xff not text")
    result, out = _invoke(tmp_path, ["--config", str(path)])
    _assert_refused(result, out, ["model.pt' is not a text YAML file", "--checkpoint"])


def test_output_that_is_a_file_or_unwritable_is_refused_before_work(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    result, _ = _invoke(tmp_path, ["--output", str(target)])
    _assert_refused(result, tmp_path / "none", ["--output", "is a file"])
    assert target.read_text() == "keep me"
    result, _ = _invoke(tmp_path, ["--output", "/proc/dt-train-out"])
    _assert_refused(result, tmp_path / "none", ["--output", "not writable"])


def test_shipped_configs_pass_and_numeric_strings_are_read_as_numbers(tmp_path):
    from droptrack.config import available_configs, config_from_dict, load_config

    for name in available_configs():
        load_config(name)
    assert config_from_dict(yaml.safe_load("TRAIN:\n  LR: 1e-4\n")).TRAIN.LR == 1e-4  # PyYAML reads 1e-4 as a string
