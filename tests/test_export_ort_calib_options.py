"""dt export --int8 --int8-target ort writes ONNX Runtime's dynamic INT8 graph (ranges per inference): a calibration
method or source given with it did nothing and is refused before any work, with the fix."""

from __future__ import annotations

import pytest

from droptrack.errors import ExportError
from droptrack.export.auto_precision import Int8Options, check_unused_int8_options
from droptrack.export.quantize import ORT_SETTINGS

pytestmark = pytest.mark.skipif(ORT_SETTINGS.mode != "dynamic", reason="ORT graph is calibrated in this build")


@pytest.mark.parametrize("calib, method, named", [(None, "entropy", "--calib-method"), ("photos", "minmax", "--calib")])
def test_ort_only_refuses_calibration_options(calib, method, named):
    with pytest.raises(ExportError, match="dynamic INT8 graph") as exc:
        check_unused_int8_options(["fp32", "int8"], calib, 32, Int8Options(method, ("ort",)))
    assert str(exc.value).startswith(named) and "add trt to --int8-target" in str(exc.value)


@pytest.mark.parametrize("targets", [("trt",), ("trt", "ort")])
def test_trt_target_takes_them(targets):
    check_unused_int8_options(["fp32", "int8"], "photos", 16, Int8Options("entropy", targets))


def test_ort_only_defaults_and_pair_count_pass():
    check_unused_int8_options(["fp32", "int8"], None, 8, Int8Options("minmax", ("ort",)))


def test_cli_refuses_before_writing(tmp_path):
    from helpers import cli, one_line_error

    out = tmp_path / "deploy"
    line = one_line_error(cli("export", "--int8", "--int8-target", "ort", "--calib-method", "percentile", "-o", out))
    assert "--calib-method" in line and not out.exists()
