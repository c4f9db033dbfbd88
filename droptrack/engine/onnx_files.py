"""ONNX files from elsewhere: the weights a graph keeps in external data files must lie inside the model's folder.

An .onnx file may say that a tensor's bytes are in another file (`external_data` 'location'). A downloaded model
whose location is absolute ('/etc/passwd'), climbs out ('../../.ssh/id_rsa') or goes through a symlink that leads
out would make whatever loads it read that file into the model. Whether onnx, ONNX Runtime or TensorRT's parser
refuses that depends on their versions, so droptrack checks every tensor itself before any of them reads the file.
A graph may also be built to exhaust the machine: a loop node that never ends, a tensor of a static shape that
takes gigabytes (ConstantOfShape [40000, 40000]: 6.4 GB from a 200-byte file), or integer tensors that ONNX Runtime
computes while it loads the graph (Shape concatenated with itself). They are refused before a session exists; a
tracker's graph has no loop and no tensor near MAX_TENSOR.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import onnx

from droptrack.engine.graph_ops import all_nodes, check_nodes
from droptrack.errors import cut
from droptrack.paths import file_stamp

MAX_TENSOR = 1 << 30   # bytes of one tensor: ViT-B/384's largest (its attention map) takes 25 MB
LOOPS = {"Loop", "Scan", "BeamSearch", "GreedySearch", "Sampling", "WhisperBeamSearch"}   # ONNX's and ORT's
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
        short = "" if problem else _missing_bytes(tensor, os.path.join(folder, *PureWindowsPath(location).parts))
        if short:
            return (f"model '{path}' keeps tensor {tensor.name[:80]!r} in external file {cut(location)!r}, which "
                    f"{short}; it was not loaded: copy the .onnx with its weight files again, or re-export it")
        if problem:
            shown = cut(location)
            return (f"model '{path}' keeps tensor {tensor.name[:80]!r} in external file {shown!r}, which {problem}; "
                    f"it was not loaded (a model file must not read files outside its folder); {FIX}")
    return ""


def _missing_bytes(tensor, file: str) -> str:
    """Why an external tensor's bytes are not all in `file` ('' when they are): no such file, or one that ends
    before the tensor's offset + length (a copy or download cut short); ONNX Runtime's own message was cut mid-word."""
    from onnx import helper

    if not os.path.isfile(file):
        return "does not exist (the graph keeps its weights there)"
    info = {e.key: e.value for e in tensor.external_data}
    try:
        length = int(info["length"]) if "length" in info else \
            math.prod(tensor.dims) * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        end = int(info.get("offset", 0)) + length
    except (KeyError, TypeError, ValueError):   # a string or unknown element type: its size is not known here
        return ""
    size = os.path.getsize(file)
    return f"ends at byte {size}, before the tensor's last ({end}): a copy or download cut short" if size < end else ""


def external_locations(model) -> list[str]:
    """The external data files (locations) the tensors of an onnx.ModelProto name, sorted, each once."""
    return sorted({location for _, location in external_tensors(model) if location})


def _static_bytes(tensor_type) -> int:
    """Bytes of a tensor type whose shape is fully known (0 when a dimension is not)."""
    from onnx import helper

    dims = tensor_type.shape.dim if tensor_type.HasField("shape") else None
    if dims is None or any(not d.HasField("dim_value") for d in dims):
        return 0
    try:
        size = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).itemsize
    except (KeyError, TypeError, ValueError):   # undefined or string element type
        size = 1
    for d in dims:
        size *= max(d.dim_value, 0)
    return size


def graph_problem(model) -> str:
    """Why an onnx.ModelProto must not be given to a runtime ('' when it may): a loop node, a tensor whose static
    shape (as ONNX's shape inference computes it, without propagating values: that alone can take gigabytes) exceeds
    MAX_TENSOR, or integer tensors that together do (ONNX Runtime propagates their values as it loads)."""
    import onnx

    graphs = [model.graph, *model.functions]
    node = next((n for g in graphs for n in all_nodes(g) if n.op_type in LOOPS), None)
    if node is not None:
        return (f"has a {node.op_type} node {node.name[:60]!r}, a loop that can run without end (a tracker's graph "
                "has none)")
    try:
        graph = onnx.shape_inference.infer_shapes(without_weights(model)).graph
    except Exception as exc:  # noqa: BLE001 - shapes that cannot be computed cannot be bounded
        return f"has shapes ONNX's shape inference cannot compute ({exc.__class__.__name__})"
    typed = [(v.name, v.type.tensor_type) for v in [*graph.input, *graph.value_info, *graph.output]]
    integers = 0   # ONNX Runtime computes integer (shape) tensors while it loads the graph: their total is bounded
    for name, tensor_type in typed:
        size = _static_bytes(tensor_type)
        if size > MAX_TENSOR:
            return (f"has a tensor {name[:60]!r} of {size / 2**30:.0f} GiB, more memory than a tracker's largest "
                    f"takes ({MAX_TENSOR >> 30} GiB at most)")
        integers += size if tensor_type.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) else 0
        if integers > MAX_TENSOR:
            return (f"has integer tensors of {integers / 2**30:.1f} GiB up to {name[:60]!r}, which ONNX Runtime "
                    f"would compute while loading it (a tracker's take a few MB)")
    big = next((t for t in graph.initializer if _initializer_bytes(t) > MAX_TENSOR), None)
    if big is not None:
        return f"has a weight {big.name[:60]!r} of {_initializer_bytes(big) / 2**30:.0f} GiB, beyond any tracker's"
    return ""


def without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of an onnx.ModelProto whose large initializers are typed graph inputs: shape inference serialises
    the model it is given, and a ViT-B graph's weights are hundreds of MB; the small ones (shapes, axes) stay: it
    reads them (a Reshape's target, a ConstantOfShape's shape)."""
    import onnx
    from onnx import helper

    light = onnx.ModelProto()
    for field in ("ir_version", "producer_name", "domain", "model_version"):
        setattr(light, field, getattr(model, field))
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    graph = light.graph
    for field in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(graph, field).extend(getattr(model.graph, field))
    for t in model.graph.initializer:
        if len(t.raw_data) > 4096 or len(t.float_data) + len(t.int64_data) + len(t.int32_data) > 1024:
            graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            graph.initializer.append(t)
    return light


def _initializer_bytes(tensor) -> int:
    """Bytes an initializer's declared shape takes (4 per element: the check needs the order, not the type)."""
    size = 4
    for d in tensor.dims:
        size *= max(d, 0)
    return size


def untyped_io(model, name: str = "") -> str:
    """The one-line problem of a graph input or output without an element type that onnx knows (an untyped graph: a
    damaged or hand-edited one), naming that tensor and `name` (the file); '' when every one has its type. ONNX
    Runtime said only 'Invalid tensor data type 0', naming no tensor."""
    import onnx

    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        for v in values:
            code = v.type.tensor_type.elem_type
            try:
                onnx.helper.tensor_dtype_to_np_dtype(code)
            except (KeyError, TypeError, ValueError):   # 0 (UNDEFINED, or not a tensor) or a code onnx does not know
                where = f" of {name}" if name else ""
                what = f"an element type onnx does not know ({code})" if code else "no element type"
                return (f"{kind} '{v.name[:80]}'{where} declares {what} (a damaged or hand-edited graph); export the "
                        "tracker again with `dt export CHECKPOINT`, or give it its type "
                        "(onnx.helper.make_tensor_value_info(NAME, TensorProto.FLOAT, SHAPE))")
    return ""


def model_problem(model, path: str | Path) -> str:
    """Why an .onnx file's model must not be given to a runtime ('' when it may): external data outside its folder
    (`external_data_problem`), an input or output without its element type (`untyped_io`) or a graph built to
    exhaust the machine (`graph_problem`)."""
    problem = external_data_problem(model, path)
    if problem:
        return problem
    problem = untyped_io(model, Path(path).name)
    if problem:
        return problem
    problem = graph_problem(model)
    return f"model '{path}' {problem}; it was not loaded: re-export it with `dt export CHECKPOINT`" if problem else ""


def check_external_data(path: str | Path, error: type[Exception]) -> list[str]:
    """Refuse (as `error`, one line) an .onnx file whose external data lies outside its folder, or whose graph has a
    loop or a tensor of gigabytes (`model_problem`); the weights are not read. A file that onnx cannot parse is
    refused too: its external data cannot be checked, and another parser (ONNX Runtime's, TensorRT's) might still
    read it. Returns its external data files (`external_locations`), so that the graph is parsed once (a large one
    costs hundreds of MB on a Jetson)."""
    return external_locations(_checked_model(path, error))


def _checked_model(path: str | Path, error: type[Exception]) -> "onnx.ModelProto":
    """The graph of `check_external_data` (onnx.ModelProto without external weights), checked."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - whatever the parser's reason, the file is not a usable model
        raise error(f"model '{path}' is not a readable ONNX file ({exc.__class__.__name__}), so what it reads "
                    "could not be checked; re-export it with `dt export CHECKPOINT` or re-download it") from None
    problem = model_problem(model, path)
    if problem:
        raise error(problem)
    check_nodes(model, path, error)   # a custom-domain op; INT8 nodes under an FP32 label (MetadataError)
    return model


@dataclass(frozen=True)
class CheckedGraph:
    """An .onnx file's external data files as `check_external_data` found them, with the file's identity (device,
    inode, size, mtime) just before: a loader given it skips its own check, a second parse of the graph, only while
    the file is still that one (a file replaced since is checked again)."""

    locations: tuple[str, ...]
    stamp: tuple[int, ...]
    props: tuple[tuple[str, str], ...] = ()   # its droptrack.* metadata_props (ArtifactMeta.from_strings reads them)

    def locations_for(self, path: str | Path) -> list[str] | None:
        """The checked locations when `path` is still the file that was checked, else None (check it again)."""
        try:
            return list(self.locations) if file_stamp(path) == self.stamp else None
        except OSError:
            return None


def check_graph(path: str | Path, error: type[Exception]) -> CheckedGraph:
    """`check_external_data` of `path`, kept with the file's identity for the loaders (`CheckedGraph`)."""
    stamp = file_stamp(path)
    model = _checked_model(path, error)
    props = tuple((p.key, p.value) for p in model.metadata_props if p.key.startswith("droptrack."))
    return CheckedGraph(tuple(external_locations(model)), stamp, props)
