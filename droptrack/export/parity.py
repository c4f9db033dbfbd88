"""Export-time parity: an exported graph vs PyTorch on real template/search pairs.

Pairs are crops of real photos (scikit-image's bundled images) taken with the tracker's own geometry
(`sample_target` + `normalize`): the template around an object box, the search region around the same box
shifted as if the target had moved. Per output we report max abs error, max relative error
(max abs error / max |reference|) and cosine similarity over all pairs; per pair the decoded box
(Hann window + argmax, as the tracker does) is compared by IoU.

Candidate elimination ranks search tokens by attention; near-tied scores can swap under FP16/INT8 and then
other tokens are dropped (a discrete change, largest with untrained weights). The graph's TopK indices are
read back, the kept tokens compared with PyTorch's (FP32 must keep exactly the same), and for FP16/INT8 the
gated errors are measured against PyTorch forced to the graph's own choices, so they measure numeric error;
the end-to-end box agreement is reported next to them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from droptrack.artifact import ArtifactMeta, atomic_write_json
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.geometry import box_iou, decode_box, hann2d, normalize, sample_target

# (photo, object box as fractions x, y, w, h of the image, target motion as fractions of the box size)
PHOTO_PAIRS = (
    ("astronaut", (0.33, 0.06, 0.25, 0.34), (0.10, -0.05)),
    ("chelsea", (0.30, 0.10, 0.42, 0.62), (-0.08, 0.06)),
    ("coffee", (0.28, 0.12, 0.45, 0.60), (0.05, 0.10)),
    ("motorcycle_left", (0.15, 0.25, 0.65, 0.55), (-0.06, -0.04)),
)


@dataclass(frozen=True)
class Tolerance:
    """Pass criteria of one precision.

    max_abs None = reported, not gated. Boxes must reach min_iou on min_agreement of the pairs. min_tokens: the
    CE blocks must keep this fraction of PyTorch's tokens (None = reported only).
    """

    max_abs: float | None
    min_cosine: float
    min_iou: float
    min_agreement: float = 1.0
    min_tokens: float | None = None


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(max_abs=1e-4, min_cosine=0.99999, min_iou=0.99, min_tokens=1.0),
    "fp16": Tolerance(max_abs=2e-2, min_cosine=0.999, min_iou=0.9),
    # INT8 is judged on the decoded boxes; tensor errors are reported, only a loose cosine floor is gated
    "int8": Tolerance(max_abs=None, min_cosine=0.99, min_iou=0.7, min_agreement=0.75),
}


@dataclass
class InputPair:
    """One normalised (template, search) input pair, 1x3xZxZ and 1x3xXxX float32."""

    name: str
    template: np.ndarray
    search: np.ndarray


@dataclass
class OutputStats:
    """Error of one output over all pairs."""

    name: str
    max_abs: float
    max_rel: float
    cosine: float


@dataclass
class BoxStats:
    """Decoded-box agreement on one pair (boxes normalised to the search crop)."""

    pair: str
    iou: float
    center_err: float
    same_peak: bool


@dataclass
class ParityReport:
    """Parity of one artifact against PyTorch.

    For reduced precisions the gated errors (`outputs`, `boxes`) are measured against PyTorch run with the
    graph's own CE token choices (`aligned`), so they measure numeric error; a CE choice flipped by a near-tie
    is reported separately (`tokens`, `e2e_boxes`: end-to-end boxes vs unconstrained PyTorch).
    """

    artifact: str
    precision: str
    reference: str
    outputs: list[OutputStats]
    boxes: list[BoxStats]
    tolerance: Tolerance
    tokens: list[float] = field(default_factory=list)
    e2e_boxes: list[BoxStats] = field(default_factory=list)
    aligned: bool = False
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def max_abs(self) -> float:
        return max(o.max_abs for o in self.outputs)

    @property
    def cosine(self) -> float:
        return min(o.cosine for o in self.outputs)

    def _agreement(self, boxes: list[BoxStats]) -> float:
        return sum(b.iou >= self.tolerance.min_iou for b in boxes) / max(1, len(boxes))

    @property
    def box_agreement(self) -> float:
        """Fraction of pairs whose decoded box reaches the tolerance IoU (gated comparison)."""
        return self._agreement(self.boxes)

    @property
    def e2e_box_agreement(self) -> float:
        """Same against unconstrained PyTorch (includes the effect of flipped CE choices)."""
        return self._agreement(self.e2e_boxes or self.boxes)

    @property
    def token_agreement(self) -> float:
        """Smallest fraction of PyTorch's kept CE tokens the graph kept (1.0 = identical; nan = unknown)."""
        return min(self.tokens) if self.tokens else float("nan")

    @property
    def mean_iou(self) -> float:
        return float(np.mean([b.iou for b in self.boxes])) if self.boxes else float("nan")

    def to_dict(self) -> dict:
        return {"artifact": self.artifact, "precision": self.precision, "reference": self.reference,
                "passed": self.passed, "failures": self.failures, "tolerance": asdict(self.tolerance),
                "max_abs": self.max_abs, "cosine": self.cosine, "box_agreement": self.box_agreement,
                "e2e_box_agreement": self.e2e_box_agreement, "mean_iou": self.mean_iou,
                "ce_token_agreement": self.tokens, "aligned_to_graph_ce_choices": self.aligned,
                "outputs": [asdict(o) for o in self.outputs], "boxes": [asdict(b) for b in self.boxes],
                "e2e_boxes": [asdict(b) for b in self.e2e_boxes]}


def load_photo(name: str) -> np.ndarray:
    """A bundled photo as HxWx3 uint8 RGB."""
    import cv2

    from droptrack.data.media import photo_dir

    img = cv2.imread(str(photo_dir() / f"{name}.png"), cv2.IMREAD_COLOR)
    if img is None:
        from droptrack.errors import ExportError

        raise ExportError(f"photo '{name}.png' missing from scikit-image's data folder; reinstall scikit-image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def crop_pair(name: str, image: np.ndarray, box, moved_box, meta: ArtifactMeta) -> InputPair:
    """Template around `box`, search around `box` in the frame where the target moved to `moved_box`.

    The search crop is taken around the previous state (`box`) as the tracker does; `moved_box` only shifts
    the image content (the frame is translated), so both crops come from real pixels.
    """
    import cv2

    z, _ = sample_target(image, box, meta.template_factor, meta.template_size)
    dx, dy = moved_box[0] - box[0], moved_box[1] - box[1]
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    frame = cv2.warpAffine(image, M, (image.shape[1], image.shape[0]))
    x, _ = sample_target(frame, box, meta.search_factor, meta.search_size)
    return InputPair(name, normalize(z, meta.mean, meta.std), normalize(x, meta.mean, meta.std))


def real_pairs(meta: ArtifactMeta, n: int = 3) -> list[InputPair]:
    """`n` (<= 4) different real-photo input pairs with the artifact's sizes and crop factors."""
    pairs = []
    for name, (fx, fy, fw, fh), (mx, my) in PHOTO_PAIRS[:n]:
        img = load_photo(name)
        H, W = img.shape[:2]
        box = [fx * W, fy * H, fw * W, fh * H]
        moved = [box[0] + mx * box[2], box[1] + my * box[3], box[2], box[3]]
        pairs.append(crop_pair(name, img, box, moved, meta))
    return pairs


class _SortProxy:
    """Stands in for `torch` inside droptrack.model.vit: records (or forces) the CE ranking of `torch.sort`."""

    def __init__(self, torch_module, forced: list[np.ndarray] | None):
        self._torch = torch_module
        self.forced = list(forced) if forced is not None else None
        self.recorded: list[np.ndarray] = []

    def __getattr__(self, name: str):
        return getattr(self._torch, name)

    def sort(self, score, dim: int = -1, descending: bool = False):
        if self.forced is not None:
            idx = self._torch.from_numpy(self.forced[len(self.recorded)].astype(np.int64))
            self.recorded.append(idx.numpy())
            return score, idx
        values, idx = self._torch.sort(score, dim=dim, descending=descending)
        self.recorded.append(idx.numpy().copy())
        return values, idx


def torch_outputs(model, pairs: list[InputPair], forced: list[list[np.ndarray]] | None = None,
                  ) -> tuple[list[dict[str, np.ndarray]], list[list[np.ndarray]]]:
    """PyTorch outputs (eval, CPU, static CE template index) and each pair's CE rankings (one per CE block).

    With `forced`, the CE blocks use the given rankings instead of their own (to measure numeric error with
    the same token choices as an exported graph).
    """
    import torch

    from droptrack.model import vit

    outs, ranks = [], []
    with torch.inference_mode():
        for k, p in enumerate(pairs):
            proxy = _SortProxy(torch, forced[k] if forced is not None else None)
            vit.torch = proxy
            try:
                o = model(torch.from_numpy(p.template), torch.from_numpy(p.search),
                          ce_template_mask=model.template_index)
            finally:
                vit.torch = torch
            outs.append({k2: o[k2].numpy().copy() for k2 in OUTPUT_NAMES})
            ranks.append(proxy.recorded)
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
    sess = path_or_session if hasattr(path_or_session, "run") else ort_session(path_or_session)
    extra = tuple(o.name for o in sess.get_outputs() if o.name.startswith("ce_rank_"))
    want = list(names) + list(extra)
    return [dict(zip(want, sess.run(want, {"template": p.template, "search": p.search}))) for p in pairs]


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


def _iou_cxcywh(a: np.ndarray, b: np.ndarray) -> float:
    def xywh(c: np.ndarray) -> np.ndarray:
        return np.concatenate([c[:2] - c[2:4] / 2, c[2:4]])

    return float(box_iou(xywh(np.asarray(a, np.float64)), xywh(np.asarray(b, np.float64)))[0])


def decode(out: dict[str, np.ndarray], feat_size: int) -> tuple[np.ndarray, int]:
    """Tracker decoding of one output set: (cx, cy, w, h) of the first item and its peak cell index."""
    score = hann2d(feat_size) * out["score_map"]
    boxes, _ = decode_box(score, out["size_map"], out["offset_map"])
    return boxes[0], int(score.reshape(score.shape[0], -1)[0].argmax())


def output_stats(outputs: list[dict], reference: list[dict]) -> list[OutputStats]:
    """Per-output max abs / max rel error and cosine over all pairs."""
    stats = []
    for name in OUTPUT_NAMES:
        a = np.concatenate([o[name].astype(np.float64).ravel() for o in outputs])
        b = np.concatenate([r[name].astype(np.float64).ravel() for r in reference])
        err = float(np.abs(a - b).max())
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        cos = float(a @ b / denom) if denom > 0 else float(np.array_equal(a, b))
        stats.append(OutputStats(name, err, err / max(float(np.abs(b).max()), 1e-12), cos))
    return stats


def box_stats(outputs: list[dict], reference: list[dict], pairs: list[InputPair], feat_size: int) -> list[BoxStats]:
    """Per-pair IoU, centre error and peak agreement of the tracker-decoded boxes."""
    boxes = []
    for p, o, r in zip(pairs, outputs, reference):
        bo, po = decode(o, feat_size)
        br, pr = decode(r, feat_size)
        boxes.append(BoxStats(p.name, _iou_cxcywh(bo, br), float(math.hypot(*(bo[:2] - br[:2]))), po == pr))
    return boxes


def compare(outputs: list[dict], reference: list[dict], pairs: list[InputPair], meta: ArtifactMeta,
            artifact: str, precision: str, reference_name: str = "pytorch", tokens: list[float] | None = None,
            aligned_reference: list[dict] | None = None, gate_tensors: bool = True) -> ParityReport:
    """Compare outputs with the reference (or the CE-aligned reference) and apply the precision's tolerance.

    gate_tensors=False (TensorRT engines, whose CE choices cannot be read back): tensor errors are reported and
    only NaN/Inf and the decoded boxes are gated.
    """
    tol = TOLERANCES[precision]
    gated = aligned_reference if aligned_reference is not None else reference
    stats = output_stats(outputs, gated)
    e2e = box_stats(outputs, reference, pairs, meta.feat_size)
    boxes = e2e if aligned_reference is None else box_stats(outputs, aligned_reference, pairs, meta.feat_size)
    rep = ParityReport(artifact, precision, reference_name, stats, boxes, tol, list(tokens or []), e2e,
                       aligned_reference is not None)
    for s in stats:
        if not np.isfinite(s.max_abs):
            rep.failures.append(f"{s.name} has NaN/Inf")
        elif gate_tensors and tol.max_abs is not None and s.max_abs > tol.max_abs:
            rep.failures.append(f"{s.name} max abs error {s.max_abs:.2e} > {tol.max_abs:.0e}")
        if gate_tensors and not s.cosine >= tol.min_cosine:
            rep.failures.append(f"{s.name} cosine {s.cosine:.6f} < {tol.min_cosine}")
    if rep.box_agreement < tol.min_agreement:
        rep.failures.append(f"decoded boxes agree (IoU >= {tol.min_iou}) on {rep.box_agreement:.0%} of pairs, "
                            f"need {tol.min_agreement:.0%}")
    if tol.min_tokens is not None and rep.tokens and rep.token_agreement < tol.min_tokens:
        rep.failures.append(f"candidate elimination kept {rep.token_agreement:.1%} of PyTorch's tokens, "
                            f"need {tol.min_tokens:.0%}")
    return rep


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


def write_parity_json(output_dir: Path, reports: list[ParityReport], extra: dict | None = None) -> Path:
    """Merge reports into `output_dir/parity.json` (one entry per artifact)."""
    path = Path(output_dir) / "parity.json"
    data: dict = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
    data.setdefault("artifacts", {})
    for r in reports:
        data["artifacts"][r.artifact] = r.to_dict()
    data.update(extra or {})
    return atomic_write_json(path, data)


def parity_table(report: ParityReport):
    """Rich table of one report: per-output errors and per-pair boxes and CE token agreement."""
    from rich.table import Table

    mark = "[green]PASS[/]" if report.passed else "[red]FAIL[/]"
    ref = report.reference + (" (CE-aligned)" if report.aligned else "")
    t = Table(title=f"parity {report.artifact} ({report.precision}) vs {ref}: {mark}")
    for col in ("output / pair", "max abs", "max rel", "cosine", "box IoU", "centre err", "CE tokens", "e2e IoU"):
        t.add_column(col, justify="right")
    for o in report.outputs:
        t.add_row(o.name, f"{o.max_abs:.2e}", f"{o.max_rel:.2e}", f"{o.cosine:.6f}", "", "", "", "")
    for k, b in enumerate(report.boxes):
        tok = f"{report.tokens[k]:.1%}" if k < len(report.tokens) else "-"
        e2e = f"{report.e2e_boxes[k].iou:.4f}" if k < len(report.e2e_boxes) else "-"
        t.add_row(b.pair, "", "", "", f"{b.iou:.4f}", f"{b.center_err:.4f}", tok, e2e)
    return t
