"""Helpers shared by test files: `dt` in process, the one-line-error check, an ONNX graph's tensor types."""

from __future__ import annotations

from typer.testing import CliRunner

from droptrack.cli import app

runner = CliRunner()


def cli(*args):
    """`dt ARGS...` in process (every argument as a string)."""
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    """The error line of a refused command: exit 2, one line starting 'error: ', no traceback."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def tensor_types(model) -> dict[str, int]:
    """Element type of every tensor of an ONNX graph (shape inference, plus the initializers)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    vals = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in vals}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types
