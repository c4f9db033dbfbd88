"""ONNX files from elsewhere: the weights a graph keeps in external data files must lie inside the model's folder.

An .onnx file may say that a tensor's bytes are in another file (`external_data` 'location'). A downloaded model
whose location is absolute ('/etc/passwd'), climbs out ('../../.ssh/id_rsa') or goes through a symlink that leads
out would make whatever loads it read that file into the model. Whether onnx, ONNX Runtime or TensorRT's parser
refuses that depends on their versions, so droptrack checks every tensor itself before any of them reads the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

FIX = "keep the .onnx and its weight files in one folder, with relative names (onnx.save(..., location='NAME'))"


def _graph_tensors(graph) -> Iterator:
    """Every TensorProto of a graph: initializers, sparse ones, and node attributes, in subgraphs too."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node) -> Iterator:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        for sub in [attr.g] * attr.HasField("g") + list(attr.graphs):
            yield from _graph_tensors(sub)


def model_tensors(model) -> Iterator:
    """Every TensorProto of an onnx.ModelProto, its functions' constants included."""
    yield from _graph_tensors(model.graph)
    for func in model.functions:
        for node in func.node:
            yield from _node_tensors(node)


def _hub_blob(real_folder: str, target: str) -> bool:
    """Whether `target` is a file of the Hugging Face cache repository that `real_folder` is a snapshot (or a folder
    of one) of: a download keeps repo/snapshots/REVISION/[DIR/]NAME as links to repo/blobs/HASH, outside it."""
    parts = Path(real_folder).parts
    tops = [i for i in range(len(parts) - 1) if parts[i] == "snapshots"]
    return bool(tops) and os.path.dirname(target) == os.path.join(*parts[:tops[-1]], "blobs")


def location_problem(location: str, folder: Path) -> str:
    """Why an external-data `location` may not be read for a model in `folder` ('' when it may)."""
    if not location:
        return "names no file"
    if "\0" in location:
        return "holds a NUL byte"
    if PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute() or \
            PureWindowsPath(location).drive or location.startswith(("\\", "/")):
        return "is an absolute path"
    parts = PureWindowsPath(location).parts   # splits on '/' and '\'
    if ".." in parts:
        return "climbs out of the model's folder ('..')"
    real_folder = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(real_folder, *parts))
    if os.path.commonpath([real_folder, target]) != real_folder and not _hub_blob(real_folder, target):
        return "leads out of the model's folder through a symbolic link"
    if os.path.exists(target) and not os.path.isfile(target):
        return "is not a regular file (a pipe or device would block or never end)"
    return ""


def external_tensors(model) -> Iterator[tuple]:
    """(tensor, location) of every tensor of an onnx.ModelProto kept in an external data file ('' when it names
    none)."""
    from onnx import TensorProto

    for tensor in model_tensors(model):
        if tensor.data_location == TensorProto.EXTERNAL:
            yield tensor, next((e.value for e in tensor.external_data if e.key == "location"), "")


def external_data_problem(model, path: str | Path) -> str:
    """Why the external data of `model` (loaded from `path` without it) must not be read ('' when it may)."""
    folder = Path(os.path.dirname(str(path)) or ".")   # the folder as loaders join it: not the model's symlink target
    for tensor, location in external_tensors(model):
        problem = location_problem(location, folder)
        if problem:
            shown = location if len(location) <= 80 else location[:77] + "..."
            return (f"model '{path}' keeps tensor {tensor.name[:80]!r} in external file {shown!r}, which {problem}; "
                    f"it was not loaded (a model file must not read files outside its folder); {FIX}")
    return ""


def external_locations(model) -> list[str]:
    """The external data files (locations) the tensors of an onnx.ModelProto name, sorted, each once."""
    return sorted({location for _, location in external_tensors(model) if location})


def check_external_data(path: str | Path, error: type[Exception]) -> list[str]:
    """Refuse (as `error`, one line) an .onnx file whose external data lies outside its folder; the weights are not
    read. A file that onnx cannot parse is refused too: its external data cannot be checked, and another parser
    (ONNX Runtime's, TensorRT's) might still read it. Returns its external data files (`external_locations`), so
    that the graph is parsed once (a large one costs hundreds of MB on a Jetson)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - whatever the parser's reason, the file is not a usable model
        raise error(f"model '{path}' is not a readable ONNX file ({exc.__class__.__name__}), so what it reads "
                    "could not be checked; re-export it with `dt export CHECKPOINT` or re-download it") from None
    problem = external_data_problem(model, path)
    if problem:
        raise error(problem)
    return external_locations(model)


def _stamp(path: str | Path) -> tuple[int, ...]:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class CheckedGraph:
    """An .onnx file's external data files as `check_external_data` found them, with the file's identity (device,
    inode, size, mtime) just before: a loader given it skips its own check, a second parse of the graph, only while
    the file is still that one (a file replaced since is checked again)."""

    locations: tuple[str, ...]
    stamp: tuple[int, ...]

    def locations_for(self, path: str | Path) -> list[str] | None:
        """The checked locations when `path` is still the file that was checked, else None (check it again)."""
        try:
            return list(self.locations) if _stamp(path) == self.stamp else None
        except OSError:
            return None


def check_graph(path: str | Path, error: type[Exception]) -> CheckedGraph:
    """`check_external_data` of `path`, kept with the file's identity for the loaders (`CheckedGraph`)."""
    stamp = _stamp(path)
    return CheckedGraph(tuple(check_external_data(path, error)), stamp)
