"""The source distribution (what PyPI shows the README of, and what a distribution packager builds from) holds every
file the README links to: it carried no docs/, so each command's page was missing from it."""

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    """The checkout without what a build or an editable install left (an egg-info's SOURCES.txt is read back into
    the next sdist, whatever MANIFEST.in says) and without the benchmark results (large, not linked)."""
    def skipped(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == ROOT / "benchmarks"
        return {n for n in names if n.endswith(".egg-info") or n in {".git", ".venv", "build", "dist", "__pycache__"}
                or (top and (Path(folder) / n).is_dir())}

    shutil.copytree(ROOT, dest, ignore=skipped, symlinks=True)
    return dest


def test_every_readme_link_is_in_the_sdist(tmp_path):
    pytest.importorskip("setuptools", minversion="77")   # the build backend pyproject.toml names
    src = _source_copy(tmp_path / "src")
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})"],
                   cwd=src, check=True, capture_output=True, timeout=300)
    name, = [p.name for p in out.glob("*.tar.gz")]
    with tarfile.open(out / name) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    links = {m for m in re.findall(r"\]\(([^)#\s]+)", (ROOT / "README.md").read_text())
             if not re.match(r"[a-z]+:", m)}
    assert links, "the README links to no file"
    missing = sorted(link for link in links
                     if link.rstrip("/") not in members and not any(m.startswith(link) for m in members))
    assert not missing, f"linked from the README, not in the sdist: {missing}"
    assert not [m for m in members if "__pycache__" in m or m.endswith(".pyc")]
