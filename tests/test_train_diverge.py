"""A run that diverges (NaN boxes from the network, as official OSTrack stops on; NaN weights never saved) ends with
one line naming the last good checkpoint only where one was written, and a way on that `--resume` (which refuses
another TRAIN.LR) would not refuse; and training runs with the official cuDNN flags, so a resume repeats a run."""

from __future__ import annotations

import torch

from helpers import cli

TINY = ["--batch-size", "4", "--samples-per-epoch", "8", "--workers", "0", "--device", "cpu", "--epochs", "2"]


def nan_after(monkeypatch, good_calls: int) -> None:
    """The network's boxes turn NaN after `good_calls` forward passes (2 per epoch here)."""
    from droptrack.model.ostrack import OSTrack

    real, calls = OSTrack.forward, []

    def forward(self, *args, **kw):
        out = real(self, *args, **kw)
        calls.append(1)
        if len(calls) > good_calls:
            out["pred_boxes"] = out["pred_boxes"] * float("nan")
        return out

    monkeypatch.setattr(OSTrack, "forward", forward)


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, (result.exception, result.output)
    return lines[-1]


def test_nan_boxes_after_a_checkpoint_name_it_and_how_to_go_on(tmp_path, synth, monkeypatch):
    nan_after(monkeypatch, 2)
    out = tmp_path / "run"
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY))
    assert line == (f"error: the network outputs NaN boxes at epoch 2 iteration 1; the last good checkpoint is "
                    f"{out / 'last.pt'}; lower TRAIN.LR (or check the data) and start again; or keep its weights: "
                    f"--pretrained {out / 'last.pt'} with another --output"), line
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 1


def test_nan_boxes_before_any_checkpoint_name_none(tmp_path, synth, monkeypatch):
    nan_after(monkeypatch, 0)
    out = tmp_path / "run"
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY))
    assert line == ("error: the network outputs NaN boxes at epoch 1 iteration 1; no checkpoint was written yet; "
                    "lower TRAIN.LR (or check the data) and start again"), line
    assert not (out / "last.pt").exists()


def test_nan_weights_at_an_epoch_end_are_not_saved_over_the_good_checkpoint(tmp_path, synth, monkeypatch):
    """Infinite gradients of the epoch's last step turn the weights NaN (clipping multiplies them by 0) while that
    step's loss was finite: the epoch-end save wrote them as last.pt and final.pt, exit 0. Now the run stops, naming
    the tensor, and last.pt stays the good epoch 1."""
    real, calls = torch.nn.utils.clip_grad_norm_, []

    def clip(params, max_norm, *args, **kw):
        params = list(params)
        calls.append(1)
        if len(calls) == 4:   # epoch 2, iteration 2 (the last)
            for p in params:
                if p.grad is not None:
                    p.grad.fill_(float("inf"))
        return real(params, max_norm, *args, **kw)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    out = tmp_path / "run"
    line = error_line(cli("train", "-c", "tiny_ce_test", "-o", out, "--data", synth, *TINY))
    assert line.startswith("error: the weights hold NaN/Inf (") and " at epoch 2 iteration 2; " in line, line
    assert f"the last good checkpoint is {out / 'last.pt'}; " in line, line
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["epoch"] == 1 and all(v.isfinite().all() for v in last["net"].values() if v.is_floating_point())
    assert not (out / "final.pt").exists() and not (out / "checkpoint_ep0002.pt").exists()


def test_training_runs_with_the_official_cudnn_flags_and_puts_them_back(tmp_path, synth, monkeypatch):
    """The official trainer sets cuDNN deterministic and turns its autotuner off (ostrack_spec.md 5.4): without them
    a resumed GPU run does not repeat the uninterrupted one. Seen from inside the forward pass; restored after."""
    from droptrack.model.ostrack import OSTrack

    real, seen = OSTrack.forward, []

    def forward(self, *args, **kw):
        seen.append((torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark))
        return real(self, *args, **kw)

    monkeypatch.setattr(OSTrack, "forward", forward)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    result = cli("train", "-c", "tiny_ce_test", "-o", tmp_path / "run", "--data", synth, *TINY)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {(True, False)}, seen
    assert (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) == (False, True)
