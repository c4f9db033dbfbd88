"""dt run and dt serve check the options they share in one function: the same bad input, the same first error."""

from __future__ import annotations

import pytest

from droptrack.errors import InputError
from droptrack.runtime.run import RunOptions, check_options

pytest.importorskip("fastapi", reason="dt serve needs the [web] extra")
from droptrack.serve.options import ServeOptions  # noqa: E402
from droptrack.serve.session import Session  # noqa: E402


def first_errors(**kw) -> tuple[str, str]:
    """The one-line error dt run and dt serve give for the same options."""
    with pytest.raises(InputError) as run_err:
        check_options(RunOptions(**kw), 1)
    with pytest.raises(InputError) as serve_err:
        Session(ServeOptions(**kw, device="cpu"))
    return str(run_err.value), str(serve_err.value)


@pytest.mark.parametrize("bad", [
    {"save": "x.gif", "artifact": "missing.pt"},                       # --save was checked before the model (serve)
    {"reconnect": -1, "jsonl": "/proc/no/such.jsonl"},                 # --reconnect before the outputs (serve)
    {"reconnect": -1, "artifact": "missing.pt"},
    {"save": "x.gif", "jsonl": "SOURCE"},                              # output paths before the container (run)
    {"output": "OUT_DIR", "save": "x.gif"},                            # a folder as --output: one message for both
    {"max_frames": 0, "lost_threshold": 2.0, "artifact": "missing.pt"},
    {"fps": 0.0, "save": "SOURCE"},
])
def test_the_same_bad_options_give_the_same_first_error(bad, video, tmp_path):
    """Session.__init__ and run.check_options ran the same checks in different orders (--save's container and
    --reconnect came before the model in dt serve, after the outputs in dt run), so one command line gave two
    different first errors; both now call one shared check."""
    subst = {"SOURCE": str(video), "OUT_DIR": str(tmp_path)}
    kw = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in bad.items()}
    run_msg, serve_msg = first_errors(source=str(video), **kw)
    assert run_msg == serve_msg and "\n" not in run_msg, (run_msg, serve_msg)
