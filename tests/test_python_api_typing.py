"""Type checkers see the Python API as callers import it: the package is marked typed (PEP 561 `py.typed`, shipped
in the wheel) and `from droptrack import load_tracker` resolves to the real function, not the lazy `__getattr__`'s
`object` (mypy then said '"object" not callable' on `load_tracker()`). Nothing is run or imported at runtime."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import droptrack

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_ships_its_py_typed_marker():
    assert (ROOT / "droptrack" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in data["tool"]["setuptools"]["package-data"]["droptrack"]


def type_checking_imports(tree: ast.Module) -> dict[str, str]:
    """name -> module of the imports under `if TYPE_CHECKING:` in a module's top level."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                names.update({alias.asname or alias.name: imp.module for alias in imp.names})
    return names


def test_type_checkers_import_every_api_name_from_the_module_that_loads_it():
    tree = ast.parse((ROOT / "droptrack" / "__init__.py").read_text(encoding="utf-8"))
    assert type_checking_imports(tree) == droptrack._LAZY


def test_all_is_a_literal_list_so_type_checkers_read_the_re_exports():
    tree = ast.parse((ROOT / "droptrack" / "__init__.py").read_text(encoding="utf-8"))
    value = next(n.value for n in tree.body if isinstance(n, ast.Assign) and
                 any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets))
    assert isinstance(value, ast.List)
    assert sorted(ast.literal_eval(value)) == sorted(droptrack._LAZY) == sorted(droptrack.__all__)
