"""The README's Python example runs as printed (on a bundled clip) and tracks like `dt run` on the same frames."""

from __future__ import annotations

import re
from pathlib import Path

from droptrack.data.media import bundled_video
from helpers import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def example() -> str:
    text = README.read_text()
    m = re.search(r"<!-- python-example[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert m, "README lost its python-example block"
    return m.group(1)


def test_readme_python_example_tracks_like_dt_run(tmp_path):
    video = bundled_video("carphone_pristine.mp4")
    scope = {"video": str(video)}
    code = example().replace("while True:", "boxes = []\nwhile True:").replace(
        "    box, score = tracker.track(bgr[:, :, ::-1])", "    box, score = tracker.track(bgr[:, :, ::-1])\n"
        "    boxes.append(box)")
    exec(compile(code, "README.md", "exec"), scope)
    res = cli("run", video, "--init", "60,40,40,50", "--output", tmp_path / "b.txt", "--threads", "1")
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "b.txt").read_text().splitlines()[1:]   # the first line is the init box
    assert len(lines) == len(scope["boxes"]) > 100
    assert lines == ["\t".join(str(int(v)) for v in b) for b in scope["boxes"]]
