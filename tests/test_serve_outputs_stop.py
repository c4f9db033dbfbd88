"""dt serve stopped before its tracking thread started (a signal while its app was made): its outputs are closed as
at any stop, none left as NAME.part."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.server import serve  # noqa: E402


def test_a_signal_before_the_tracking_thread_starts_closes_the_outputs(tiny_ckpt, video, tmp_path, monkeypatch):
    """A signal between the session's setup (its outputs opened) and its thread's start (the app being made): the
    stop released the locks but closed nothing, leaving an empty x.jsonl.part (6 of 6 tries with SIGHUP, SIGTERM and
    SIGINT in a helper's runs). The outputs are closed as at any stop."""
    import droptrack.serve.app

    def interrupted(*args, **kwargs):   # Ctrl-C while the app is made, before session.start()
        raise KeyboardInterrupt

    monkeypatch.setattr(droptrack.serve.app, "create_app", interrupted)
    opts = ServeOptions(str(video), artifact=str(tiny_ckpt), device="cpu", jsonl=str(tmp_path / "x.jsonl"))
    with pytest.raises(KeyboardInterrupt):
        serve(opts, port=0, echo=lambda line: None)
    assert not (tmp_path / "x.jsonl.part").exists(), sorted(p.name for p in tmp_path.iterdir())
    assert not (tmp_path / ".x.jsonl.lock").exists()
