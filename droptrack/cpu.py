"""What CPU this is, read from /proc/cpuinfo without heavy imports: its model name, vendor / family / model / stepping,
and the INT8 instruction sets ONNX Runtime's kernels use. Shared by dt doctor (engine) and the benchmark reports
(eval), whose INT8 speed and numerics depend on the core."""

from __future__ import annotations

import platform
from pathlib import Path


def read_text(path: str) -> str | None:
    """A small system file's text (None when it cannot be read)."""
    try:
        return Path(path).read_text(errors="replace").strip().strip("\x00") or None
    except OSError:
        return None


def describe_cpu() -> dict[str, str | None]:
    """{'cpu': model name, 'cpu_id': which core, 'cpu_int8': its INT8 instruction sets}, from one read of
    /proc/cpuinfo: what dt doctor and the benchmark reports say of the CPU."""
    text = read_text("/proc/cpuinfo") or ""   # unreadable: '' gives the same answers as a failed read
    return {"cpu": cpu_model(text), "cpu_id": cpu_id(text), "cpu_int8": cpu_int8_isa(text)}


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name from /proc/cpuinfo's text (this machine's when None; 'AMD EPYC', 'Intel(R) Xeon(R) ...';
    the platform's processor where none is listed)."""
    text = (read_text("/proc/cpuinfo") or "") if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_label(model: str | None, ident: str | None) -> str:
    """'AMD EPYC [AMD family 25 model 1 stepping 1]': the name and, where known, which core it is."""
    return f"{model}{f' [{ident}]' if ident else ''}"


def cpu_id(cpuinfo: str | None = None) -> str | None:
    """The core's vendor, family, model and stepping from /proc/cpuinfo's text (this machine's when None; 'AMD family
    25 model 1 stepping 1'; Arm: implementer and part): 'AMD EPYC' alone names cores from Zen 1 to Zen 5, whose
    INT8/FP32 ratios differ."""
    fields: dict[str, str] = {}
    for line in ((read_text("/proc/cpuinfo") or "") if cpuinfo is None else cpuinfo).splitlines():
        if not line.strip():
            break   # the first processor's block is enough
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    vendor = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel", "HygonGenuine": "Hygon"}.get(
        fields.get("vendor_id", ""), fields.get("vendor_id"))
    if "cpu family" in fields and "model" in fields:
        step = f" stepping {fields['stepping']}" if "stepping" in fields else ""
        return f"{vendor or 'x86'} family {fields['cpu family']} model {fields['model']}{step}"
    if "cpu implementer" in fields and "cpu part" in fields:
        return f"Arm implementer {fields['cpu implementer']} part {fields['cpu part']}"
    return None


def cpu_int8_isa(cpuinfo: str | None = None) -> str:
    """The CPU's INT8 instruction sets as ONNX Runtime's MLAS uses them (an INT8/FP32 speed ratio depends on them
    more than on anything else): 'AVX-512 VNNI, AVX-VNNI, AMX', 'AVX2, no VNNI', ... (from /proc/cpuinfo's text,
    this machine's when None)."""
    text = read_text("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    return "instruction sets unknown" if text is None else int8_isa(text, _cpuid_hides_avx512())


def int8_isa(cpuinfo: str, avx512_hidden: bool) -> str:
    """`cpu_int8_isa` from the text of /proc/cpuinfo and whether this process's CPUID hides AVX-512 (a CPU that
    has AVX-VNNI but no AVX-512, e.g. Alder Lake, hides nothing)."""
    flags = next((ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("flags")), None)
    if flags is None:   # Arm (a Jetson, Graviton): 'Features', where MLAS's INT8 kernels use SDOT and SMMLA
        arm = next((ln.split(":", 1)[1].split() for ln in cpuinfo.splitlines() if ln.startswith("Features")), [])
        found = [name for flag, name in (("asimddp", "dot product (SDOT)"), ("i8mm", "I8MM")) if flag in arm]
        return ", ".join(found) if found else ("Arm, no dot product" if arm else "instruction sets unknown")
    vnni = [name for flag, name in (("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI"), ("amx_int8", "AMX"))
            if flag in flags]
    if vnni and "avx512f" in flags and avx512_hidden:
        return "AVX2, no VNNI (AVX-512, VNNI and AMX hidden from CPUID on a CPU that has them)"
    return ", ".join(vnni) if vnni else ("AVX2, no VNNI" if "avx2" in flags else "no AVX2")


def _cpuid_hides_avx512() -> bool:
    """True when this process's CPUID hides the AVX-512 /proc/cpuinfo lists (benchmarks/avx2_dispatch.sh): NumPy
    reads CPUID itself, as ONNX Runtime's MLAS does."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as seen
    except ImportError:
        return False
    return seen.get("AVX512F") is False
