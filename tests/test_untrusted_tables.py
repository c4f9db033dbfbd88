"""Result, time, annotation and label files from someone else that would take tens of times their size in memory
once split into numbers: a file larger than any benchmark sequence's table, or one line of a million numbers. Each
is refused in one line naming the file (and line) before it is split; real tables, LaSOT's one-line flag files
included, still read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from droptrack.data.labels import load_boxes, load_flags
from droptrack.errors import DatasetError, InputError
from droptrack.eval.attributes import parse_attribute_file
from droptrack.eval.results import find_result, read_result, read_times
from droptrack.textfiles import MAX_BYTES

READERS = [(read_result, InputError), (read_times, InputError), (load_boxes, DatasetError),
           (load_flags, DatasetError), (parse_attribute_file, InputError)]


def sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (all zero bytes)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.mark.parametrize("read,error", READERS)
def test_a_table_larger_than_any_sequence_is_refused_before_it_is_read(tmp_path, read, error):
    path = sparse(tmp_path / "seq.txt", MAX_BYTES + 1)
    with pytest.raises(error) as err:
        read(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: 32 MiB, larger than a table") and "\n" not in msg, msg


@pytest.mark.parametrize("read,error", READERS[:3])
def test_one_line_of_a_million_numbers_is_refused_before_it_is_split(tmp_path, read, error):
    path = tmp_path / "seq.txt"
    path.write_text("1\t2\t3\t4\n" + ",".join(["0"] * 1_000_000) + "\n")
    with pytest.raises(error) as err:
        read(path)
    assert f"{path}:2: a line of 1999999 characters" in str(err.value), str(err.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_in_a_result_folder_is_refused_without_reading_it(tmp_path):
    """find_result globs `<seq>/<seq>_NNN.txt` (GOT-10k repetitions) without asking for regular files; reading a pipe
    nobody writes would wait forever."""
    (tmp_path / "seq").mkdir()
    os.mkfifo(tmp_path / "seq" / "seq_001.txt")
    [path] = find_result(tmp_path, "seq")
    with pytest.raises(InputError, match="not a regular file"):
        read_result(path)


def test_real_tables_still_read(tmp_path):
    (tmp_path / "r.txt").write_text("1.5\t2\t30\t40\n" * 3)
    assert read_result(tmp_path / "r.txt").tolist() == [[1.5, 2.0, 30.0, 40.0]] * 3
    (tmp_path / "t.txt").write_text("0.010000\n0.020000\n")
    assert read_times(tmp_path / "t.txt").tolist() == [0.01, 0.02]
    flags = [i % 2 for i in range(20_000)]   # LaSOT: one comma-separated line for the whole sequence
    (tmp_path / "full_occlusion.txt").write_text(",".join(map(str, flags)))
    assert np.array_equal(load_flags(tmp_path / "full_occlusion.txt", 20_000), flags)


def test_got10k_list_and_meta_info_of_many_megabytes_are_refused_unread(tmp_path):
    from droptrack.data.got10k import _meta_info, sequence_names

    sparse(tmp_path / "list.txt", 40 << 20)
    with pytest.raises(DatasetError, match=r"list\.txt: 40 MiB, larger than a table"):
        sequence_names(tmp_path)
    sparse(tmp_path / "meta_info.ini", 40 << 20)
    with pytest.raises(DatasetError, match=r"meta_info\.ini: 40 MiB"):
        _meta_info(tmp_path / "meta_info.ini")


@pytest.mark.parametrize("text", ["0\n1\ninf\n", "0\n1e30\n", "0\nabsent\n"])
def test_got10k_labels_that_are_not_integers_are_one_line(tmp_path, text):
    """GOT-10k's absence/cover/cut_by_image.label hold one integer per line; 'inf' or a number beyond 64 bits was an
    OverflowError traceback from the dataset reader, and any non-number one from the attribute tags (ValueError)."""
    from droptrack.eval.attributes import derived_got10k

    (tmp_path / "absence.label").write_text(text)
    with pytest.raises(DatasetError, match=r"absence\.label: labels must be integers"):
        load_flags(tmp_path / "absence.label", 2)
    with pytest.raises(DatasetError, match=r"absence\.label: labels must be integers"):
        derived_got10k(tmp_path, np.array([[1.0, 1.0, 5.0, 5.0]] * 2))


def test_an_nfs_annotation_line_of_a_million_fields_is_refused_before_it_is_split(tmp_path):
    """NfS's official 30/<seq>.txt rows ('id xmin ymin xmax ymax frame lost occluded generated label') are checked
    like every other box table: a line longer than a row can be is one line naming it, not split into a million
    strings."""
    from droptrack.data.nfs_tnl2k import _nfs_official_boxes

    path = tmp_path / "Gymnastics.txt"
    path.write_text('1 10 20 50 80 1 0 0 0 "person"\n' + "0 " * 600_000 + "\n")
    with pytest.raises(DatasetError, match=r"Gymnastics\.txt:2: a line of 1200000 characters"):
        _nfs_official_boxes(path)
    path.write_text('1 10 20 50 80 1 0 0 0 "person"\n')
    assert _nfs_official_boxes(path).tolist() == [[10.0, 20.0, 40.0, 60.0]]
