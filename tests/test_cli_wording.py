"""Wording a new user meets first: config-name hints, option help per command, the resume hint, --help examples,
and the config check's bounds on the crop jitter/factor keys."""

from __future__ import annotations

import re

import pytest

from droptrack.config import load_config
from droptrack.errors import ConfigError
from helpers import cli, one_line_error


def test_unknown_config_with_the_embedded_model_offers_its_configs(video, tmp_path):
    """`dt run --config nothere` with the embedded model said "did you mean 'tiny_ce_test'?" (a test config of
    another network); now the configs that build the embedded network are named, and no test config."""
    line = one_line_error(cli("run", video, "--init", "1,1,10,10", "--config", "nothere", "-o", tmp_path / "b.txt"))
    assert "unknown config 'nothere'" in line
    assert "droptrack_tiny_synth" in line and "tiny_ce_test" not in line and "vitb_" not in line


@pytest.mark.parametrize("typed, hinted", [("nothere", None), ("tiny_ce", "droptrack_tiny_synth"),
                                           ("tiny_ce_tst", "tiny_ce_test"),
                                           ("vitb_384_mae_ce_32x4_ep30", "vitb_384_mae_ce_32x4_ep300")])
def test_unknown_config_hint_skips_test_configs(typed, hinted):
    """A test config is offered only for a near-typo of its name; a name close to nothing lists the user configs."""
    with pytest.raises(ConfigError) as info:
        load_config(typed)
    msg = str(info.value)
    if hinted is None:
        assert "choose one of:" in msg and "droptrack_tiny_synth" in msg and "tiny_ce_test" not in msg
    else:
        assert msg.endswith(f"did you mean '{hinted}'?")


@pytest.mark.parametrize("typed", ["vitb_384_mae_ce_32x4_ep300.yaml", "experiments/ostrack/vitb_384_mae_ce_32x4_ep300.yaml"])
def test_missing_config_file_named_like_a_shipped_config_names_it(typed, tmp_path, monkeypatch):
    """The official README's `--config experiments/ostrack/<name>.yaml` (no such file here) listed every shipped
    config; now the one-line error names the shipped config of that stem and the --config to pass."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(typed)
    assert str(info.value) == (f"config file '{typed}' not found; the shipped config of that name is "
                               "vitb_384_mae_ce_32x4_ep300: pass --config vitb_384_mae_ce_32x4_ep300")
    with pytest.raises(ConfigError, match="pass an existing YAML or one of: .*vitb_256_mae_32x4_ep300"):
        load_config("experiments/ostrack/my_own.yaml")   # no shipped config of that stem: the list, as before


def test_cli_missing_config_file_names_the_shipped_config(video, tmp_path):
    line = one_line_error(cli("run", video, "--init", "1,1,10,10", "--config", tmp_path / "vitb_256_mae_32x4_ep300.yaml",
                              "-o", tmp_path / "b.txt"))
    assert line.endswith("the shipped config of that name is vitb_256_mae_32x4_ep300: pass --config "
                         "vitb_256_mae_32x4_ep300")


@pytest.mark.parametrize("extra, given", [(["--reconnect", 2], "--reconnect"),
                                          (["--reconnect-timeout", 5], "--reconnect-timeout"),
                                          (["--every-frame"], "--every-frame")])
@pytest.mark.parametrize("kind", ["video", "folder"])
def test_serve_refuses_live_source_options_on_files_as_run_does(video, tmp_path, extra, given, kind):
    """dt serve took --reconnect / --reconnect-timeout / --every-frame on a video file or image folder without a
    word (dt run refuses them); now both give the same one line, before the page is served."""
    pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
    import cv2
    import numpy as np

    source = video
    if kind == "folder":
        source = tmp_path / "frames"
        source.mkdir()
        for i in range(2):
            cv2.imwrite(str(source / f"{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    late = ["--lost-threshold", 2]   # a bad option checked later: the old dt serve failed on it, not served
    run = one_line_error(cli("run", source, "--init", "1,1,4,4", *extra, *late))
    serve = one_line_error(cli("serve", source, "--port", 0, *extra, *late))
    assert serve == run and f"{given} is for cameras, pipelines and streams" in serve


def test_live_source_options_help_says_files_are_refused():
    """The shared --reconnect help said 'Video files still end', although dt run (and now dt serve) refuses
    --reconnect for them; each command's help now says it is refused for video files and image folders."""
    from typer.main import get_command

    from droptrack.cli import app

    group = get_command(app)
    for name in ("run", "serve"):
        params = {p.name: " ".join((p.help or "").split()) for p in group.commands[name].params}
        assert "still end" not in params["reconnect"]
        for opt in ("reconnect", "reconnect_timeout", "every_frame"):
            assert params[opt].startswith("Cameras, pipelines, streams"), (name, opt)
        assert "Refused for video files and image folders" in params["reconnect"]


def test_resume_hint_names_the_save_a_stop_makes(tmp_path):
    """The hint after a stopped dt train named the epoch-end and --save-interval saves only, although a stop signal
    (or Ctrl-C) also saves last.pt at the iteration it ended."""
    from droptrack.train.hint import resume_hint

    (tmp_path / "last.pt").write_bytes(b"")
    assert resume_hint(tmp_path) == (
        f"run the same command with --resume to continue from {tmp_path / 'last.pt'} (saved at each epoch's end, at "
        "the iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval N)")


def _leaves(group, path=()):
    """Every command path of the `dt` group (`data synth` as ('data', 'synth'))."""
    for name, cmd in group.commands.items():
        yield from _leaves(cmd, (*path, name)) if hasattr(cmd, "commands") else [(*path, name)]


def test_help_examples_are_indented_alike_in_every_command():
    """typer took the indent off the example lines when 'Examples:' was the only paragraph after the first line
    (dt train, eval, bench, demo, export, data synth) and kept it otherwise (dt run, serve, doctor, analyze)."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from droptrack.cli import app

    indents = {}
    for path in _leaves(get_command(app)):
        out = CliRunner().invoke(app, [*path, "--help"], prog_name="dt", env={"COLUMNS": "100"}).output
        lines = out.splitlines()
        heads = [i for i, ln in enumerate(lines) if ln.strip() == "Examples:"]
        if path == ("version",):
            continue
        assert heads, f"dt {' '.join(path)} --help has no examples"
        head = lines[heads[0]]
        margin = len(head) - len(head.lstrip())
        block = lines[heads[0] + 1:]
        block = block[:next((i for i, ln in enumerate(block) if not ln.strip()), len(block))]
        starts = [ln for ln in block if re.match(r"(dt |[A-Z_]+=\S* dt )", ln.lstrip())]   # each command's line
        assert starts, f"dt {' '.join(path)} --help: no command under Examples:"
        indents[" ".join(path)] = {len(ln) - len(ln.lstrip()) - margin for ln in starts}
    assert all(found == {2} for found in indents.values()), indents


@pytest.mark.parametrize("section, key, value, allowed", [
    ("SEARCH", "SCALE_JITTER", 5, "[0, 1]"), ("TEMPLATE", "SCALE_JITTER", 1.5, "[0, 1]"),
    ("SEARCH", "CENTER_JITTER", 45, "[0, 10]"), ("SEARCH", "FACTOR", 50, "[0.5, 10]"),
    ("TEMPLATE", "FACTOR", 20.0, "[0.5, 10]"), ("SEARCH", "FACTOR", 0.4, "[0.5, 10]"),
])
def test_crop_jitter_and_factor_keys_have_an_upper_bound(tmp_path, section, key, value, allowed):
    """DATA.SEARCH.SCALE_JITTER 5 (a log-normal sigma: sizes drawn over a factor of e^5) and the other jitter and
    factor keys had no upper bound; now a one-line error names the key and its range."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"DATA:\n  {section}:\n    {key}: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(bad))
    msg = str(info.value)
    assert f"DATA.{section}.{key}" in msg and allowed in msg and "\n" not in msg


def test_official_crop_values_pass_the_bounds(tmp_path):
    """The official values (spec: search FACTOR 5.0 / 4.0, CENTER_JITTER 4.5 / 3, SCALE_JITTER 0.5 / 0.25; template
    FACTOR 2.0, jitter 0; TEST factors 2.0 / 5.0) are inside the ranges."""
    good = tmp_path / "official.yaml"
    good.write_text("DATA:\n  SEARCH: {FACTOR: 5.0, CENTER_JITTER: 4.5, SCALE_JITTER: 0.5}\n"
                    "  TEMPLATE: {FACTOR: 2.0, CENTER_JITTER: 0, SCALE_JITTER: 0}\n"
                    "TEST: {TEMPLATE_FACTOR: 2.0, SEARCH_FACTOR: 5.0}\n")
    cfg = load_config(str(good))
    assert (cfg.DATA.SEARCH.SCALE_JITTER, cfg.DATA.SEARCH.CENTER_JITTER, cfg.TEST.SEARCH_FACTOR) == (0.5, 4.5, 5.0)
    with pytest.raises(ConfigError, match=r"TEST\.SEARCH_FACTOR"):
        good.write_text("TEST: {SEARCH_FACTOR: 12}\n")
        load_config(str(good))
