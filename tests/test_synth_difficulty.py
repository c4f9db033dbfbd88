"""dt data synth --difficulty: moderate stacks one main attribute (sometimes a second), milder; hard stays unchanged."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from droptrack.data.media import OPENCV_DOC_DATA
from droptrack.data.synth import generate_synth, synth_sequence
from droptrack.data.synth_hard import ATTRIBUTES, DIFFICULTIES, choose_attributes, plan_hard
from droptrack.data.synth_render import VAL_PHOTOS, render
from droptrack.errors import InputError

SIZE = (320, 180)
MODERATE = DIFFICULTIES["moderate"]


def _main_and_extras(tags: tuple[str, ...], main: str) -> set[str]:
    """The tags besides the main one and the noise that low light always brings."""
    extra = set(tags) - {main}
    if "low_light" in tags and main != "noise":
        extra.discard("noise")
    return extra


def test_moderate_val_test_one_main_attribute_sometimes_a_second():
    """Sequence i carries ATTRIBUTES[i % 15] plus at most one other (low light's noise tag aside); over 60
    sequences some carry a second one and most do not (p = 0.35)."""
    rng = np.random.default_rng(0)
    seconds = 0
    for i in range(60):
        for split in ("val", "test"):
            tags = choose_attributes(rng, ATTRIBUTES, i, split, MODERATE)
            main = ATTRIBUTES[i % len(ATTRIBUTES)]
            assert main in tags
            extra = _main_and_extras(tags, main)
            assert len(extra) <= 1, tags
            assert ("noise" in tags) or ("low_light" not in tags)
            seconds += len(extra)
    assert 20 <= seconds <= 70  # 120 draws at p = 0.35: about 42


def test_hard_stacks_more_than_moderate():
    rng = np.random.default_rng(1)
    hard = [len(choose_attributes(rng, ATTRIBUTES, i, "test")) for i in range(60)]
    moderate = [len(choose_attributes(rng, ATTRIBUTES, i, "test", MODERATE)) for i in range(60)]
    assert max(moderate) <= 3 and max(hard) >= 4 and np.mean(hard) > np.mean(moderate) + 0.5


def test_moderate_strengths():
    """Small targets stay under 1000 px² but are mostly 300-800 px² (hard: down to ~100); zoom stays <= 1.5x."""
    for seed in range(3):
        for name, lo in (("moderate", 250.0), ("hard", 0.0)):
            plan = plan_hard(np.random.default_rng(seed), 40, SIZE, VAL_PHOTOS, {}, ("small_target",),
                             strength=DIFFICULTIES[name])
            seq = render(plan, SIZE)
            vis = seq.boxes[:, 2] > 0
            area = seq.boxes[vis, 2] * seq.boxes[vis, 3]
            assert vis.sum() > 20 and area.max() < 1000 and area.min() > lo
        plan = plan_hard(np.random.default_rng(seed), 40, SIZE, VAL_PHOTOS, {}, ("camera_zoom",), strength=MODERATE)
        assert 1.15 < plan.zoom.max() <= 1.5 + 1e-9 and plan.zoom.min() >= 1.0


def test_moderate_tall_and_wide_targets_within_1_to_4():
    ratios = []
    for seed in range(6):
        plan = plan_hard(np.random.default_rng(seed), 40, SIZE, VAL_PHOTOS, {}, ("aspect_ratio",), strength=MODERATE)
        seq = render(plan, SIZE)
        whole = (seq.boxes[:, 2] > 0) & (seq.cut == 0)
        r = seq.boxes[whole, 2] / seq.boxes[whole, 3]
        assert whole.sum() > 10 and ((r < 0.55) | (r > 1.8)).all() and ((r > 1 / 4.3) & (r < 4.3)).all()
        ratios.append(float(np.median(r)))
    assert min(ratios) < 1 and max(ratios) > 1


def test_hard_default_unchanged():
    """--difficulty hard (the default) keeps the version-3 draws: hash recorded before --difficulty existed."""
    h = hashlib.sha256()
    for split in ("val", "train"):
        for i in range(4):
            s = synth_sequence(i, 48, 7, SIZE, split, {}, attributes=ATTRIBUTES, photos=VAL_PHOTOS)
            h.update(s.frames[0].tobytes())
            h.update(s.frames[-1].tobytes())
            h.update(np.asarray(s.boxes).tobytes())
            h.update(",".join(s.tags).encode())
    assert h.hexdigest() == "7c909fa19294ce80cd55a40a5c2d68d73363ee03de0e55adcfe8ee3d1d9de2a6"


def test_out_of_view_fits_the_shortest_sequence():
    """30 frames (the minimum): the target leaves and is back before the end (it used to index past the end)."""
    for seed in range(8):
        seq = render(plan_hard(np.random.default_rng(seed), 30, SIZE, VAL_PHOTOS, {}, ("out_of_view",)), SIZE)
        gone = np.flatnonzero(seq.boxes[:, 2] == 0)
        assert len(gone) >= 2 and gone[-1] < 29


@pytest.mark.parametrize("kwargs, msg", [
    ({"attributes": "all", "difficulty": "extreme"}, "--difficulty 'extreme' unknown; use hard or moderate"),
    ({"difficulty": "moderate"}, "add --attributes all"),
])
def test_bad_difficulty_is_a_one_line_error(tmp_path, kwargs, msg):
    with pytest.raises(InputError, match=msg) as err:
        generate_synth(tmp_path / "x", 1, 40, size=(640, 360), split="val", **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x").exists()


def test_cli_bad_difficulty_exit_code(tmp_path):
    from typer.testing import CliRunner

    from droptrack.cli import app

    res = CliRunner().invoke(app, ["data", "synth", str(tmp_path / "x"), "--attributes", "all", "--size", "640x360",
                                   "--difficulty", "easy"])
    assert res.exit_code == 2 and "--difficulty 'easy' unknown" in res.output and "Traceback" not in res.output


@pytest.mark.skipif(not OPENCV_DOC_DATA.is_dir(), reason="Debian opencv-doc photos not installed")
def test_moderate_tag_files_and_marker(tmp_path):
    out = generate_synth(tmp_path / "t", 2, 30, seed=3, size=SIZE, split="test", attributes="all",
                         difficulty="moderate")
    meta = json.loads((out / "synth.json").read_text())
    assert meta["difficulty"] == "moderate" and meta["split"] == "test"
    for i in range(2):
        tags = (out / f"synth_test_{i + 1:05d}" / "attributes.txt").read_text().split()
        assert ATTRIBUTES[i] in tags and len(_main_and_extras(tuple(tags), ATTRIBUTES[i])) <= 1
    hard = generate_synth(tmp_path / "h", 1, 30, seed=3, size=SIZE, split="test", attributes="all")
    assert "difficulty" not in json.loads((hard / "synth.json").read_text())
