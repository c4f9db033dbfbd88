"""`dt data synth --overwrite` over a set of longer sequences (or another --ext) left the old set's frames beside the
new ones: a sequence folder whose frame count disagrees with its groundtruth.txt, or each frame in two formats."""

from droptrack.data.synth import generate_synth


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_overwrite_leaves_exactly_the_new_sets_files(tmp_path):
    out = tmp_path / "set"
    generate_synth(out, 1, 6, seed=1, size=(96, 64))
    generate_synth(out, 1, 3, seed=1, size=(96, 64), ext="png", overwrite=True)
    fresh = generate_synth(tmp_path / "fresh", 1, 3, seed=1, size=(96, 64), ext="png")
    assert sorted(p.name for p in (out / "synth_train_00001").glob("0*")) == [
        "00000001.png", "00000002.png", "00000003.png"]
    assert _files(out) == _files(fresh)


def test_overwrite_refuses_to_remove_a_users_file_inside_a_sequence_folder(tmp_path):
    import pytest

    from droptrack.errors import InputError

    out = tmp_path / "set"      # --overwrite removed synth_train_00003 whole, with the note in it
    generate_synth(out, 3, 3, seed=1, size=(96, 64))
    (out / "notes.txt").write_text("keep")
    (out / "synth_train_00003" / "mynote.txt").write_text("keep")
    before = _files(out)
    with pytest.raises(InputError, match="synth_train_00003' holds 'mynote.txt', which dt data synth did not write"):
        generate_synth(out, 2, 3, seed=1, size=(96, 64), overwrite=True)
    assert _files(out) == before
    (out / "synth_train_00003" / "mynote.txt").unlink()
    generate_synth(out, 2, 3, seed=1, size=(96, 64), overwrite=True)   # the set's own files only: replaced
    assert (out / "notes.txt").read_text() == "keep" and not (out / "synth_train_00003").exists()


def test_a_set_inside_another_set_or_a_sequence_is_refused(tmp_path):
    import pytest

    from droptrack.errors import InputError

    outer = generate_synth(tmp_path / "outer", 1, 3, seed=1, size=(96, 64))
    for inner in (outer / "sub", outer / "synth_train_00001" / "new"):   # both were written, exit 0
        with pytest.raises(InputError, match=rf"OUT '{inner}' is inside the dataset folder"):
            generate_synth(inner, 1, 3, seed=1, size=(96, 64))
        assert not inner.exists()
    generate_synth(outer, 1, 3, seed=1, size=(96, 64))   # the set itself, again: kept as it is
