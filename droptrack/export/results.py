"""What an export produced: one ExportResult per artifact, the ExportReport of a run, and the PyTorch Source the
artifacts are verified against (plain records shared by droptrack.export.pipeline and droptrack.export.engines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from droptrack.artifact import ArtifactMeta
from droptrack.errors import ExportError
from droptrack.export.onnx import GraphReport
from droptrack.export.pairs import InputPair
from droptrack.export.parity import ParityReport


class ParityError(ExportError):
    """An artifact failed its parity check (it is kept as `<name>.failed`); `.report` holds everything."""

    def __init__(self, message: str, report: "ExportReport | None" = None):
        super().__init__(message)
        self.report = report


@dataclass
class ExportResult:
    """One artifact of an export. `step` and `error`: the step that failed before any parity report ('build',
    'load', 'parity run' of an engine) and its one-line reason."""

    name: str
    path: Path
    precision: str
    status: str                      # 'ok' | 'failed' | 'skipped'
    seconds: float
    parity: ParityReport | None = None
    meta: ArtifactMeta | None = None
    graph: GraphReport | None = None
    notes: list[str] = field(default_factory=list)
    step: str = ""
    error: str = ""
    gate: str = ""                   # --auto-precision found no kept set within --max-divergence: why (exit 1)

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 1e6 if self.path.is_file() else 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ExportReport:
    """All artifacts of one `dt export` run."""

    output_dir: Path
    results: list[ExportResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[ExportResult]:
        return [r for r in self.results if r.status == "failed"]

    def get(self, precision: str, kind: str = "onnx") -> ExportResult | None:
        """The result for a precision ('onnx' graph or 'engine')."""
        suffix = ".onnx" if kind == "onnx" else ".engine"
        for r in self.results:
            if r.precision == precision and r.name.endswith(suffix):
                return r
        return None


@dataclass
class Source:
    """The PyTorch model being exported, its config, checkpoint hash and reference outputs on real pairs."""

    model: object
    cfg: object
    checkpoint: Path | None
    sha256: str
    pairs: list[InputPair]
    reference: list[dict]
    ranks: list[list]          # PyTorch's CE rankings per pair (one array per CE block)
