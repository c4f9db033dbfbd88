"""`dt export`'s options, checked before any work: nothing is loaded and no output folder is made for a command
that would be refused later (an unknown config, a missing checkpoint, INT8 options without --int8, ...)."""

from __future__ import annotations

from pathlib import Path

from droptrack.errors import ExportError

DEFAULT_OUTPUT = Path("out/export")


def check_outside_package(output_dir: str | Path) -> None:
    """An --output outside the droptrack package's own folder (its shipped weights and graph): an export there was
    installed with the package and named the shipped graph as a file of an earlier export."""
    from importlib import resources

    package = Path(str(resources.files("droptrack"))).resolve()
    out = Path(output_dir).expanduser().resolve()
    if out == package or package in out.parents:
        raise ExportError(f"--output '{output_dir}' is inside the droptrack package's own folder '{package}' (its "
                          "shipped model files); pass an output folder outside it, e.g. -o out/export")


def check_export_options(checkpoint: str | Path | None, config: str | None, output_dir: str | Path, opset: int,
                         precs: list[str], calib: str | None, calib_pairs: int, workspace_gb: float, typing: str,
                         int8_options=None, keep_fp32: tuple[str, ...] = (), in_memory: bool = False,
                         engine: bool = False, safetensors: bool = False, overwrite: bool = False,
                         ort: bool = False) -> None:
    """Every export option usable together (one-line errors); `precs` already parsed; `in_memory`: the model was
    passed as an object, so there is no checkpoint file to check."""
    from droptrack.config import load_config
    from droptrack.data.registry import check_output_outside_datasets
    from droptrack.export.auto_precision import check_unused_int8_options
    from droptrack.export.calibration import check_calib_source, check_pair_count
    from droptrack.export.onnx import check_opset
    from droptrack.export.precision import check_keep_patterns
    from droptrack.export.quantize import TRT_INT8_MAX_OPSET
    from droptrack.export.tensorrt import DEFAULT_WORKSPACE_GB, check_engine_machine, check_engine_options
    from droptrack.export.trt_ops import OPSETS as PARSER_OPSETS
    from droptrack.export.workdir import SAFETENSORS, check_own_graphs, check_replaceable
    from droptrack.model.checkpoint import check_checkpoint_path
    from droptrack.paths import check_output_dir, same_file

    check_opset(opset)
    if engine and opset > PARSER_OPSETS[1]:   # the exports would run first, then every engine build fail or misparse
        raise ExportError(f"--engine: TensorRT 10's ONNX parser documents opsets up to {PARSER_OPSETS[1]}, got --opset "
                          f"{opset}; pass --opset 17 (the default), or drop --engine")
    check_engine_options(workspace_gb, typing)
    given = [f for f, on in (("--workspace", workspace_gb != DEFAULT_WORKSPACE_GB),
                             ("--trt-typing", typing != "strong")) if on]
    if given and not engine:   # as the INT8-only options without --int8: it was accepted and did nothing
        raise ExportError(f"{' and '.join(given)} set{'s' * (len(given) == 1)} the TensorRT engine build; add --engine "
                          "or drop it")
    check_keep_patterns(keep_fp32)
    if config is not None:
        load_config(config)
    trt_int8 = "int8" in precs and "trt" in (int8_options.targets if int8_options is not None else ("trt",))
    if keep_fp32 and "fp16" not in precs and not trt_int8:
        raise ExportError("--keep-fp32 applies to the FP16 graph and the TensorRT INT8 graph's FP16 base; add --fp16 "
                          "or --int8 (with the trt target)")
    check_unused_int8_options(precs, calib, calib_pairs, int8_options)
    if trt_int8 and opset > TRT_INT8_MAX_OPSET:
        raise ExportError(f"--int8 (trt target) works up to --opset {TRT_INT8_MAX_OPSET}, got {opset} (the quantizer's "
                          "zero points do not fit opset 21's QuantizeLinear); pass --opset 17 (the default), or "
                          "--int8-target ort")
    if engine and "int8" in precs and "fp16" not in precs and not trt_int8:   # else it built nothing, silently
        raise ExportError("--engine builds TensorRT engines, and --int8-target ort writes only ONNX Runtime's CPU "
                          "graph; add trt to --int8-target (or --fp16), or drop --engine")
    if "int8" in precs:
        check_pair_count(calib_pairs)
        check_calib_source(calib)
        if int8_options is not None:
            int8_options.check()
    if checkpoint is not None and str(checkpoint).lower().endswith(".onnx"):   # a checkpoint export's options: refused
        given = [o for o, on in (("--fp16/--int8", len(precs) > 1), ("--keep-fp32", keep_fp32), ("--calib", calib),
                                 ("--safetensors", safetensors), ("--ort", ort),
                                 ("--output", Path(output_dir) != DEFAULT_OUTPUT))
                 if on]
        if given:
            verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
            raise ExportError(f"'{checkpoint}' is an exported graph: only its engine is built, next to it; "
                              f"{', '.join(given)} {verb} to a checkpoint export - drop {them} or pass the checkpoint")
    elif overwrite and not engine:   # a checkpoint export's graphs are its own: replaced without it
        raise ExportError("--overwrite applies to --engine (an engine file that droptrack did not build from its "
                          "graph, beside it or in --output, is replaced); add --engine or drop --overwrite")
    elif checkpoint is not None and not in_memory:
        from droptrack.model.default import embedded_hint

        if not Path(checkpoint).exists() and embedded_hint(checkpoint):   # README's source-tree path, elsewhere
            raise ExportError(f"checkpoint '{checkpoint}' not found{embedded_hint(checkpoint)}, or omit CHECKPOINT "
                              "for the embedded model")
        check_checkpoint_path(checkpoint)
    if checkpoint is None or not str(checkpoint).lower().endswith(".onnx"):   # made once the checkpoint has loaded
        check_output_dir("--output", output_dir)
        check_output_outside_datasets("--output", output_dir)   # model.onnx among a video's frames or a set's input
        check_outside_package(output_dir)
        check_replaceable(output_dir)
    if safetensors and checkpoint is not None and not in_memory and same_file(Path(output_dir) / SAFETENSORS,
                                                                              checkpoint):
        raise ExportError(f"--safetensors writes {SAFETENSORS} into --output '{output_dir}', which is the input "
                          f"checkpoint '{checkpoint}' (its graphs would name a checkpoint that no longer exists); "
                          "drop --safetensors (the input is one already) or pass another --output")
    if checkpoint is None or not str(checkpoint).lower().endswith(".onnx"):   # files of the names it writes
        from droptrack.export.auto_precision import Int8Options

        check_own_graphs(output_dir, precs, (int8_options or Int8Options()).targets, safetensors, ort)
    if engine and (checkpoint is None or not str(checkpoint).lower().endswith(".onnx")):
        from droptrack.export.auto_precision import Int8Options
        from droptrack.export.engines import check_export_engines, engine_graphs

        targets = (int8_options or Int8Options()).targets
        check_export_engines(Path(output_dir).expanduser(), engine_graphs(precs, targets), overwrite)
        check_engine_machine(graph=False)   # last; an .onnx CHECKPOINT's graph is checked first (engines.engine_only)
