"""A resume refused for --max-iters or --freeze-bn names them as a user passes them: it read 'trained with --max-iters
None, this run has 1' and 'trained with --freeze-bn False, this run has True', with no option to fix it by."""

from __future__ import annotations

from tests.helpers import cli, one_line_error

QUICK = ["--config", "tiny_ce_test", "--epochs", "2", "--samples-per-epoch", "8", "--batch-size", "4", "--workers",
         "0", "--device", "cpu", "--threads", "1", "--stop-after", "1"]


def test_refused_resume_names_a_switch_and_max_iters_as_options(tmp_path, synth):
    plain, capped = tmp_path / "plain", tmp_path / "capped"
    for out, more in ((plain, []), (capped, ["--max-iters", "1", "--freeze-bn"])):
        assert cli("train", *QUICK, "--data", synth, "--output", out, *more).exit_code == 0
    line = " ".join(one_line_error(cli("train", *QUICK, "--data", synth, "--output", plain, "--resume",
                                       "--max-iters", "1")).split())
    assert "trained with --max-iters (none), this run has 1;" in line and "(here: drop --max-iters;" in line, line
    line = " ".join(one_line_error(cli("train", *QUICK, "--data", synth, "--output", plain, "--resume",
                                       "--freeze-bn", "--seed", "3")).split())
    assert "trained with --seed 42, this run has 3;" in line, line
    assert "(here: --seed 42 and drop --freeze-bn;" in line, line
    line = " ".join(one_line_error(cli("train", *QUICK, "--data", synth, "--output", capped, "--resume")).split())
    assert "trained with --max-iters 1, this run has (none);" in line and "(here: --max-iters 1 --freeze-bn;" in line, \
        line
