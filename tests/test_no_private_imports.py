"""No module of droptrack uses another droptrack module's private names (`_name`): `from droptrack.x import _name`,
a relative `from .x import _name`, or `x._name` on an imported droptrack module. A name another module needs is
public (type hints, a docstring, kept stable); nine such imports had crept in (synth_render's motion helpers,
report's table columns and JSON cleaning, TrackingNet's chunk check)."""

from __future__ import annotations

import ast
from pathlib import Path

import droptrack

PACKAGE = Path(droptrack.__file__).parent


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_uses(source: str, here: str, package: bool = False) -> list[str]:
    """'line: what' for each use of another droptrack module's private name in `source` (module `here`, a
    package's __init__ where `package`)."""
    found, modules = [], {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: resolved against this module's package
                parts = here.split(".")
                pkg = parts[:len(parts) + package - node.level]
                base = ".".join(pkg + ([base] if base else []))
            if base.split(".")[0] != "droptrack" or base == here:
                continue
            for a in node.names:
                if private(a.name):
                    found.append(f"{node.lineno}: from {base} import {a.name}")
                modules[a.asname or a.name] = f"{base}.{a.name}"   # maybe a module (from droptrack.eval import run)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "droptrack":
                    if any(private(p) for p in a.name.split(".")):
                        found.append(f"{node.lineno}: import {a.name}")
                    modules[a.asname or "droptrack"] = a.name if a.asname else "droptrack"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and private(node.attr):
            chain, base = [], node.value
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                owner = ".".join([modules[base.id], *reversed(chain)])
                if owner != here:
                    found.append(f"{node.lineno}: {owner}.{node.attr}")
    return found


def test_no_droptrack_module_uses_another_ones_private_names():
    found = [f"{path.relative_to(PACKAGE.parent)}:{hit}" for path in sorted(PACKAGE.rglob("*.py"))
             for hit in private_uses(path.read_text(encoding="utf-8"), module_name(path), path.stem == "__init__")]
    assert found == [], "make these names public (rename them, update every user):\n" + "\n".join(found)


def test_the_check_finds_each_form_of_private_use():
    source = ("from droptrack.eval.report import _columns, Report\n"
              "from .synth_render import _walk\n"
              "from droptrack.data import trackingnet\n"
              "import droptrack.eval.resume as resume\n"
              "import droptrack\n"
              "trackingnet._own_chunk(None)\n"
              "resume._foreign_manifest(None, '')\n"
              "droptrack.eval.report._clean({})\n"
              "x = Report.__name__\n")
    assert private_uses(source, "droptrack.data.synth") == [
        "1: from droptrack.eval.report import _columns", "2: from droptrack.data.synth_render import _walk",
        "6: droptrack.data.trackingnet._own_chunk", "7: droptrack.eval.resume._foreign_manifest",
        "8: droptrack.eval.report._clean"]
    assert private_uses("from droptrack.data.synth import _marker\n", "droptrack.data.synth") == []   # its own
    assert private_uses("from .registry import _alias\n", "droptrack.data", package=True) == [
        "1: from droptrack.data.registry import _alias"]
