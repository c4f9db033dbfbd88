"""The Jetson a process runs on: module, L4T release and nvpmodel power mode, read once for `dt doctor` and for the
machine line of every benchmark (one reader, so both name the mode the same way)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from droptrack.cpu import read_text

TEGRA_RELEASE = "etc/nv_tegra_release"
DEVICE_MODEL = "proc/device-tree/model"
NVPMODEL_CONF = "etc/nvpmodel.conf"
_POWER_MODEL = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=([^\s>]+)")
_POWER_MODE = re.compile(r"NV Power Mode\s*:\s*(\S+)(?:\s+(\d+))?")


def maxn_mode(conf: str) -> str:
    """The ID of the first MAXN power mode in an nvpmodel.conf text ('' when there is none): what `nvpmodel -m` takes
    for MAXN differs from module to module, and some modules have no MAXN mode."""
    return next((m.group(1) for m in _POWER_MODEL.finditer(conf) if "MAXN" in m.group(2).upper()), "")


def power_mode(query: str) -> tuple[str, str]:
    """(name, ID) of the power mode in `nvpmodel -q` output ('' for what it does not say). JetPack prints the name
    after 'NV Power Mode:' and the ID on the next line; newer releases print a fan-mode line first."""
    m = _POWER_MODE.search(" ".join(query.split()))
    return (m.group(1), m.group(2) or "") if m else ("", "")


def _nvpmodel_query() -> str | None:
    """`nvpmodel -q` output (None when the tool is missing or fails)."""
    if not shutil.which("nvpmodel"):
        return None
    try:
        return subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def jetson_info(root: Path = Path("/"), query: str | None = None) -> dict[str, str]:
    """Jetson module, L4T release, power mode (name and ID) and the MAXN mode's ID ({} when not a Jetson). `root`
    and `query` (the `nvpmodel -q` text) stand in for the machine's own in tests."""
    release = read_text(str(root / TEGRA_RELEASE))
    model = read_text(str(root / DEVICE_MODEL))
    if release is None and not (model and "jetson" in model.lower()):
        return {}
    info = {"l4t": release.splitlines()[0].strip("# ").strip() if release else "unknown", "model": model or "unknown"}
    text = query if query is not None else _nvpmodel_query()
    name, ident = power_mode(text or "")
    info["power_mode"] = name or ("unknown (no output from nvpmodel -q)" if text is None else "unknown")
    if ident:
        info["power_mode_id"] = ident
    conf = read_text(str(root / NVPMODEL_CONF))
    if conf is not None:
        info["maxn_mode"] = maxn_mode(conf)   # absent: the doctor's advice names the file to look in
    return info
