"""Export-time parity: an exported graph's outputs vs a reference (PyTorch) on real input pairs (`pairs`).

Per output we report max abs error, max relative error (elementwise |out - ref| / |ref|, a zero reference read as
machine epsilon: Polygraphy's max reldiff) and cosine similarity over all pairs; per pair the decoded box (Hann window + argmax, as the tracker does) is
compared by IoU.

For reduced precisions the gated errors can be measured against PyTorch forced to the graph's own
candidate-elimination choices (`ce_parity`), so they measure numeric error, not a flipped near-tie.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from droptrack.artifact import ArtifactMeta, atomic_write_json
from droptrack.engine.base import OUTPUT_NAMES
from droptrack.errors import plain_text
from droptrack.export.pairs import InputPair
from droptrack.geometry import box_iou, decode_box, hann2d


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
    sha256: str = ""                 # of the file this report describes (parity.json keeps a row while it is there)
    checkpoint_sha256: str = ""      # of the checkpoint it was exported from

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
                "e2e_boxes": [asdict(b) for b in self.e2e_boxes], "sha256": self.sha256,
                "checkpoint_sha256": self.checkpoint_sha256}


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
    """Per-output max abs / max elementwise rel error (Polygraphy's) and cosine over all pairs."""
    stats = []
    for name in OUTPUT_NAMES:
        a = np.concatenate([o[name].astype(np.float64).ravel() for o in outputs])
        b = np.concatenate([r[name].astype(np.float64).ravel() for r in reference])
        err = float(np.abs(a - b).max())
        denom = float(np.linalg.norm(a) * np.linalg.norm(b))
        cos = float(a @ b / denom) if denom > 0 else float(np.array_equal(a, b))
        rel = np.abs(a - b) / np.where(b == 0, np.finfo(np.float64).eps, np.abs(b))   # as Polygraphy's reldiff
        stats.append(OutputStats(name, err, float(rel.max()), cos))
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


def own_parity_json(path: Path) -> dict | None:
    """The object of a parity.json that dt export wrote (a JSON object whose 'artifacts' is an object: every one it
    writes has it); None for a missing, unreadable or other file (another tool's, a user's), which an export refuses
    to replace (droptrack.export.workdir.check_own_graphs)."""
    try:
        if not Path(path).is_file():   # a pipe would block the read for ever, a folder is no file of ours
            return None
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("artifacts"), dict) else None


def _read_parity_json(path: Path) -> dict:
    """parity.json's object ({"artifacts": {}} when missing or not dt export's: an export refuses such a file before
    any work, so one found here later is replaced)."""
    return own_parity_json(path) or {"artifacts": {}}


def write_parity_json(output_dir: Path, reports: list[ParityReport], extra: dict | None = None) -> Path:
    """Merge reports into `output_dir/parity.json` (one entry per artifact)."""
    path = Path(output_dir) / "parity.json"
    data = _read_parity_json(path)
    for r in reports:
        data["artifacts"][r.artifact] = r.to_dict()
    data.update(extra or {})
    return atomic_write_json(path, data)


def _describes(output_dir: Path, name: object, row: object, checkpoint_sha256: str) -> bool:
    """Whether a parity.json row still describes a file of `output_dir` exported from this checkpoint: the file it
    names (`<name>.failed` for a failed check) is there with the sha256 the row recorded."""
    from droptrack.artifact import sha256_file

    if not (isinstance(name, str) and isinstance(row, dict) and name and Path(name).name == name):
        return False
    sha = row.get("sha256")
    if not isinstance(sha, str) or not sha or row.get("checkpoint_sha256") != checkpoint_sha256:
        return False
    file = Path(output_dir) / (name if row.get("passed") is True else name + ".failed")
    try:
        return file.is_file() and sha256_file(file) == sha
    except OSError:
        return False


def prune_parity_json(output_dir: Path, checkpoint_sha256: str | None,
                      names: tuple[str, ...] | None = None) -> list[str]:
    """Drop the rows of `output_dir/parity.json` that an export of `checkpoint_sha256` must not present as its own:
    rows of another checkpoint's export, of a file replaced or removed since, and rows without the file's sha256
    (older droptrack). Called once an export holds the folder; returns the names dropped. `checkpoint_sha256` None:
    a row of any checkpoint is kept while its file is unchanged; `names`: only these rows are judged."""
    out = Path(output_dir)
    path = out / "parity.json"
    if not path.is_file():
        return []
    data = _read_parity_json(path)
    rows = data["artifacts"]

    def stale(name: str, row: object) -> bool:
        if names is not None and name not in names:
            return False
        own = row.get("checkpoint_sha256") if isinstance(row, dict) else None
        return not _describes(out, name, row, own if checkpoint_sha256 is None else checkpoint_sha256)

    gone = [n for n, row in rows.items() if stale(n, row)]
    if gone:
        data["artifacts"] = {n: row for n, row in rows.items() if n not in gone}
        atomic_write_json(path, data)
    return gone


def parity_table(report: ParityReport):
    """Rich table of one report: per-output errors and per-pair boxes and CE token agreement."""
    from rich.table import Table
    from rich.text import Text

    mark = ("PASS", "green") if report.passed else ("FAIL", "red")
    ref = report.reference + (" (CE-aligned)" if report.aligned else "")
    t = Table(title=Text.assemble(plain_text(f"parity {report.artifact} ({report.precision}) vs {ref}: "), mark))
    for col in ("output / pair", "max abs", "max rel", "cosine", "box IoU", "centre err", "CE tokens", "e2e IoU"):
        t.add_column(col, justify="right")
    for o in report.outputs:
        t.add_row(plain_text(o.name), f"{o.max_abs:.2e}", f"{o.max_rel:.2e}", f"{o.cosine:.6f}", "", "", "", "")
    for k, b in enumerate(report.boxes):
        tok = f"{report.tokens[k]:.1%}" if k < len(report.tokens) else "-"
        e2e = f"{report.e2e_boxes[k].iou:.4f}" if k < len(report.e2e_boxes) else "-"
        t.add_row(plain_text(b.pair), "", "", "", f"{b.iou:.4f}", f"{b.center_err:.4f}", tok, e2e)
    return t
