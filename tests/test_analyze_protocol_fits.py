"""`dt analyze --protocol` with another benchmark's scoring: the GOT-10k toolkit's AO/SR on OTB, LaSOT or UAV123 (or
the TrackingNet devkit's scores on them or on GOT-10k) gave numbers no benchmark publishes (LaSOT and UAV123 scored
AO without a word; OTB without its images failed on 'frame .../img/0006.jpg is missing'). Such a protocol is now
refused in one line naming the dataset's own, before its sequences are read and before any report is written; the
OPE analyses, which fit every dataset, still score."""

from __future__ import annotations

from pathlib import Path

from helpers import cli, img, one_line_error, text

BOX = "1,2,5,6\n"


def _datasets(tmp_path: Path) -> dict[str, tuple[Path, Path, str]]:
    """dataset -> (root, result folder, sequence) of one small set in its official layout, with a perfect result."""
    otb, uav, lasot, got = (tmp_path / n for n in ("otb", "uav", "lasot", "got10k"))
    text(otb / "Biker" / "groundtruth_rect.txt", BOX * 3)
    text(uav / "anno" / "UAV123" / "car1_s.txt", BOX * 3)
    seq = lasot / "airplane" / "airplane-1"
    for i in range(1, 4):
        img(seq / "img" / f"{i:08d}.jpg")
    text(seq / "groundtruth.txt", BOX * 3)
    text(seq / "full_occlusion.txt", "0,0,0")
    text(seq / "out_of_view.txt", "0,0,0")
    for i in range(1, 4):
        img(got / "val" / "GOT-10k_Val_000001" / f"{i:08d}.jpg")
    text(got / "val" / "GOT-10k_Val_000001" / "groundtruth.txt", BOX * 3)
    text(got / "val" / "list.txt", "GOT-10k_Val_000001\n")
    out = {}
    for name, root, seq_name in (("otb", otb, "Biker"), ("uav", uav, "uav_car1_s"), ("lasot", lasot, "airplane-1"),
                                 ("got10k_val", got, "GOT-10k_Val_000001")):
        text(tmp_path / "res" / name / f"{seq_name}.txt", "1\t2\t5\t6\n" * 3)
        out[name] = (root, tmp_path / "res" / name, seq_name)
    return out


def _analyze(tmp_path: Path, dataset: str, roots: dict, protocol: str):
    root, res, seq = roots[dataset]
    return cli("analyze", res, "--dataset", dataset, "--root", root, "--sequences", seq, "--protocol", protocol,
               "-o", tmp_path / "an" / dataset / protocol)


def test_another_benchmarks_protocol_is_refused_naming_the_datasets_own(tmp_path):
    roots = _datasets(tmp_path)
    for dataset in ("otb", "uav", "lasot"):
        line = one_line_error(_analyze(tmp_path, dataset, roots, "got10k-toolkit"))
        assert line == (f"error: --protocol got10k-toolkit computes GOT-10k's AO and SR (the GOT-10k toolkit), not "
                        f"{dataset}'s scores; drop --protocol for {dataset}'s own ostrack-ope (OSTrack's analysis), "
                        "or pass --protocol pytracking-ope")
        line = one_line_error(_analyze(tmp_path, dataset, roots, "trackingnet-devkit"))
        assert line.startswith("error: --protocol trackingnet-devkit computes TrackingNet's success, precision and "
                               f"coverage (the TrackingNet devkit), not {dataset}'s scores; drop --protocol for "
                               f"{dataset}'s own ostrack-ope")
        ok = _analyze(tmp_path, dataset, roots, "pytracking-ope")
        assert ok.exit_code == 0, ok.output
        assert (tmp_path / "an" / dataset / "pytracking-ope" / "report.json").is_file()
    line = one_line_error(_analyze(tmp_path, "got10k_val", roots, "trackingnet-devkit"))
    assert line.endswith("not got10k_val's scores; drop --protocol for got10k_val's own got10k-toolkit (the GOT-10k "
                         "toolkit), or pass --protocol ostrack-ope or pytracking-ope")
    ok = _analyze(tmp_path, "got10k_val", roots, "got10k-toolkit")
    assert ok.exit_code == 0, ok.output
    written = sorted(p.relative_to(tmp_path / "an") for p in (tmp_path / "an").rglob("report.json"))
    assert [str(p.parent) for p in written] == ["got10k_val/got10k-toolkit", "lasot/pytracking-ope",
                                                "otb/pytracking-ope", "uav/pytracking-ope"]
