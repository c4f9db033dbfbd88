"""errors.cut: a long value from elsewhere is cut in its middle, so that a long path still ends with its file name."""

from droptrack.errors import cut


def test_short_text_is_kept_whole():
    assert cut("abc", 5) == "abc" and cut("abcde", 5) == "abcde"


def test_a_long_path_keeps_its_head_and_its_file_name():
    text = "/tmp/" + "x" * 100 + "/secret.bin"
    out = cut(text, 30)
    # hand-computed: 30 - 3 = 27 characters kept, 13 from the end and 14 from the start
    assert out == "/tmp/xxxxxxxxx" + "..." + "x/secret.bin".rjust(13, "x")
    assert len(out) == 30 and out.endswith("/secret.bin")
