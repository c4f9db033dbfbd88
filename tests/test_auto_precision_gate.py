"""`dt export --int8 --auto-precision` whose search finds no kept set within --max-divergence wrote its graph, said
'GATE NOT REACHED' in a note and exited 0, so a script deployed that graph; the graph is still written (to inspect, as
dt bench writes its report), and the export now ends with one error line and exit 1, as a failed dt bench gate."""

from __future__ import annotations

from droptrack.export import auto_precision
from helpers import cli


def test_a_search_that_misses_its_limit_exits_1_after_writing_the_graph(tiny_ckpt, tmp_path, monkeypatch):
    real = auto_precision.search_recipe

    def missed(*args, **kwargs):   # the real search, its verdict turned: the last group alone breaks the limit
        recipe, search = real(*args, **kwargs)
        search.passed = False
        return recipe, search

    monkeypatch.setattr(auto_precision, "search_recipe", missed)   # imported where it is called
    out = tmp_path / "export"
    r = cli("export", tiny_ckpt, "--int8", "--int8-target", "ort", "--auto-precision", "--val-sequences", 4,
            "--val-frames", 3, "--max-divergence", 0.25, "--group-by", "kind", "-o", out)
    assert r.exit_code == 1, r.output
    assert "GATE NOT REACHED" in r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: --auto-precision (ort): no kept set met --max-divergence 25.0% (") and \
        "with the one written, model_int8_ort.onnx); raise --max-divergence" in last, last
    assert (out / "model_int8_ort.onnx").is_file() and (out / "auto_precision_ort.json").is_file()
    assert "next:" not in r.output   # no next command for a graph that missed its gate
