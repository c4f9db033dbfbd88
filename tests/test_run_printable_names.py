"""`dt run`'s closing notes name frames of the source folder (damaged ones, with the decoder's words) and the paths
it wrote: a name holding control characters reached the terminal raw (an escape sequence that clears the screen or
recolours it, a newline that splits the warning); it is escaped now, as in every error line."""

from __future__ import annotations

import cv2

from droptrack.data.media import photo_dir
from helpers import cli

ESC = "\x1b[2J"   # clears the screen


def test_a_damaged_frame_named_with_an_escape_sequence_is_named_escaped(tiny_ckpt, tmp_path):
    photo = cv2.imread(str(photo_dir() / "astronaut.png"))
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(3):
        data = cv2.imencode(".jpg", photo[4 * i:4 * i + 96, 4 * i:4 * i + 128])[1].tobytes()
        if i == 1:   # three stray bytes before the quantisation table: libjpeg's 'Corrupt JPEG data', decodes anyway
            at = data.index(b"\xff\xdb")
            data = data[:at] + b"\x01\x02\x03" + data[at:]
        (folder / f"{i:04d}{ESC if i == 1 else ''}.jpg").write_bytes(data)
    out = tmp_path / "b\x1b[31m.txt"
    res = cli("run", folder, "-m", tiny_ckpt, "--device", "cpu", "--init", "20,20,30,30", "--output", out)
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output, res.output
    warned = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "0001\\x1b[2J.jpg" in warned[0], res.output
    assert f"boxes: {tmp_path}/b\\x1b[31m.txt" in res.output.splitlines(), res.output
    assert len(out.read_text().splitlines()) == 3
