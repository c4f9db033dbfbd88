"""Describe the machine a benchmark ran on, and measure a block's peak memory (RSS; CUDA max allocated).

`describe_machine()` -> plain dict: CPU model (with family / model / stepping) and cores, memory, OS, GPU, library
versions (read from package metadata, so nothing heavy is imported), Jetson model / L4T release / power mode when
present, load average.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from droptrack.board import jetson_info
from droptrack.cpu import cpu_label, describe_cpu, read_text
from droptrack.wording import counted

# package name(s) whose installed version is reported under each key (first one found wins)
PACKAGES = {"droptrack": ("droptrack",), "torch": ("torch",), "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
            "onnx": ("onnx",), "tensorrt": ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11"),
            "opencv": ("opencv-contrib-python-headless", "opencv-python-headless", "opencv-python",
                       "opencv-contrib-python"),
            "numpy": ("numpy",)}


def _version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _mem_total_gb() -> float | None:
    for line in (read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 ** 2, 1)
    return None


def _command(args: list[str], timeout: float = 5.0) -> str | None:
    """Output of a command, or None when it is missing, fails or hangs."""
    if shutil.which(args[0]) is None:
        return None
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _tensorrt_version() -> str | None:
    """From pip metadata; on Jetson (apt python3-libnvinfer, no metadata) from the module itself."""
    found = _version(PACKAGES["tensorrt"])
    if found is None and read_text("/etc/nv_tegra_release"):
        import importlib.util

        if importlib.util.find_spec("tensorrt") is not None:
            try:
                import tensorrt

                found = getattr(tensorrt, "__version__", None)
            except Exception:  # noqa: BLE001 - a broken install is reported as unknown
                found = None
    return found


def _gpu() -> dict[str, Any] | None:
    """CUDA device seen by torch (name, capability, memory) plus the driver from nvidia-smi when present."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(0)
    driver = _command(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return {"name": p.name, "capability": f"{p.major}.{p.minor}", "memory_gb": round(p.total_memory / 1024 ** 3, 1),
            "count": torch.cuda.device_count(), "cuda": torch.version.cuda,
            "driver": driver.splitlines()[0] if driver else None}


def describe_machine() -> dict[str, Any]:
    """CPU, memory, OS, GPU, Jetson and library versions (JSON-safe)."""
    from droptrack.engine.threads import usable_cores

    usable = usable_cores()
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not POSIX
        load = None
    versions = {k: _version(v) for k, v in PACKAGES.items() if k != "tensorrt"}
    versions["tensorrt"] = _tensorrt_version()
    return {**describe_cpu(),
            "cores": os.cpu_count(), "usable_cores": usable,
            "memory_gb": _mem_total_gb(),
            "os": platform.platform(), "python": platform.python_version(), "loadavg_1m": load,
            "gpu": _gpu(), "jetson": jetson_info() or None, "versions": versions}


def benchmark_machine(**extra: Any) -> dict[str, Any]:
    """describe_machine() plus the flat keys the benchmark scripts print (versions, torch threads, GPU name)."""
    import torch

    m = describe_machine()
    m.update({k: m["versions"].get(k) for k in ("torch", "onnxruntime", "numpy")})
    m.update(torch_threads=torch.get_num_threads(), cuda=(m["gpu"] or {}).get("name"), **extra)
    return m


def machine_line(m: dict[str, Any]) -> str:
    """One-line summary for table titles."""
    parts = [f"{cpu_label(m.get('cpu'), m.get('cpu_id'))} ({counted(m.get('usable_cores'), 'core')})"]
    if m.get("gpu"):
        parts.append(m["gpu"]["name"])
    if m.get("jetson"):
        parts.append(f"{m['jetson'].get('model')} power mode {m['jetson'].get('power_mode')}")
    v = m.get("versions", {})
    parts.append(", ".join(f"{k} {v[k]}" for k in ("torch", "onnxruntime", "tensorrt") if v.get(k)))
    return "; ".join(p for p in parts if p)


# ---- peak memory ------------------------------------------------------------------------------------------------

def _status_kb(field: str) -> float | None:
    for line in (read_text("/proc/self/status") or "").splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return None


@dataclass
class PeakMemory:
    """Context manager: peak resident memory of this process while the block ran (MB), and CUDA max allocated.

    On Linux the kernel's high-water mark (VmHWM) is reset on entry through /proc/self/clear_refs, so the peak
    belongs to the block; elsewhere (or when the reset is refused) it is the process lifetime peak (`scope`).
    """

    cuda: bool = False
    before_mb: float | None = None
    peak_mb: float | None = None
    cuda_max_allocated_mb: float | None = None
    scope: str = "block"

    def __enter__(self) -> "PeakMemory":
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.scope = "process"
        rss = _status_kb("VmRSS")
        self.before_mb = rss / 1024 if rss is not None else None
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc: Any) -> None:
        hwm = _status_kb("VmHWM")
        if hwm is None:
            import resource

            hwm = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)   # KiB on Linux
            self.scope = "process"
        self.peak_mb = hwm / 1024
        if self.cuda:
            import torch

            self.cuda_max_allocated_mb = torch.cuda.max_memory_allocated() / 1024 ** 2

    def to_dict(self) -> dict[str, Any]:
        """peak_rss_mb, rss_increase_mb (peak minus RSS before the block), cuda_max_allocated_mb, scope."""
        inc = self.peak_mb - self.before_mb if self.peak_mb is not None and self.before_mb is not None else None
        return {"peak_rss_mb": self.peak_mb, "rss_increase_mb": inc,
                "cuda_max_allocated_mb": self.cuda_max_allocated_mb, "scope": self.scope}
