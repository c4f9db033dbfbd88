"""`dt doctor`: what this machine can run (torch, ONNX Runtime, TensorRT, CUDA, GPU, Jetson) and whether an
artifact (checkpoint, .onnx, .engine) fits it; for an engine or its graph, also what `dt export --engine` left that
no dt command runs (an engine older than the graph beside it, an unchecked build)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from droptrack.artifact import artifact_format
from droptrack.board import jetson_info
from droptrack.cpu import cpu_label, describe_cpu
from droptrack.engine.model_cost import ModelCost
from droptrack.engine.threads import env_threads, oversubscription, usable_cores



@dataclass
class Check:
    """One finding: level 'ok' | 'warn' | 'error' and a one-line message."""

    level: str
    message: str


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def environment() -> dict[str, object]:
    """Versions and devices, as a flat JSON-safe dict."""
    from droptrack import __version__
    from droptrack.engine import trt_compat

    env: dict[str, object] = {"droptrack": __version__, "python": platform.python_version(),
                              "platform": f"{platform.system()} {platform.machine()}"}
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_cuda"] = bool(torch.cuda.is_available())
    except ImportError:
        env["torch"] = ""
    flavours = [d for d in ("onnxruntime", "onnxruntime-gpu") if _version(d)]
    env["onnxruntime_dists"] = flavours
    try:
        import onnxruntime as ort

        env["onnxruntime"] = ort.__version__
        env["ort_providers"] = ort.get_available_providers()
    except Exception:  # noqa: BLE001 - a broken mixed install raises odd errors
        env["onnxruntime"] = ""
        env["ort_providers"] = []
    env.update(trt_compat.runtime_env())
    env["gpus"] = [_gpu_line(i, trt_compat.runtime_env(i, with_driver=False)) for i in range(trt_compat.gpu_count())]
    if "CUDA_VISIBLE_DEVICES" in os.environ:   # the GPUs above are the ones it leaves visible, renumbered from 0
        env["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    env["tensorrt_status"] = trt_compat.unavailable_reason() or "usable"
    env["jetson"] = jetson_info()
    cpu = describe_cpu()
    env["cpu"] = cpu_label(cpu["cpu"], cpu["cpu_id"])
    env["cpu_int8"] = cpu["cpu_int8"]   # INT8 speed on the CPU hangs on it (VNNI or not)
    env["usable_cores"] = usable_cores()
    env["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS", "")
    return env


def _gpu_line(index: int, env: dict) -> str:
    """'cuda:1 NVIDIA GeForce RTX 4090 (sm 8.9)': one visible GPU as dt doctor lists it."""
    return f"cuda:{index} {env.get('gpu') or '?'} (sm {env.get('compute_capability') or '?'})"


def environment_checks(env: dict, workers: int = 1) -> list[Check]:
    """Warnings about the environment itself (`workers`: the worker processes planned, e.g. `dt eval --workers`)."""
    out = []
    omp = env.get("omp_num_threads", "")
    problem = oversubscription(workers, {"OMP_NUM_THREADS": omp} if omp else {}, env.get("usable_cores"),
                               "or pass --threads to dt eval, dt run or dt bench")   # dt doctor has no --threads
    if problem:
        out.append(Check("warn", problem))
    if omp.strip() and env_threads({"OMP_NUM_THREADS": omp}) is None:
        n = max(1, (env.get("usable_cores") or usable_cores()) // max(1, workers))
        out.append(Check("warn", f"OMP_NUM_THREADS={omp!r} is not a positive whole number: OpenMP ignores it (libgomp "
                                 "prints 'Invalid value') and it limits no threads; export "
                                 f"OMP_NUM_THREADS={n}"))
    if len(env.get("onnxruntime_dists", [])) > 1:
        out.append(Check("error", "both onnxruntime and onnxruntime-gpu are installed and overwrite each other; "
                                  "pip uninstall -y onnxruntime onnxruntime-gpu, then install one of them"))
    if not env.get("onnxruntime"):
        out.append(Check("warn", "onnxruntime is not importable: .onnx models cannot run (pip install 'droptrack[cpu]')"))
    jet = env.get("jetson") or {}
    maxn = jet.get("maxn_mode", "<MAXN's ID in /etc/nvpmodel.conf>")
    if jet and maxn and "MAXN" not in str(jet.get("power_mode", "")):   # a module without MAXN: nothing to advise
        out.append(Check("warn", f"Jetson power mode is '{jet.get('power_mode', '?')}', not MAXN: benchmarks will be "
                                 f"slower (sudo nvpmodel -m {maxn}; sudo jetson_clocks)"))
    return out


def machine_verdict(env: dict) -> Check:
    """What this machine runs (checkpoints, ONNX graphs, TensorRT engines, on which devices) in one line: the
    verdict of `dt doctor` without an artifact ('error' only when nothing runs at all)."""
    gpu = f" ({env['gpu']})" if env.get("gpu") else ""
    runs, not_here = [], []
    if env.get("torch"):
        runs.append("checkpoints with the torch backend on cpu" + (f" and cuda{gpu}" if env.get("torch_cuda") else ""))
    else:
        not_here.append("checkpoints: torch is not importable")
    providers = env.get("ort_providers") or []
    if env.get("onnxruntime"):
        runs.append("ONNX graphs on ONNX Runtime cpu" + (" and cuda" if "CUDAExecutionProvider" in providers else ""))
    else:
        not_here.append("ONNX graphs: onnxruntime is not importable")
    status = env.get("tensorrt_status", "usable")
    if status == "usable":
        runs.append(f"TensorRT engines built with TensorRT {env.get('tensorrt')} for sm "
                    f"{env.get('compute_capability') or '?'}{gpu}")
    else:
        not_here.append(f"TensorRT engines: {status}")
    line = "this machine runs " + ", ".join(runs) if runs else "this machine runs no model"
    return Check("ok" if runs else "error", line + "".join(f"; not {n}" for n in not_here))


def check_artifact(path: str | Path, env: dict, config: str | None = None, trust: bool = False) -> list[Check]:
    """Does `path` (checkpoint, .onnx, .engine) fit this machine? Loads nothing heavy for engines. `config`: a
    checkpoint's config where the file carries none (--config); `trust`: --trust-checkpoint. A checkpoint that does
    not build on the CPU (another model family, a list, NaN weights), or a graph without droptrack metadata, is bad
    input, raised as dt run raises it, not a finding about this machine."""
    from droptrack.errors import InputError

    path = Path(path)
    if not path.is_file():   # a pipe would be read forever: bad input, as a missing file is
        what = "is not a regular file (a folder, pipe or device)" if os.path.lexists(path) else "not found"
        raise InputError(f"'{path}' {what}; pass a checkpoint, .onnx or .engine file")
    kind = artifact_format(path)
    if kind == "onnx":
        return _check_onnx(path, env)
    if kind == "engine":
        return _check_engine(path, env)
    from droptrack.engine.model_cost import torch_cost
    from droptrack.engine.torch_backend import TorchBackend

    # built as dt run builds it: weights that do not fit the config, or NaN/Inf ones, fail here as there (exit 2)
    with TorchBackend.from_checkpoint(path, config=config, device="cpu", trust=trust) as be:
        m = be.meta
        cost = torch_cost(be.model, m.template_size, m.search_size, ce_template_mask=be.model.template_index)
    return [Check("ok", f"checkpoint {m.config_name} ({m.arch}, {m.template_size}/{m.search_size} px) "
                        "runs with the torch backend"), _cost_check(path, cost)]


def _cost_check(path: Path, cost: ModelCost) -> Check:
    """The size line papers compare trackers by: parameters and FLOPs for one target per frame."""
    return Check("ok", f"{path.name}: {cost.text()} (one target: a template and a search crop)")


def engine_files(engine: Path, graph: str | None = None, unavailable: str = "") -> list[Check]:
    """What `dt export --engine` left at `engine` that no dt command runs: an engine of an older build recipe
    (`recipe_problem`; `unavailable`: why TensorRT cannot run here, where it can be neither checked nor rebuilt and
    its ONNX graph is named instead), an engine built from an earlier graph than
    the one beside it (stale: refused where it is loaded; `graph`: only when its sidecar names this graph), or
    `NAME.engine.unchecked`, an engine whose parity check was interrupted (the rerun of that export checks it)."""
    from droptrack.engine.tensorrt_backend import (not_rebuilt_here, rebuild_for, recipe_problem, sidecar_fields,
                                                   sidecar_path, stale_graph)

    info = sidecar_fields(sidecar_path(engine)) if engine.is_file() else {}
    out = []
    described = isinstance(info.get("meta"), dict) and bool(info["meta"])   # a damaged sidecar is reported as such
    old = recipe_problem(engine, info) if described and (graph is None or info.get("onnx") == graph) else None
    stale = stale_graph(engine, info) if graph is None or info.get("onnx") == graph else None
    if old or stale:   # the rebuild command is refused where TensorRT cannot run: then say where it works
        rebuild = rebuild_for(engine, info)
        advice = (not_rebuilt_here(engine, info, rebuild, unavailable) if unavailable
                  else f"every dt command refuses it: rebuild it: {rebuild}")
        out += [Check("error", f"{old}; {advice}")] * bool(old)
        out += [Check("error", f"{engine.name} is stale: {stale}; {advice}")] * bool(stale)
    unchecked = engine.with_name(engine.name + ".unchecked")
    if unchecked.is_file():
        out.append(Check("warn", f"{unchecked.name} beside it: an engine whose parity check was interrupted (not "
                                 "verified, run by no dt command); run that dt export again to check it (its build "
                                 "is reused), or delete it"))
    return out


def _check_onnx(path: Path, env: dict) -> list[Check]:
    """The graph on each ONNX Runtime device here; a graph without droptrack metadata is bad input (MetadataError,
    raised as dt run raises it), not a finding about this machine."""
    from droptrack.engine.onnx_files import check_external_data
    from droptrack.errors import DropTrackError, InputError, MetadataError

    check_external_data(path, InputError)   # a damaged graph, or one reading files outside its folder: the file's fault
    if not env.get("onnxruntime"):
        return [Check("error", "onnxruntime is not installed: pip install 'droptrack[cpu]'"),
                *engine_files(path.with_suffix(".engine"), path.name, _trt_unavailable(env))]
    from droptrack.engine.onnxruntime_backend import OrtBackend

    out = []
    for device in ("cpu",) + (("cuda",) if "CUDAExecutionProvider" in env.get("ort_providers", []) else ()):
        try:
            with OrtBackend(path, device=device) as be:
                m = be.meta
                out.append(Check("ok", f"{path.name}: {m.precision} {m.config_name}, {m.template_size}/"
                                       f"{m.search_size} px, runs on ONNX Runtime {device} ({', '.join(be.providers)})"))
        except MetadataError:
            raise
        except DropTrackError as exc:
            out.append(Check("error", f"{path.name} on {device}: {exc}"))
    if any(c.level == "ok" for c in out):   # a graph ONNX Runtime loaded: its size by shape inference
        from droptrack.engine.model_cost import onnx_cost

        out.append(_cost_check(path, onnx_cost(path)))
    return out + engine_files(path.with_suffix(".engine"), path.name, _trt_unavailable(env))


def _check_engine(path: Path, env: dict) -> list[Check]:
    """The engine against this machine, then what is wrong beside it (a changed graph, an unchecked build)."""
    checks = _engine_fits(path, env)   # its sidecar missing, damaged or unfinished: bad input, as dt run says it
    return checks + engine_files(path, unavailable=_trt_unavailable(env))


def _trt_unavailable(env: dict) -> str:
    """Why no engine runs or is built here ('' where TensorRT is usable), as the environment check found it."""
    status = env.get("tensorrt_status", "usable")
    return "" if status == "usable" else str(status)


def _engine_fits(path: Path, env: dict) -> list[Check]:
    from droptrack.engine.tensorrt_backend import (compat_problems, not_rebuilt_here, onnx_instead, plan_size_problem,
                                                   read_sidecar, rebuild_for)

    info = read_sidecar(path)
    cut = plan_size_problem(path, info)
    unavailable = _trt_unavailable(env)   # where TensorRT cannot run, the rebuild command is refused: say where
    if cut:   # every dt command refuses it before TensorRT sees it
        rebuild = rebuild_for(path, info)
        return [Check("error", f"{cut}; every dt command refuses it: copy it again" +
                      (f"; {not_rebuilt_here(path, info, rebuild, unavailable)}" if unavailable
                       else f", or rebuild it: {rebuild}"))]
    built = info.get("env", {})
    here = {"tensorrt": env.get("tensorrt", ""), "gpu": env.get("gpu", ""),
            "compute_capability": env.get("compute_capability", "")}
    problems = compat_problems(built, here)
    desc = (f"{path.name}: {info.get('precision')} engine built with TensorRT {built.get('tensorrt')} on "
            f"{built.get('gpu')} (sm {built.get('compute_capability')})")
    status = env.get("tensorrt_status", "usable")
    if status != "usable":   # no engine runs here, and none can be rebuilt here: the ONNX graph is what runs
        return [Check("error", f"{desc}; cannot run here: {status}; {onnx_instead(path)}")]
    count = len(env.get("gpus") or [])
    if count > 1:   # every visible GPU, not GPU 0 only: an engine runs on the ones it was built for
        return _engine_on_gpus(path, info, desc, count)
    if problems:
        return [Check("error", f"{desc}; does not fit here: {'; '.join(problems)}; rebuild: "
                               f"{rebuild_for(path, info)}")]
    out = [Check("ok", f"{desc}; matches this machine")]
    for k in ("cuda", "driver"):
        if built.get(k) and env.get(k) and built.get(k) != env.get(k):
            out.append(Check("warn", f"{k} differs: {built.get(k)} (engine) vs {env.get(k)} (here); usually fine"))
    return out


def _engine_on_gpus(path: Path, info: dict, desc: str, count: int) -> list[Check]:
    """The engine against each of `count` visible GPUs (dt run --device cuda:N): ok on those it fits, a warning naming
    the others with the command that rebuilds it for one, an error when it fits none."""
    from droptrack.engine import trt_compat
    from droptrack.engine.tensorrt_backend import compat_problems, rebuild_for, rebuild_on

    built, rebuild = info.get("env", {}), rebuild_for(path, info)
    problems = {i: compat_problems(built, trt_compat.runtime_env(i, with_driver=False)) for i in range(count)}
    fits = [f"cuda:{i}" for i, p in problems.items() if not p]
    others = [f"cuda:{i} ({'; '.join(p)}): rebuild for it: {rebuild_on(i, rebuild)}" for i, p in problems.items() if p]
    if not fits:
        return [Check("error", f"{desc}; fits none of the {count} GPUs here: {'; '.join(others)}")]
    out = [Check("ok", f"{desc}; matches {', '.join(fits)} (dt run --device {fits[0]})")]
    return out + [Check("warn", f"{path.name} does not fit {line}") for line in others]
