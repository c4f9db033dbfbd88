"""droptrack/train/validate.py imported `score_files._cover`, a private helper of another module, so a rename there
broke training's validation. Train's modules now use only public names of other modules."""

from __future__ import annotations

import ast
from pathlib import Path

import droptrack

ROOT = Path(droptrack.__file__).parent


def private_imports(path: Path) -> list[str]:
    """`from droptrack.x import _name` (other modules' private names) in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("droptrack"):
            found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_train_uses_no_private_name_of_another_module():
    files = sorted((ROOT / "train").glob("*.py"))
    assert files
    assert [hit for f in files for hit in private_imports(f)] == []


def test_the_cover_labels_are_public_where_scoring_keeps_them():
    from droptrack.eval.score_files import cover_labels

    class Seq:
        boxes = [[1, 2, 3, 4], [float("nan")] * 4, [0, 0, 0, 0], [5, 5, 2, 2]]

    assert cover_labels(Seq(), "synth").tolist() == [1, 0, 0, 1]   # NaN and zero-size rows: absent
    assert cover_labels(Seq(), "got10k") is None   # a benchmark's own labels only
