"""The developers' guide's layout rules, checked on the source: files under ~400 lines (the package, tests/ and
benchmarks/), no two modules importing each other (imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import droptrack

PACKAGE = Path(droptrack.__file__).parent
ROOT = Path(__file__).resolve().parents[1]     # the repository: tests/ and benchmarks/ are at its root
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every droptrack .py file."""
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(path: Path, mods: dict[str, Path]) -> set[str]:
    """droptrack modules a file imports anywhere in it (`from pkg import mod` counts as importing pkg.mod)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in mods)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & mods.keys()
            found.update(subs or ({node.module} & mods.keys()))
    return found


def _long_files(files: list[Path], root: Path) -> dict[str, int]:
    """Path (relative to root) -> line count, for the files over MAX_LINES."""
    return {str(p.relative_to(root)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}


def test_files_stay_under_400_lines():
    long = _long_files(list(PACKAGE.rglob("*.py")), PACKAGE.parent)
    assert not long, f"split by concern: {long}"


def test_test_and_benchmark_files_stay_under_400_lines():
    files = sorted(ROOT.glob("tests/*.py")) + sorted(ROOT.glob("benchmarks/*.py"))
    assert Path(__file__).resolve() in files and any(p.parent.name == "benchmarks" for p in files)   # both folders seen
    long = _long_files(files, ROOT)
    assert not long, f"split by concern (tests: move whole tests to a test_<name>_<concern>.py): {long}"


def test_no_two_modules_import_each_other():
    mods = _modules()
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    pairs = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps if a in graph.get(b, ())})
    assert not pairs, pairs
