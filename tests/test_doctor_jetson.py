"""dt doctor on a Jetson: the power-mode advice names the MAXN mode of this module, read from nvpmodel.conf."""

from __future__ import annotations

from droptrack.board import maxn_mode
from droptrack.engine.doctor import environment_checks

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


def _board(tmp_path, release: str | None, model: str | None, conf: str | None):
    """A fake filesystem root with the files a Jetson has."""
    for rel, text in (("etc/nv_tegra_release", release), ("proc/device-tree/model", model),
                      ("etc/nvpmodel.conf", conf)):
        if text is not None:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    return tmp_path


def test_power_mode_read_from_nvpmodel_query_of_each_jetpack():
    """`nvpmodel -q` prints the mode name after 'NV Power Mode:' and its ID on the next line; JetPack 6 prints a
    fan-mode line first (the benchmark machine line used to record that first line, 'NV Fan Mode:quiet')."""
    from droptrack.board import power_mode

    assert power_mode("NV Fan Mode:quiet\nNV Power Mode: MAXN\n0\n") == ("MAXN", "0")
    assert power_mode("NV Power Mode: 15W\n1\n") == ("15W", "1")
    assert power_mode("NV Power Mode:MODE_30W_ALL\n") == ("MODE_30W_ALL", "")
    assert power_mode("nvpmodel: command failed\n") == ("", "")


def test_jetson_info_one_reader_for_doctor_and_benchmarks(tmp_path):
    """A Jetson's files (device-tree model NUL-terminated, as the kernel writes it) give one record that `dt doctor`
    advises from and every benchmark's machine line prints; any other machine gives {}."""
    from droptrack.board import jetson_info

    assert jetson_info(tmp_path / "none", query="") == {}
    root = _board(tmp_path, "# R36 (release), REVISION: 4.0, GCID: 1, BOARD: generic, EABI: aarch64\n",
                  "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\x00", MAXN_LAST)
    info = jetson_info(root, query="NV Fan Mode:quiet\nNV Power Mode: 15W\n0\n")
    assert info == {"l4t": "R36 (release), REVISION: 4.0, GCID: 1, BOARD: generic, EABI: aarch64",
                    "model": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
                    "power_mode": "15W", "power_mode_id": "0", "maxn_mode": "2"}
    [msg] = _power_warnings(info)
    assert "power mode is '15W'" in msg and "sudo nvpmodel -m 2;" in msg
    assert _power_warnings(jetson_info(root, query="NV Power Mode: MAXN_SUPER\n2\n")) == []
    no_conf = jetson_info(_board(tmp_path / "b", None, "NVIDIA Jetson AGX Orin\x00", None), query=None)
    assert no_conf["l4t"] == "unknown" and "maxn_mode" not in no_conf and no_conf["power_mode"].startswith("unknown")
