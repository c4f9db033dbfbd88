"""Names and text from files of someone else that dt prints or turns into paths: a checkpoint's config name in
`dt doctor`'s lines (rich markup, terminal escape sequences), a GOT-10k list.txt naming folders outside its split.
(tests/test_untrusted_metadata.py: metadata values; tests/test_untrusted_files.py: code and external data.)"""

from __future__ import annotations

import torch

from helpers import cli

HOSTILE = "[link=http://evil.example]click[/link]\x1b]0;owned\x07\x1b[2J"


def test_doctor_prints_a_checkpoints_config_name_as_plain_escaped_text(tiny_ckpt, tmp_path):
    obj = torch.load(tiny_ckpt, weights_only=True)
    obj["config_name"] = HOSTILE
    torch.save(obj, tmp_path / "named.pt")
    r = cli("doctor", tmp_path / "named.pt")
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\x07" not in r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("ok: checkpoint "))
    # the markup is shown as the text it is, the escape sequences as \\xNN
    assert "[link=http://evil.example]click[/link]\\x1b]0;owned\\x07\\x1b[2J" in line, line

