"""INT8 graphs, one per target: TensorRT (symmetric Q/DQ on an FP16 base) and ONNX Runtime CPU (fastest there).

trt  `model_int8_trt.onnx`: explicit Q/DQ as TensorRT's strongly typed builder wants it: INT8 activations and
     per-channel INT8 weights, both symmetric (zero points 0), biases left in floating point (TensorRT's ONNX parser
     only accepts INT8/FP8/INT4 inputs to DequantizeLinear, so ORT's default INT32 bias quantization would make the
     build fail), and every op without Q/DQ in FP16 (opset 19, FP16 scales; the FP16 graph's FP32 islands kept), as
     NVIDIA ModelOpt does with high_precision_dtype='fp16'. Under strong typing an op runs in the precision of its
     inputs, so an FP32 base would run attention, LayerNorm, GELU and the head in FP32.
ort  `model_int8_ort.onnx`: what ONNX Runtime's CPU kernels run fastest on x86 without VNNI (`ORT_SETTINGS`,
     chosen in benchmarks/results/int8_cpu.md): dynamic quantization, i.e. S8 weights stored in the graph and U8
     activations quantized per inference from their own range (DynamicQuantizeLinear -> MatMulInteger, U8S8), so
     no calibration; MatMul/Gemm, and of the convs only the box head's large 3x3 ones, as one U8 im2col integer
     GEMM per input (export/ort_head.py; ORT's own ConvInteger is slower than its FP32 Conv); an FP32 base, because
     ORT CPU has no FP16 GEMMs. Attention blocks without candidate elimination run as one QAttention node each
     (export/ort_attention.py), which lifts the AVX2 speed-up (benchmarks/results/int8_cpu_avx2_dispatch).

Layer groups (`layer_groups`) name the quantizable nodes per transformer block (qkv, attn = the two attention
MatMuls, proj, mlp) plus patch_embed and head; a recipe keeps some groups in high precision (FP16 on trt, FP32 on
ort). The precision search (droptrack.export.auto_precision) chooses them on tracking divergence.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING, Any, Callable, Sequence

from droptrack.artifact import ArtifactMeta, atomic_write
from droptrack.errors import ExportError, room_checked
from droptrack.export.kl_threshold import kl_thresholds
from droptrack.export.onnx import set_metadata
from droptrack.export.ort_attention import fuse_attention_file
from droptrack.export.ort_head import head_conv_groups, quantize_head_convs
from droptrack.export.groups import group_of, group_order, kept_nodes, matches
from droptrack.export.precision import fp16_model, fp32_nodes, warnings_quiet

if TYPE_CHECKING:
    from droptrack.export.parity import InputPair

INT8_TARGETS = ("trt", "ort")
INT8_OP_TYPES = ("MatMul", "Gemm", "Conv")
CALIB_METHODS = ("minmax", "percentile", "entropy")
# kept in high precision unless a recipe says otherwise: the patch embedding (raw pixels; its error reaches every
# token), the head (INT8 compresses the sigmoid score map; <2 % of the FLOPs) and, for TensorRT, the attention
# MatMuls (their Q/DQ would quantize the softmax probabilities candidate elimination ranks). ORT's dynamic graph
# quantizes MatMul/Gemm and, where they are large (ViT-B, not the default model), the head's first 3x3 convs; the
# patch embedding stays FP32; it takes each activation's range per inference.
DEFAULT_KEPT = {"trt": ("patch_embed", "head", "attn"), "ort": ()}
TRT_OPSET = 19        # QuantizeLinear/DequantizeLinear with FP16 inputs and scales
TRT_INT8_MAX_OPSET = 20   # from 21 QuantizeLinear's output_dtype clashes with the quantizer's zero points (ORT fails)
PERCENTILE = 99.99
# entropy calibration as TensorRT's: a 2048-bin histogram, thresholds searched over windows quantized into 128 bins.
# ORT's own defaults (128 and 128) leave one window, the whole range, so its 'entropy' was minmax; quantize_static
# cannot pass the bin counts, so the ranges are calibrated here and handed over as TensorQuantOverrides rmin / rmax
ENTROPY_BINS, ENTROPY_QUANTIZED_BINS = 2048, 128
# TensorRT's graph: symmetric, and Q/DQ on the inputs of the quantized ops only (TensorRT's placement advice; ModelOpt's
# TensorRT settings): a Q on a Gemm's output put q, k and v on the INT8 grid before the attention kept in FP16, and
# fc1's output before GELU
TRT_QDQ_OPTIONS = {"ActivationSymmetric": True, "WeightSymmetric": True,
                   "OpTypesToExcludeOutputQuantization": list(INT8_OP_TYPES)}


@dataclass(frozen=True)
class OrtSettings:
    """ONNX Runtime CPU INT8 recipe (chosen by benchmarks/bench_int8_cpu.py on an AVX2 CPU without VNNI)."""

    mode: str = "dynamic"              # 'dynamic' (no calibration) | 'static' (calibrated QDQ)
    op_types: tuple[str, ...] = ("MatMul", "Gemm")
    per_channel: bool = False          # per-tensor weights: faster integer GEMMs on this CPU
    reduce_range: bool = False         # 7-bit weights (no VPMADDUBSW saturation): results/int8_reduce_range_v12
    fuse_attention: bool = True        # plain attention blocks as QAttention (export/ort_attention.py)
    head_convs: bool = True            # the head's large 3x3 convs as a U8 im2col GEMM (export/ort_head.py)


ORT_SETTINGS = OrtSettings()


@dataclass(frozen=True)
class Int8Recipe:
    """Which graph to build: target, calibration method and the layer groups kept in high precision."""

    target: str = "trt"
    method: str = "minmax"
    keep: tuple[str, ...] | None = None     # None = DEFAULT_KEPT[target]; group names or group prefixes
    per_channel: bool | None = None         # weights per output channel; None = the target's default
    keep_fp32: tuple[str, ...] = ()          # TensorRT graph: node-name patterns its FP16 base keeps in FP32
    reduce_range: bool | None = None        # ORT graph: 7-bit weights; None = ORT_SETTINGS.reduce_range

    def kept(self) -> tuple[str, ...]:
        return DEFAULT_KEPT[self.target] if self.keep is None else tuple(self.keep)

    def weights_per_channel(self) -> bool:
        """TensorRT's graph: per channel unless told otherwise; ORT's: ORT_SETTINGS unless told otherwise."""
        if self.per_channel is not None:
            return self.per_channel
        return self.target == "trt" or ORT_SETTINGS.per_channel

    def weights_reduced(self) -> bool:
        """ORT's graph: 7-bit weights, so AVX2 CPUs without VNNI cannot saturate their U8S8 pair sums (TensorRT's
        graph: never)."""
        if self.target == "trt":
            return False
        return ORT_SETTINGS.reduce_range if self.reduce_range is None else self.reduce_range


@dataclass
class Int8Details:
    """What the INT8 step did (stored in the graph's metadata and the report)."""

    target: str
    method: str
    calib_source: str
    calib_pairs: int
    kept_groups: list[str] = field(default_factory=list)
    excluded_nodes: list[str] = field(default_factory=list)
    quantized_nodes: int = 0
    per_channel: bool = True
    fp32_kept_patterns: tuple[str, ...] = ()
    fp32_kept_nodes: int = 0
    fused_attention: int = 0           # ORT graph: attention blocks run as one QAttention / Attention node
    head_convs: int = 0                # ORT graph: head 3x3 convs run as one U8 im2col integer GEMM per input
    reduce_range: bool = False         # ORT graph: weights in 7 bits (-64..64)

    def to_dict(self) -> dict:
        trt, ort = self.target == "trt", ORT_SETTINGS
        out = {"int8_target": self.target, "calib_method": self.method, "calib_source": self.calib_source,
                "calib_pairs": self.calib_pairs, "int8_op_types": list(op_types(self.target)),
                "kept_groups": self.kept_groups, "excluded_nodes": len(self.excluded_nodes),
                "quantized_nodes": self.quantized_nodes,
                "int8_mode": "static" if trt else ort.mode,
                "activations": "int8 symmetric (per tensor)" if trt else "uint8 per tensor"
                + (", range per inference" if ort.mode == "dynamic" else ""),
                "weights": ("int8 symmetric per " if trt else "int8 (7-bit range) per " if self.reduce_range
                            else "int8 per ")
                + ("channel" if self.per_channel else "tensor"),
                "float_base": "fp16" if trt else "fp32",
                "source_precision": "fp32"}
        if self.fused_attention:
            out["fused_attention_blocks"] = self.fused_attention
        if self.head_convs:
            out["int8_head_convs"] = self.head_convs
        if self.fp32_kept_patterns:
            out.update(fp32_kept_patterns=list(self.fp32_kept_patterns), fp32_kept_nodes=self.fp32_kept_nodes)
        return out


def op_types(target: str) -> tuple[str, ...]:
    """The op types the target's INT8 graph quantizes."""
    return INT8_OP_TYPES if target == "trt" else ORT_SETTINGS.op_types


def layer_groups(model, target: str = "trt", head: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{group: [node names]} of the nodes the target's graph can quantize, in graph order ('other': unknown names).

    ORT's dynamic graph quantizes only nodes with a weight (the attention MatMuls multiply two activations), and of
    the convs only the head's large 3x3 ones (export/ort_head.py; `head`: their `head_conv_groups`, if known)."""
    weights = {i.name for i in model.graph.initializer}
    weights_only = target == "ort" and ORT_SETTINGS.mode == "dynamic"
    out: dict[str, list[str]] = {}
    for n in model.graph.node:
        if n.op_type in op_types(target) and (not weights_only or any(i in weights for i in n.input[1:2])):
            out.setdefault(group_of(n.name) or "other", []).append(n.name)
    if weights_only and ORT_SETTINGS.head_convs:
        for names in (head_conv_groups(model) if head is None else head).values():
            out.setdefault("head", []).extend(names)
    return out


def _reader(pairs: list[InputPair], update: Callable[[int, int], None] = lambda done, total: None):
    """ORT's calibration data reader of `pairs`; `update(done, total)` as it hands each one out (a progress bar)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it, self.done = iter(pairs), 0

        def get_next(self):
            p = next(self.it, None)
            update(self.done, len(pairs))
            self.done += p is not None
            return None if p is None else {"template": p.template, "search": p.search}

        def rewind(self):
            self.it = iter(pairs)

    return Reader()


def _method(name: str):
    from onnxruntime.quantization import CalibrationMethod

    if name not in CALIB_METHODS:
        raise ExportError(f"unknown calibration method '{name}'; choose from {', '.join(CALIB_METHODS)}")
    return {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
            "entropy": CalibrationMethod.Entropy}[name]


# the calibrator options quantize_static derives from TRT/ORT `extra_options` (its CalibPercentile): a calibration
# made here with them gives the ranges quantize_static would compute itself
CALIB_OPTIONS = {"percentile": PERCENTILE}


@dataclass(frozen=True)
class Calibration:
    """Activation ranges calibrated once on a pre-processed graph and its pairs (`calibrated_ranges`), for every graph
    quantized from them. `data`: ONNX Runtime's TensorsData, as quantize_static computes it; `overrides`: the ranges
    also replace the quantizer's own (entropy: ORT cannot take the bin counts, so the quantizer runs as minmax)."""

    method: str
    data: Any
    overrides: bool = False

    def ranges(self) -> dict:
        """{tensor: (rmin, rmax)}."""
        return {name: tuple(td.range_value) for name, td in self.data.items()}


def _calibration_bar(pairs: list[InputPair], enabled: bool) -> Any:
    """The progress bar over the calibration pairs (`_reader` feeds it) of `dt export` (dt demo has its own)."""
    from droptrack.eval.bench_timing import bar

    return bar(f"calibrating INT8 on {len(pairs)} pairs", enabled)


def _calibrate(src: Path, pairs: list[InputPair], types: Sequence[str], method: str, options: dict, tmp: Path,
               result: Callable[[Any], Any] = lambda calibrator: calibrator.compute_data(), progress: bool = False):
    """`result` (default: ONNX Runtime's TensorsData) of ORT's calibrator of the inputs and outputs of `types` nodes
    in `src`, once it has seen `pairs`; the calibrator and its session are gone before its folder is removed."""
    from onnxruntime.quantization.calibrate import create_calibrator

    with tempfile.TemporaryDirectory(prefix=".dt-calib-", dir=tmp) as work:
        calibrator = create_calibrator(str(src), list(types), augmented_model_path=str(Path(work) / "augmented.onnx"),
                                       calibrate_method=_method(method), providers=["CPUExecutionProvider"],
                                       extra_options=options)
        with _calibration_bar(pairs, progress) as update:
            calibrator.collect_data(_reader(pairs, update))
        data = result(calibrator)
        del calibrator
    return data


def entropy_ranges(src: Path, pairs: list[InputPair], types: Sequence[str], tmp: Path, progress: bool = False) -> dict:
    """{tensor: (rmin, rmax)} of the inputs and outputs of `types` nodes in `src`, by entropy (KL) calibration on
    `pairs` with ENTROPY_BINS / ENTROPY_QUANTIZED_BINS (NumPy scalars of the tensor's type, as the quantizer takes):
    ORT collects the histograms, kl_thresholds finds ORT's own thresholds in about a twelfth of its time."""
    options = {"num_bins": ENTROPY_BINS, "symmetric": True, "num_quantized_bins": ENTROPY_QUANTIZED_BINS}
    return _calibrate(src, pairs, types, "entropy", options, tmp,
                      lambda calibrator: kl_thresholds(calibrator.collector.histogram_dict, ENTROPY_QUANTIZED_BINS),
                      progress)


def preprocess(src: Path, dst: Path) -> Path:
    """ORT's quantization pre-processing (shape inference, MatMul+Add -> Gemm); done once per source graph."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with warnings_quiet():
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=False)
    return dst


def takes_calibration() -> bool:
    """Whether this ONNX Runtime's quantize_static can take ranges calibrated before (`calibration_cache_path`);
    an older one calibrates every graph it quantizes itself."""
    import inspect

    from onnxruntime.quantization import calibrate, quantize_static

    return hasattr(calibrate, "save_tensors_data") and "calibration_cache_path" in inspect.signature(
        quantize_static).parameters


def calibrated_ranges(pre: Path, pairs: list[InputPair], recipe: Int8Recipe, tmp: Path,
                      progress: bool = False) -> Calibration | None:
    """The activation ranges `recipe` calibrates on the pre-processed graph `pre` (None: its target needs none, or
    this ONNX Runtime cannot take them and minmax / percentile calibrate inside each quantization).
    They depend on the graph, the pairs, the method and the target's op types, not on the groups kept: a search
    calibrates once and passes them to every trial and to the graph written after it (`quantize_int8(ranges=...)`);
    the calibration was most of each trial's time."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorsData

    if recipe.target == "ort" and ORT_SETTINGS.mode == "dynamic":
        return None
    types = op_types(recipe.target)
    if recipe.method == "entropy":
        ranges = entropy_ranges(pre, pairs, types, tmp, progress)
        return Calibration("entropy", TensorsData(CalibrationMethod.MinMax, ranges), overrides=True)
    if not takes_calibration():
        return None
    return Calibration(recipe.method, _calibrate(pre, pairs, types, recipe.method, CALIB_OPTIONS, tmp,
                                                 progress=progress))


def _quantize(pre: Path, dst: Path, pairs: list[InputPair], recipe: Int8Recipe, excluded: list[str],
              ranges: Calibration | None = None, progress: bool = False) -> int:
    """Quantize `pre` into `dst` (`ranges`: its calibration, already made: none runs here where ONNX Runtime can take
    it); returns how many attention blocks the ORT graph runs fused."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    trt, ort = recipe.target == "trt", ORT_SETTINGS
    with warnings_quiet():
        if not trt and ort.mode == "dynamic":
            # ORT's dynamic quantizer first splits each Gemm `X` into MatMul `X_MatMul` + Add and then matches
            # nodes_to_exclude against the MatMul's name: name both, or a kept Gemm is quantized anyway
            excluded = excluded + [f"{n}_MatMul" for n in excluded]
            src, types, fused = pre, list(ort.op_types), 0
            if ort.fuse_attention:   # a fused node keeps its qkv projection's name, so `excluded` still applies
                fused = fuse_attention_file(pre, dst.with_name("fused.onnx"))
                src, types = (dst.with_name("fused.onnx"), types + ["Attention"]) if fused else (pre, types)
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=types,
                             per_channel=recipe.weights_per_channel(),
                             reduce_range=recipe.weights_reduced(), weight_type=QuantType.QInt8,
                             nodes_to_exclude=excluded)
            return fused
        extra = {"QuantizeBias": False, "CalibPercentile": PERCENTILE}
        if trt:
            extra.update(TRT_QDQ_OPTIONS)
        method, cache = recipe.method, {}
        if ranges is None and method == "entropy":
            ranges = calibrated_ranges(pre, pairs, recipe, dst.parent, progress)
        if ranges is not None and ranges.overrides:   # set: the quantizer's own pass needs none (minmax, the cheapest)
            extra["TensorQuantOverrides"] = {t: [{"rmin": lo, "rmax": hi}] for t, (lo, hi) in ranges.ranges().items()}
            method = "minmax"
        if ranges is not None and takes_calibration():   # handed over: quantize_static runs no calibration
            from onnxruntime.quantization.calibrate import save_tensors_data

            save_tensors_data(ranges.data, dst.with_name("calibration.json"))
            cache = {"calibration_cache_path": str(dst.with_name("calibration.json"))}
        with _calibration_bar(pairs, progress and not cache) as update:   # a calibration cache: none runs
            quantize_static(str(pre), str(dst), _reader(pairs, update), quant_format=QuantFormat.QDQ,
                            per_channel=recipe.weights_per_channel(), reduce_range=recipe.weights_reduced(),
                            op_types_to_quantize=list(op_types(recipe.target)), nodes_to_exclude=excluded,
                            activation_type=QuantType.QInt8 if trt else QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=_method(method), extra_options=extra,
                            calibration_providers=["CPUExecutionProvider"], **cache)
    return 0


def prune_opsets(model) -> None:
    """Drop opset imports of domains no node uses (the quantizer adds training/preview domains TensorRT rejects)."""
    used = {n.domain or "" for n in model.graph.node}
    keep = [o for o in model.opset_import if (o.domain or "") in used or o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def to_trt_base(model, keep_fp32: Sequence[str] = ()):
    """A Q/DQ graph -> opset 19 with FP16 everywhere except the FP16 graph's FP32 islands (float32 I/O);
    `keep_fp32`: node-name patterns also kept in FP32 (`dt export --keep-fp32`)."""
    from onnx import version_converter

    prune_opsets(model)
    if next(o.version for o in model.opset_import if (o.domain or "") == "") < TRT_OPSET:
        model = version_converter.convert_version(model, TRT_OPSET)
    else:   # the quantizer's value_info, which the converter rewrites, misleads the FP16 cast placement
        del model.graph.value_info[:]
    return fp16_model(model, keep_fp32=keep_fp32)


def quantize_int8(src: Path, dst: Path, meta: ArtifactMeta, pairs: list[InputPair], calib_source: str,
                  recipe: Int8Recipe = Int8Recipe(), pre: Path | None = None,
                  ranges: Calibration | None = None, progress: bool = False) -> Int8Details:
    """FP32 ONNX -> the recipe's INT8 graph calibrated on `pairs` (pass `pre` to reuse a pre-processed graph and
    `ranges`, its `calibrated_ranges` on `pairs`, to reuse that calibration)."""
    import onnx

    if recipe.target not in INT8_TARGETS:
        raise ExportError(f"unknown INT8 target '{recipe.target}'; choose from {', '.join(INT8_TARGETS)}")
    dynamic = recipe.target == "ort" and ORT_SETTINGS.mode == "dynamic"
    with tempfile.TemporaryDirectory(prefix=".dt-int8-", dir=dst.parent) as tmp, room_checked(tmp, dst):
        q = Path(tmp) / "q.onnx"
        pre = pre or preprocess(src, Path(tmp) / "pre.onnx")
        plain = onnx.load(str(pre), load_external_data=False)
        head = head_conv_groups(plain) if dynamic and ORT_SETTINGS.head_convs else {}
        groups = layer_groups(plain, recipe.target, head)
        excluded = kept_nodes(groups, recipe.kept())
        fused = _quantize(pre, q, pairs, recipe, excluded, ranges, progress)
        model = onnx.load(str(q))
    n_head = quantize_head_convs(model, head, set(excluded), recipe.weights_reduced()) if head else 0
    if not any(n.op_type in ("DequantizeLinear", "MatMulInteger", "DynamicQuantizeLinear") for n in model.graph.node):
        raise ExportError("INT8 quantization quantized no node; the graph has no quantizable MatMul/Gemm/Conv "
                          "outside the groups kept in high precision")
    n_fp32 = 0
    if recipe.target == "trt":
        n_fp32 = len(fp32_nodes(model, recipe.keep_fp32))
        model = to_trt_base(model, recipe.keep_fp32)
    else:
        prune_opsets(model)
    n_quant = sum(len(v) for v in groups.values()) - len(excluded)
    kept = sorted((g for g in groups if matches(g, recipe.kept())), key=group_order)   # block2 before block10
    details = Int8Details(recipe.target, "none (dynamic)" if dynamic else recipe.method,
                          "none (ranges per inference)" if dynamic else calib_source, 0 if dynamic else len(pairs),
                          kept, excluded, n_quant, recipe.weights_per_channel(), recipe.keep_fp32, n_fp32, fused,
                          n_head, recipe.weights_reduced())
    meta.precision = "int8"   # whatever the caller passed (often the FP32 graph's metadata): dt bench gates by it
    meta.extra.update(details.to_dict())
    set_metadata(model, meta)
    atomic_write(dst, lambda p: onnx.save(model, str(p)))   # callers may cache it by name: never half-written
    return details
