"""A checkpoint whose bytes changed in a transfer (a run of finite garbage inside one tensor's zip entry) loaded:
torch.load does not check the entries' CRCs, so dt doctor said "ok" and dt run tracked with the damaged weights
(NaN garbage was caught, finite garbage was not). The zip's own CRC check refuses it now, in one line."""

from __future__ import annotations

import shutil
import zipfile

from droptrack.model.default import default_checkpoint
from helpers import cli, one_line_error


def test_a_checkpoint_failing_its_crc_is_refused(tmp_path, video):
    bad = tmp_path / "m.pt"
    shutil.copyfile(default_checkpoint(), bad)
    with zipfile.ZipFile(bad) as z:
        entry = max(z.infolist(), key=lambda i: i.file_size)   # the largest tensor, stored uncompressed
    offset = entry.header_offset + 30 + len(entry.filename) + len(entry.extra) + 1000
    with open(bad, "r+b") as f:
        f.seek(offset)
        f.write(b"\x00\x00\x80\x3f" * 64)   # 1.0f: finite values, so no NaN check can see it
    for argv in (["doctor", bad], ["run", video, "-m", bad, "--init", "40,30,40,50", "-o", tmp_path / "b.txt"]):
        line = one_line_error(cli(*argv))
        assert line == (f"error: checkpoint '{bad}' is damaged: its entry '{entry.filename}' fails its CRC check "
                        "(changed in a transfer or on disk), so it was not read; download or copy it again"), line
    assert not (tmp_path / "b.txt").exists()
    assert cli("doctor", default_checkpoint()).exit_code == 0   # the intact file
