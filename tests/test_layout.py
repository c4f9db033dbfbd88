"""The developers' guide's layout rules, checked on the source: files under ~400 lines (the package, tests/ and
benchmarks/), no two modules importing each other, and imports that point one way (checkpoint -> export -> engine ->
runtime -> eval): eval/, serve/, runtime/ and engine/ reach nothing in train/ or export/, not even through another
module (imports inside functions count too)."""

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


def _imports(path: Path, mods: dict[str, Path], source: str | None = None) -> set[str]:
    """droptrack modules a file imports anywhere in it (`from pkg import mod` counts as importing pkg.mod; a relative
    import is resolved against the file's own package). `source`: the text to parse instead of the file's."""
    module = next((m for m, p in mods.items() if p == path), None)
    package = (module or "").split(".")[:None if path.name == "__init__.py" else -1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in mods)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names} & mods.keys()
            found.update(subs or ({base} & mods.keys()))
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


LOWER = ("eval", "serve", "runtime", "engine")   # below train/ and export/ in the data flow
UPPER = ("train", "export")


def _reached(start: str, graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Every module importing `start` runs (its imports, theirs, ..., and the packages' __init__ on the way) -> the
    chain of imports that gets there from `start`."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        here = todo.pop(0)   # breadth first: the shortest chain
        for dep in graph[here]:
            parts = dep.split(".")
            for mod in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):   # droptrack.a.b runs droptrack.a
                if mod in graph and mod not in chains:
                    chains[mod] = chains[here] + [mod]
                    todo.append(mod)
    return chains


def _upward(mods: dict[str, Path]) -> dict[str, list[str]]:
    """Module of LOWER -> the import chain by which it reaches a module of UPPER (the first one found)."""
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    found = {}
    for mod in sorted(m for m in mods if m.split(".")[1:2] and m.split(".")[1] in LOWER):
        bad = sorted((c for m, c in _reached(mod, graph).items() if m.split(".")[1:2] and m.split(".")[1] in UPPER),
                     key=lambda c: (len(c), -c[-1].count("."), c))   # the module itself, not its package
        if bad:
            found[mod] = bad[0]
    return found


def test_the_checker_sees_every_form_of_import():
    """The parser behind the direction rule finds absolute, `from pkg import mod`, relative and function-local
    imports (or the rule below would pass on code that breaks it)."""
    mods = _modules()
    path = mods["droptrack.eval.workers"]
    snippet = ("import droptrack.train.stops as s\nfrom droptrack import export\n"
               "def f():\n    from ..runtime import loop\n    from .tracking import load\n")
    assert _imports(path, mods, snippet) == {"droptrack.train.stops", "droptrack.export", "droptrack.runtime.loop",
                                             "droptrack.eval.tracking"}


def test_eval_serve_runtime_and_engine_reach_nothing_in_train_or_export():
    """The stop-signal vocabulary (Stopped, stop_error, stop_signals) was in train/stops.py, so dt serve, dt eval's
    workers and dt bench's timing imported training to stop on a signal; it is the leaf `droptrack.signals` now."""
    mods = _modules()
    assert {m.split(".")[1] for m in mods if m.count(".") > 1} >= set(LOWER) | set(UPPER)   # all six folders seen
    upward = _upward(mods)
    assert not upward, "import chains against the data flow:\n" + "\n".join(" -> ".join(c) for c in upward.values())


def test_the_signal_vocabulary_is_a_leaf():
    """droptrack.signals imports no droptrack module, so any layer may use it."""
    mods = _modules()
    assert _imports(mods["droptrack.signals"], mods) == set()


def test_dt_is_the_typer_app_of_droptrack_cli():
    """The layout's entry point: `dt` is droptrack.cli:app (typer), whatever a launcher change would gain."""
    import tomllib

    import typer

    from droptrack.cli import app

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["dt"] == "droptrack.cli:app" and isinstance(app, typer.Typer)
