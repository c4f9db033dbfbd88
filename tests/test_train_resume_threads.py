"""A CPU run resumed with another torch thread count than its checkpoint's (--threads; by default the machine's
cores) is not bit-exact: its float sums differ in the last bits. It went on silently while the docs promise a
bit-exact resume; now it says so and names the --threads that is."""

from __future__ import annotations

import torch

from droptrack.train.trainer import TrainOptions, train


def test_resume_with_another_thread_count_says_it_is_not_bit_exact(tmp_path, synth, capsys):
    def opts(threads: int, **kw) -> TrainOptions:
        return TrainOptions(config="tiny_ce_test", output=tmp_path / "out", data=[str(synth)], epochs=1, batch_size=4,
                            samples_per_epoch=16, workers=0, seed=3, device="cpu", threads=threads, **kw)

    before = torch.get_num_threads()
    try:
        train(opts(1, stop_after=1))
        assert torch.load(tmp_path / "out" / "last.pt", weights_only=True)["options"]["cpu_threads"] == 1
        train(opts(1, stop_after=2, resume=True))   # the same count: nothing said
        assert "bit-exactly" not in capsys.readouterr().err
        train(opts(2, resume=True))
    finally:
        torch.set_num_threads(before)
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: this run trains with 2 CPU threads and the checkpoint's with 1" in err, err
    assert "pass --threads 1" in err, err
