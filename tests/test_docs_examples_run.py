"""The docs' examples run as printed: every ```python block of docs/*.md tracks the bundled clip, and the usage lines
of docs/sources.md run once their placeholders are filled (they lacked the artifact, the --init box and the --root
that dt bench and dt eval need, so a user copying them got an error)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from droptrack.data.media import bundled_video
from droptrack.model.default import default_checkpoint
from helpers import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks() -> list[tuple[str, str]]:
    """(page, code) for every fenced python block of docs/*.md."""
    return [(p.name, m.group(1)) for p in sorted(DOCS.glob("*.md"))
            for m in re.finditer(r"^```python\n(.*?)^```", p.read_text(encoding="utf-8"), re.S | re.M)]


def usage_lines(page: str) -> list[list[str]]:
    """The `dt` lines of the page's first fenced bash block, comments dropped, as word lists."""
    block = re.search(r"^```bash\n(.*?)^```", (DOCS / page).read_text(encoding="utf-8"), re.S | re.M)
    assert block, f"docs/{page} lost its usage block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.startswith("dt ")]


@pytest.mark.parametrize("page, code", python_blocks())
def test_docs_python_block_runs_on_a_clip(page, code):
    scope = {"video": str(bundled_video("carphone_pristine.mp4"))}
    exec(compile(code, f"docs/{page}", "exec"), scope)
    if "box" in scope:   # the first example: track's box and score as the text says
        box, score = scope["box"], scope["score"]
        assert len(box) == 4 and all(isinstance(v, float) for v in box) and isinstance(score, float)


def test_docs_have_a_python_block():
    assert any(page == "python.md" for page, _ in python_blocks())


def filled(words: list[str], values: dict[str, str]) -> list[str]:
    """The words with each placeholder replaced by its value."""
    return [values.get(w, w) for w in words[1:]]


def test_sources_usage_bench_and_eval_lines_run(tmp_path):
    video = bundled_video("carphone_pristine.mp4")
    root = tmp_path / "clips"
    root.mkdir()
    (root / "clip.mp4").write_bytes(video.read_bytes())
    (root / "clip.txt").write_text("100,80,40,60\n")
    values = {"ARTIFACT": str(default_checkpoint()), "VIDEO": str(video), "x,y,w,h": "100,80,40,60",
              "DIR": str(root)}
    lines = {w[1]: w for w in usage_lines("sources.md") if w[1] in ("bench", "eval")}
    assert set(lines) == {"bench", "eval"}, lines
    bench = cli(*filled(lines["bench"], values), "--frames", "12", "--output", tmp_path / "b", "--threads", "1")
    assert bench.exit_code == 0, bench.output
    assert (tmp_path / "b" / "bench.json").is_file()
    ev = cli(*filled(lines["eval"], values), "--tracker", "kcf", "--output", tmp_path / "r")
    assert ev.exit_code == 0, ev.output
    assert (tmp_path / "r" / "kcf" / "clip.txt").is_file(), sorted(p.name for p in (tmp_path / "r").rglob("*"))
