"""What to do after a stopped `dt train` (the checkpoint to --resume from), without importing torch: `dt train
--nproc`'s launcher says it for a Ctrl-C that comes while it is still importing torch."""

from __future__ import annotations

import re
import signal
from pathlib import Path

EPOCH_FILE = re.compile(r"^checkpoint_ep(\d+)\.pt$")


def resume_candidates(output: Path) -> list[Path]:
    """last.pt, then the epoch checkpoints newest first."""
    epochs = sorted((p for p in output.glob("checkpoint_ep*.pt") if EPOCH_FILE.match(p.name)),
                    key=lambda p: int(EPOCH_FILE.match(p.name).group(1)), reverse=True)
    last = output / "last.pt"
    return ([last] if last.exists() else []) + epochs


def resume_hint(output: Path) -> str:
    """What to do after an interrupted `dt train`: --resume from the newest checkpoint in `output`, or start again."""
    found = resume_candidates(Path(output))
    if not found:
        return "no checkpoint was written yet; run the same command again to start over"
    return (f"run the same command with --resume to continue from {found[0]} (saved at each epoch's end, at the "
            "iteration a stop signal or Ctrl-C ended, and every N iterations with --save-interval N)")


def stop_line(signum: int, output: Path | None) -> str:
    """What a `dt train` stopped by `signum` says (one process, or --nproc's launcher once its ranks are gone): what
    stopped it, and `resume_hint` for its --output (None: not known, only to --resume). Not escaped: the caller
    passes it through `printable`."""
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    return f"{what}; {resume_hint(output) if output is not None else 'run the same command with --resume'}"
