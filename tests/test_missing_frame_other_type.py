"""A frame missing where the same frame lies in another image type (00000003.png among .jpg frames, or a LaSOT img/
converted to PNG) was named 'missing; re-download or re-extract this sequence', a download that changes nothing:
the error now names the file that is there and the conversion."""

from __future__ import annotations

from droptrack.data.sequence import missing_frame
from helpers import cli, img, one_line_error, text


def test_the_same_frame_in_another_type_is_named_with_the_conversion(tmp_path):
    frame = tmp_path / "img" / "00000003.jpg"
    img(tmp_path / "img" / "00000002.jpg")
    img(tmp_path / "img" / "00000003.png")
    assert str(missing_frame(frame)) == (
        f"frame {frame} is missing, but 00000003.png is there (the same frame in another image type); convert it to "
        ".jpg under the name 00000003.jpg (the frames are read by that name), or re-extract the sequence")
    jpeg = tmp_path / "img" / "00000004.jpg"
    img(tmp_path / "img" / "00000004.jpeg")
    assert "but 00000004.jpeg is there (the same frame in another image type)" in str(missing_frame(jpeg))
    lone = tmp_path / "img" / "00000005.jpg"   # nothing of that number: the plain wording
    img(tmp_path / "img" / "00000005_mask.png")
    assert str(missing_frame(lone)) == f"frame {lone} is missing; re-download or re-extract this sequence"


def test_dt_eval_names_a_png_among_the_jpg_frames_of_a_got10k_sequence(tmp_path):
    seq = tmp_path / "got10k" / "val" / "GOT-10k_Val_000001"
    for i in (1, 2, 4):
        img(seq / f"{i:08d}.jpg", size=(32, 24))
    img(seq / "00000003.png", size=(32, 24))
    text(seq / "groundtruth.txt", "4,4,8,8\n" * 4)
    text(seq.parent / "list.txt", seq.name + "\n")
    line = one_line_error(cli("eval", "--dataset", "got10k", "--root", tmp_path / "got10k", "--tracker", "kcf",
                              "-o", tmp_path / "out"))
    assert f"frame {seq / '00000003.jpg'} is missing, but 00000003.png is there (the same frame in another image " \
           "type); convert it to .jpg under the name 00000003.jpg" in line, line
