"""`dt data synth --attributes ''` or `--attributes ,` (an empty shell variable) made a plain set without a word,
as if none had been asked for; it is refused in one line, as `dt eval --sequences ,` is."""

import pytest

from droptrack.errors import InputError
from droptrack.data.synth_hard import parse_attributes
from helpers import cli, one_line_error


@pytest.mark.parametrize("text", ["", ",", " , "])
def test_an_empty_attribute_list_is_refused(tmp_path, text):
    with pytest.raises(InputError):
        parse_attributes(text)
    line = one_line_error(cli("data", "synth", tmp_path / "set", "--attributes", text))
    assert "--attributes" in line
    assert not (tmp_path / "set").exists()


def test_none_is_still_a_plain_set():
    assert parse_attributes("none") == parse_attributes(" None ") == ()
