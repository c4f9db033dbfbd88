"""Candidate-elimination choices of PyTorch and of exported graphs, and the ONNX-vs-PyTorch check.

Candidate elimination ranks search tokens by attention; near-tied scores can swap under FP16/INT8 and then
other tokens are dropped (a discrete change, largest with untrained weights). The graph's TopK indices are
read back (`ort_session(with_ce=True)`), the kept tokens compared with PyTorch's (FP32 must keep exactly the
same), and for FP16/INT8 the gated errors are measured against PyTorch forced to the graph's own choices
(the model's `ce_forced_ranks` argument), so they measure numeric error; the end-to-end box agreement is
reported next to them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from droptrack.artifact import ArtifactMeta
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.export.onnx import CE_RANK_BRANCH, SIMPLIFY_ATOL, simplify
from droptrack.export.pairs import InputPair
from droptrack.export.parity import ParityReport, compare


def torch_outputs(model, pairs: list[InputPair], forced: list[list[np.ndarray]] | None = None,
                  rank_branch: bool = CE_RANK_BRANCH,
                  ) -> tuple[list[dict[str, np.ndarray]], list[list[np.ndarray]]]:
    """PyTorch outputs (eval, CPU, static CE template index) and each pair's CE rankings (one per CE block).

    With `forced`, the CE blocks use the given rankings instead of their own (to measure numeric error with
    the same token choices as an exported graph). `rank_branch` matches the exported graphs' ranking source.
    """
    import torch

    outs, ranks = [], []
    with torch.inference_mode():
        for k, p in enumerate(pairs):
            given = None if forced is None else [torch.from_numpy(np.asarray(r, np.int64)) for r in forced[k]]
            o = model(torch.from_numpy(p.template), torch.from_numpy(p.search), ce_template_mask=model.template_index,
                      ce_rank_branch=rank_branch, ce_forced_ranks=given)
            outs.append({k2: o[k2].numpy().copy() for k2 in OUTPUT_NAMES})
            ranks.append([r.numpy().copy() for r in o["ce_ranks"]])
    return outs, ranks


def ort_session(path: str | Path, threads: int = 0, with_ce: bool = False):
    """A CPU ONNX Runtime session (full optimisation, quiet); `with_ce` adds the CE TopK indices as outputs."""
    import onnxruntime as ort

    from droptrack.engine.onnxruntime_backend import session_options

    model: str | bytes = str(path)
    if with_ce:
        model = _with_topk_outputs(path)
    return ort.InferenceSession(model, session_options(ort, threads), providers=["CPUExecutionProvider"])


def _with_topk_outputs(path: str | Path) -> bytes:
    """The graph with every TopK's indices exposed as extra outputs `ce_rank_<i>` (verification only)."""
    import onnx

    model = onnx.load(str(path))
    for i, n in enumerate(x for x in model.graph.node if x.op_type == "TopK"):
        name = f"ce_rank_{i}"
        model.graph.node.append(onnx.helper.make_node("Identity", [n.output[1]], [name], name=f"ce_rank_id_{i}"))
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None))
    return model.SerializeToString()


def ort_outputs(path_or_session, pairs: list[InputPair], names: tuple[str, ...] = OUTPUT_NAMES,
                ) -> list[dict[str, np.ndarray]]:
    """Outputs of an ONNX graph on ONNX Runtime CPU; CE rankings under 'ce_rank_<i>' when the session has them."""
    from droptrack.engine.onnxruntime_backend import run_batched

    sess = path_or_session if hasattr(path_or_session, "run") else ort_session(path_or_session)
    extra = tuple(o.name for o in sess.get_outputs() if o.name.startswith("ce_rank_"))
    want = list(names) + list(extra)
    if not pairs:
        return []
    batch = sess.get_inputs()[0].shape[0]   # model_ort.onnx: a frame's crops, pairs in calls of it; else one a call
    outs = run_batched(sess, want, np.concatenate([p.template for p in pairs]),
                       np.concatenate([p.search for p in pairs]), batch if isinstance(batch, int) else 1)
    return [{k: o[i:i + 1] for k, o in zip(want, outs)} for i in range(len(pairs))]


def simplify_checked(raw: Path, slim: Path, pairs: list[InputPair]) -> str:
    """`export.onnx.simplify` of `raw` into `slim`, kept only where its outputs on `pairs` stay within SIMPLIFY_ATOL
    of the raw graph's in ONNX Runtime; the tool's name, or '' (slim absent)."""
    ref = ort_outputs(raw, pairs)

    def unchanged(p: Path) -> bool:
        got = ort_outputs(p, pairs)
        return all(abs(g[k].astype("float64") - r[k]).max() <= SIMPLIFY_ATOL for g, r in zip(got, ref)
                   for k in OUTPUT_NAMES)

    return simplify(raw, slim, unchanged)


def ce_ranks(out: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The CE rankings of one ORT output dict, in block order."""
    keys = sorted((k for k in out if k.startswith("ce_rank_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    return [out[k] for k in keys]


def kept_tokens(ranks: list[np.ndarray], keep_counts: list[int], lens_x: int) -> list[set[int]]:
    """Global search-token indices kept after each CE block (item 0), from per-block rankings."""
    glob = np.arange(lens_x)
    kept = []
    for r, keep in zip(ranks, keep_counts):
        glob = glob[np.asarray(r)[0, :keep]]
        kept.append(set(int(v) for v in glob))
    return kept


def token_agreement(a: list[np.ndarray], b: list[np.ndarray], keep_counts: list[int], lens_x: int) -> float:
    """Smallest fraction of kept tokens shared by two rankings over the CE blocks (1.0 = same tokens)."""
    if not keep_counts:
        return 1.0
    ka, kb = kept_tokens(a, keep_counts, lens_x), kept_tokens(b, keep_counts, lens_x)
    if len(ka) != len(kb) or not ka:
        return 0.0
    return min(len(x & y) / max(1, len(y)) for x, y in zip(ka, kb))


def verify_onnx(path: str | Path, model, pairs: list[InputPair], reference: list[dict], ref_ranks: list,
                meta: ArtifactMeta, artifact: str) -> ParityReport:
    """ORT CPU vs PyTorch: outputs, CE token choices and boxes; reduced precisions are CE-aligned (see ParityReport)."""
    outs = ort_outputs(ort_session(path, with_ce=True), pairs)
    ranks = [ce_ranks(o) for o in outs]
    keep = [int(k) for k in meta.extra.get("keep_counts", [])]
    lens_x = meta.feat_size ** 2
    tokens = [token_agreement(r, rr, keep, lens_x) for r, rr in zip(ranks, ref_ranks)] if keep else []
    aligned = None
    if meta.precision != "fp32" and keep and any(t < 1.0 for t in tokens):
        aligned, _ = torch_outputs(model, pairs, forced=ranks)
    return compare(outs, reference, pairs, meta, artifact, meta.precision, tokens=tokens, aligned_reference=aligned)
