"""--config NAME where the working directory holds a folder of that name (a run's --output named after its config,
`dt train -c droptrack_tiny_synth -o droptrack_tiny_synth`) read the folder as the YAML: 'config file ... not found;
the shipped config of that name is droptrack_tiny_synth: pass --config droptrack_tiny_synth', the option as given,
and dt run / dt eval then said the folder was 'where dt writes a file'. A shipped name is that config beside such a
folder; any other folder given as --config is named as a folder, not as missing."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from droptrack.config import load_config, names_a_file
from droptrack.errors import ConfigError
from droptrack.runtime.fingerprint import config_id
from helpers import cli, one_line_error


def test_a_shipped_name_beside_a_folder_of_that_name_is_the_shipped_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny_ce_test").mkdir()
    assert not names_a_file("tiny_ce_test")
    assert load_config("tiny_ce_test").MODEL.BACKBONE.EMBED_DIM == 64   # the value tiny_ce_test.yaml sets
    text = (resources.files("droptrack") / "configs" / "tiny_ce_test.yaml").read_bytes()
    assert config_id("tiny_ce_test") == {"name": "tiny_ce_test", "sha256": hashlib.sha256(text).hexdigest()}


def test_run_with_a_shipped_config_beside_a_folder_of_its_name(tmp_path, monkeypatch, tiny_ckpt, video):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny_ce_test").mkdir()
    res = cli("run", video, "-m", tiny_ckpt, "--config", "tiny_ce_test", "--init", "60,40,40,50", "--max-frames", 2,
              "-o", tmp_path / "boxes.txt")
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "boxes.txt").read_text().splitlines()) == 2


def test_another_folder_is_named_as_a_folder(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    with pytest.raises(ConfigError, match=f"config '{folder}' is a folder, not a YAML file"):
        load_config(folder)
    line = one_line_error(cli("train", "--config", folder, "--data", f"SYNTH={tmp_path}", "-o", tmp_path / "run"))
    assert "is a folder, not a YAML file" in line and "not found" not in line, line


def test_a_yaml_path_is_still_a_file(tmp_path):
    assert names_a_file(tmp_path / "missing.yaml") and names_a_file(tmp_path)
    assert not names_a_file("tiny_ce_test")
