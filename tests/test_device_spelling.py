"""--device on the command line takes the same spellings as the Python API's device= (any case, cpu:0)."""
import pytest

from droptrack.errors import BackendError, InputError
from droptrack.runtime.inputs import check_device
from droptrack.runtime.run import resolve_device

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("spelling", ["CPU", "Cpu", " cpu ", "cpu:0"])
def test_cli_takes_cpu_in_any_case(spelling):
    assert resolve_device(spelling, None) == "cpu" == check_device(spelling)


@pytest.mark.parametrize("spelling", ["CUDA", "Cuda:1"])
def test_cli_takes_cuda_in_any_case(spelling):
    if torch.cuda.is_available():
        assert resolve_device(spelling, None) == spelling.lower()
    else:   # accepted as a spelling: the refusal is about the machine, not the word
        with pytest.raises(BackendError, match="CUDA is not available here"):
            resolve_device(spelling, None)


@pytest.mark.parametrize("spelling", ["gpu", "cuda0", "cpu:1", "CUDA:x"])
def test_cli_and_api_refuse_the_same_words(spelling):
    with pytest.raises(InputError, match=f"--device '{spelling}' is not cpu or cuda"):
        resolve_device(spelling, None)
    with pytest.raises(InputError, match="is not supported"):
        check_device(spelling)


@pytest.mark.parametrize("spelling, expected", [("CPU", "cpu"), (" Cuda:1 ", "cuda:1"), ("AUTO", "auto")])
def test_dt_train_takes_the_same_spellings(tmp_path, spelling, expected):
    """dt train refused --device CUDA, which dt run / eval / bench / serve and the Python API take."""
    from droptrack.train.options import TrainOptions, check_options

    opts = TrainOptions(config="tiny_ce_test", output=tmp_path / "out", device=spelling)
    check_options(opts)
    assert opts.device == expected
