"""`dt export --ort`: `model_ort.onnx`, the FP32 graph for ONNX Runtime, the CPU path's fastest FP32 form.

model.onnx stays the portable graph: static batch 1, standard ops only, TensorRT's input. ONNX Runtime runs it
slower than it could in two ways. With the scale search a frame sends a target's crops (the normal one and one per
TEST.SCALE_SEARCH factor) in one call each, and each attention block is a dozen small ops between its GEMMs. This
graph is the same network exported again with a static batch of the crops a target takes per frame, and every plain
attention block as one com.microsoft.Attention node (`ort_attention.fuse_attention`; the candidate-elimination
block, which also ranks tokens, stays as it is). Its outputs equal model.onnx's; its own parity row is measured
against PyTorch as every graph's is. TensorRT does not read com.microsoft nodes, so `--engine` leaves it out.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

from droptrack.artifact import ArtifactMeta
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.errors import ExportError, room_checked
from droptrack.export.ce_parity import simplify_checked, verify_onnx
from droptrack.export.onnx import ExportWrapper, example_inputs, finalize_model, read_metadata, torch_to_onnx
from droptrack.export.ort_attention import fuse_attention_file
from droptrack.export.results import ExportResult, Source
from droptrack.export.workdir import ORT_FP32


def crops_per_target(meta: ArtifactMeta) -> int:
    """The graph's static batch: the search crops one target takes per frame with the graph's TEST keys (1 + the
    SCALE_SEARCH factors); 1 where SCALE_GATE is set (most frames then send one crop, which a batch of 2 would fill
    with a copy)."""
    scales = meta.tracker.get("SCALE_SEARCH") or []
    return 1 if meta.tracker.get("SCALE_GATE") is not None else 1 + len(scales)


def export_ort(fp32_path: Path, source: Source, publish: Callable, log: Callable[[str], None] | None = None,
               ) -> ExportResult:
    """`model_ort.onnx` beside a verified `model.onnx` (its metadata, with `batch` and `fused_attention` added),
    verified vs PyTorch on the same pairs; `publish`: the pipeline's rename-or-`.failed` step."""
    t0 = time.perf_counter()
    out, name = fp32_path.parent, ORT_FP32
    meta = read_metadata(fp32_path)
    batch = crops_per_target(meta)
    with tempfile.TemporaryDirectory(prefix=".dt-ort-", dir=out) as tmpdir, room_checked(out, out):
        raw, slim, tmp = Path(tmpdir) / "raw.onnx", Path(tmpdir) / "slim.onnx", Path(tmpdir) / name
        z, x = example_inputs(meta)
        torch_to_onnx(ExportWrapper(source.model), (z.repeat(batch, 1, 1, 1), x.repeat(batch, 1, 1, 1)), raw,
                      int(meta.extra.get("opset", 17)), OUTPUT_NAMES)
        tool = simplify_checked(raw, slim, source.pairs[:batch])   # as model.onnx's simplification is judged
        fused = fuse_attention_file(slim if tool else raw, tmp)
        meta.extra.update(simplifier=tool or "none", batch=batch, fused_attention=fused, runtime="onnxruntime")
        graph = finalize_model(tmp, meta)
        if not graph.clean:
            raise ExportError(f"{name}: the graph is not static (dynamic tensors: {graph.dynamic_tensors[:3]}); "
                              "install onnxslim (pip install onnxslim)")
        report = verify_onnx(tmp, source.model, source.pairs, source.reference, source.ranks, meta, name)
        status = publish(tmp, out / name, report, out, source.sha256)
    res = ExportResult(name, out / (name if status == "ok" else name + ".failed"), "fp32", status,
                       time.perf_counter() - t0, report, meta, graph,
                       [f"{name}: for ONNX Runtime (not TensorRT): {batch} crop{'s' * (batch > 1)} per call, "
                        f"{fused} attention block{'s' * (fused != 1)} as one fused node each"])
    (log or (lambda s: None))(f"  {name}: {status} ({res.seconds:.1f} s)")
    return res
