"""dt doctor on a Jetson: the power-mode advice names the MAXN mode of this module, read from nvpmodel.conf."""

from __future__ import annotations

from droptrack.engine.doctor import environment_checks, maxn_mode

# the layout of /etc/nvpmodel.conf: one `< POWER_MODEL ID=N NAME=X >` header per mode, then its settings
NO_MAXN = """< PARAM TYPE=FILE NAME=CPU_ONLINE >
< POWER_MODEL ID=0 NAME=15W >
CPU_ONLINE CORE_0 1
< POWER_MODEL ID=1 NAME=7W >
CPU_ONLINE CORE_0 1
< PM_CONFIG DEFAULT=0 >
"""
MAXN_LAST = NO_MAXN.replace("< PM_CONFIG", "< POWER_MODEL ID=2 NAME=MAXN_SUPER >\nCPU_ONLINE CORE_0 1\n< PM_CONFIG")


def _power_warnings(jetson: dict) -> list[str]:
    env = {"omp_num_threads": "", "usable_cores": 4, "onnxruntime": "1.20", "jetson": jetson}
    return [c.message for c in environment_checks(env) if "power mode" in c.message]


def test_maxn_mode_id_comes_from_the_conf():
    assert maxn_mode(NO_MAXN) == ""
    assert maxn_mode(MAXN_LAST) == "2"
    assert maxn_mode("< POWER_MODEL ID=0 NAME=MAXN >\n< POWER_MODEL ID=1 NAME=MODE_15W >\n") == "0"


def test_power_mode_advice_names_this_modules_maxn_id():
    """The warning said `sudo nvpmodel -m 0` on every Jetson, but mode IDs differ by module: on a module whose
    MAXN is mode 2, mode 0 is a lower-power mode, and a module without MAXN was warned forever."""
    jet = {"l4t": "R36 (release), REVISION: 4.0", "power_mode": "NV Power Mode: 15W 0"}
    [msg] = _power_warnings({**jet, "maxn_mode": maxn_mode(MAXN_LAST)})
    assert "sudo nvpmodel -m 2;" in msg and "-m 0" not in msg
    assert _power_warnings({**jet, "maxn_mode": maxn_mode(NO_MAXN)}) == []
    assert _power_warnings({**jet, "power_mode": "NV Power Mode: MAXN_SUPER 2", "maxn_mode": "2"}) == []
    [unknown] = _power_warnings(jet)   # nvpmodel.conf unreadable: point at it rather than guess an ID
    assert "/etc/nvpmodel.conf" in unknown


def test_jetpack_6_0_tensorrt_is_refused_with_the_upgrade_that_fixes_it(monkeypatch):
    """JetPack 6.0 ships TensorRT 8.6, which droptrack cannot build with (name-based API, strong typing need 10):
    the reason said only 'not supported', not what to install."""
    import sys
    from types import SimpleNamespace

    from droptrack.engine import trt_compat

    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="8.6.2"))
    reason = trt_compat.unavailable_reason()
    assert reason.startswith("TensorRT 8.6.2 is not supported") and "JetPack 6.1" in reason
