"""`dt export --int8 --calib photos` printed 'libpng warning: iCCP: profile 'ICC Profile': 1000000h: invalid rendering
intent' on stderr: libpng's note about a bundled scikit-image photo's colour profile, which says nothing about the
export (OpenCV decodes it fine). The photos are now decoded as dataset frames are, with the decoder's lines kept off
the terminal (droptrack.decodelog)."""

from __future__ import annotations

import pytest

from droptrack.export.calibration import CALIB_PHOTOS
from droptrack.export.pairs import load_photo

pytestmark = pytest.mark.usefixtures("one_thread")


def test_calibration_photos_decode_without_library_lines(capfd):
    for name in CALIB_PHOTOS:
        assert load_photo(name).ndim == 3
    err = capfd.readouterr().err
    assert "libpng" not in err and "iCCP" not in err, err
