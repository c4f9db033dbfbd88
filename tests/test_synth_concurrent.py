"""Two `dt data synth` runs into one folder at once interleaved their sequences (other seeds, sizes), and the last to
finish wrote a synth.json that vouched for all of them; a second run is now refused while the first writes."""

import json

from droptrack.data import synth
from droptrack.data.synth import generate_synth
from droptrack.errors import InputError


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, monkeypatch):
    out, real, tried, refused = tmp_path / "set", synth._write_sequence, [], []

    def write_while_another_starts(folder, seq, ext, *progress):
        real(folder, seq, ext, *progress)
        if not tried:
            tried.append(1)
            try:
                generate_synth(out, 2, 3, seed=9, size=(96, 64))
            except InputError as exc:
                refused.append(str(exc))

    monkeypatch.setattr(synth, "_write_sequence", write_while_another_starts)
    generate_synth(out, 2, 3, seed=1, size=(96, 64))
    monkeypatch.setattr(synth, "_write_sequence", real)
    assert refused and "another dt data synth is writing" in refused[0] and "\n" not in refused[0]
    assert json.loads((out / "synth.json").read_text())["seed"] == 1
    fresh = generate_synth(tmp_path / "fresh", 2, 3, seed=1, size=(96, 64))
    ours = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert ours == {p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*") if p.is_file()}
