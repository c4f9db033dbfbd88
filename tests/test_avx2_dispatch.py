"""benchmarks/avx2_dispatch.sh: CPUID hides AVX-512 / VNNI / AMX from a process, and the INT8 benchmark says so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = (Path("/proc/cpuinfo").read_text().split("flags", 1)[-1].split("\n", 1)[0].split()
         if Path("/proc/cpuinfo").is_file() else [])
needs = pytest.mark.skipif("cpuid_fault" not in FLAGS or "avx512f" not in FLAGS or shutil.which("cc") is None,
                           reason="needs an AVX-512 CPU with CPUID faulting and a C compiler")

PROBE = ("from numpy._core._multiarray_umath import __cpu_features__ as f; "
         "from droptrack.cpu import cpu_int8_isa; "
         "print(f['AVX2'], f['FMA3'], f['AVX512F'], f['AVX512VNNI'], '|', cpu_int8_isa())")


def _probe(wrapped: bool) -> str:
    cmd = [sys.executable, "-c", PROBE]
    if wrapped:
        cmd = ["bash", str(ROOT / "benchmarks" / "avx2_dispatch.sh"), *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs
def test_cpuid_hides_avx512_and_vnni_only_under_the_wrapper() -> None:
    plain, masked = _probe(False), _probe(True)
    assert plain.startswith("True True True True |") and "hidden" not in plain
    assert masked.startswith("True True False False |")   # AVX2 and FMA stay, AVX-512 and VNNI go
    assert "AVX2, no VNNI (AVX-512, VNNI and AMX hidden from CPUID" in masked


def test_wrapper_without_a_command_is_one_line_exit_2() -> None:
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "avx2_dispatch.sh")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "usage" in done.stderr


# /proc/cpuinfo flag lines as the kernel prints them (abridged): an Alder Lake core has AVX-VNNI and no AVX-512,
# so NumPy's AVX512F is False there without anything being hidden
ALDER_LAKE = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma avx_vnni sha_ni\n"
SAPPHIRE_RAPIDS = "flags\t\t: avx2 avx512f avx512bw avx512_vnni avx_vnni amx_tile amx_int8\n"


def test_avx_vnni_without_avx512_is_not_called_hidden() -> None:
    from droptrack.cpu import int8_isa

    assert int8_isa(ALDER_LAKE, avx512_hidden=True) == "AVX-VNNI"
    assert int8_isa(ALDER_LAKE, avx512_hidden=False) == "AVX-VNNI"
    assert int8_isa(SAPPHIRE_RAPIDS, avx512_hidden=False) == "AVX-512 VNNI, AVX-VNNI, AMX"
    assert int8_isa(SAPPHIRE_RAPIDS, avx512_hidden=True).startswith("AVX2, no VNNI (AVX-512, VNNI and AMX hidden")


def test_arm_cpus_are_named_by_their_int8_dot_product_instructions() -> None:
    """Arm's /proc/cpuinfo has a 'Features' line and no 'flags': a Jetson Orin (Cortex-A78AE) is not 'no AVX2'."""
    from droptrack.cpu import int8_isa

    orin = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimdrdm lrcpc asimddp\n"
    graviton3 = "Features\t: fp asimd asimddp sve i8mm bf16 svei8mm\n"
    nano = "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"   # Cortex-A57: no SDOT
    assert int8_isa(orin, avx512_hidden=False) == "dot product (SDOT)"
    assert int8_isa(graviton3, avx512_hidden=False) == "dot product (SDOT), I8MM"
    assert int8_isa(nano, avx512_hidden=False) == "Arm, no dot product"
    assert int8_isa("processor\t: 0\n", avx512_hidden=False) == "instruction sets unknown"


def test_cpu_id_names_family_model_and_stepping_of_the_first_core() -> None:
    """'AMD EPYC' is every EPYC from Zen 1 to Zen 5; the INT8 tables need the core (family 25 model 1 = Zen 3)."""
    from droptrack.cpu import cpu_id

    milan = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
             "stepping\t: 1\nflags\t\t: avx2\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\n"
             "model\t\t: 49\n")
    assert cpu_id(milan) == "AMD family 25 model 1 stepping 1"   # the second block (another core) is not read
    xeon = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Intel(R) Xeon(R)\n"
    assert cpu_id(xeon) == "Intel family 6 model 143"
    orin = "processor\t: 0\nBogoMIPS\t: 62.50\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd42\n"
    assert cpu_id(orin) == "Arm implementer 0x41 part 0xd42"
    assert cpu_id("") is None and cpu_id("processor\t: 0\n") is None


def test_machine_line_carries_the_cpu_id() -> None:
    from droptrack.eval.machine import machine_line

    m = {"cpu": "AMD EPYC", "cpu_id": "AMD family 25 model 1 stepping 1", "usable_cores": 2, "versions": {}}
    assert machine_line(m).startswith("AMD EPYC [AMD family 25 model 1 stepping 1] (2 cores)")
    assert machine_line({"cpu": "AMD EPYC", "usable_cores": 2, "versions": {}}).startswith("AMD EPYC (2 cores)")


def test_dt_doctor_names_the_cpu_and_its_int8_instruction_sets():
    """dt doctor shows what an INT8 speed-up on the CPU depends on: the core (model name, family / model) and VNNI."""
    from droptrack.engine.doctor import environment

    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), None)
    if flags is None:
        pytest.skip("no x86 /proc/cpuinfo here")
    env = environment()
    name = next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name"))
    family = next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("cpu family"))
    assert env["cpu"].startswith(name) and f"family {family} model " in env["cpu"]
    if "avx2" in flags and not {"avx512_vnni", "avx_vnni"} & set(flags):
        assert env["cpu_int8"] == "AVX2, no VNNI"
    elif "avx512_vnni" in flags and "AVX2, no VNNI" not in env["cpu_int8"]:   # not under avx2_dispatch.sh
        assert "AVX-512 VNNI" in env["cpu_int8"]
