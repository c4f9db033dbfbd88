"""Describe the machine a benchmark ran on (CPU model, cores, load, versions)."""

from __future__ import annotations

import os
import platform


def describe() -> dict:
    """CPU model, core count, load average and library versions."""
    import numpy
    import torch

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "loadavg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info
