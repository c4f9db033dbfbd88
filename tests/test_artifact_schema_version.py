"""An exported model's metadata records `schema_version`, which nothing read: a graph from a newer droptrack (metadata
this one may misread) ran as if current. It is now refused in one line naming the version and the fix; metadata
without the field (older exports) is the oldest schema and loads as before."""

from __future__ import annotations

import pytest

from droptrack.artifact import ArtifactMeta
from droptrack.config import load_config, meta_from_config
from droptrack.errors import MetadataError
from helpers import cli, identity_graph


def onnx_with_schema(path, version):
    """An Identity graph with the tracker's inputs and outputs and droptrack metadata of `schema_version` (None:
    without the field)."""
    import onnx as ox

    meta = meta_from_config(load_config("tiny_ce_test"))
    model = identity_graph(meta)
    for k, v in meta.to_strings().items():
        if k == "droptrack.schema_version":
            if version is None:
                continue
            v = str(version)
        model.metadata_props.add(key=k, value=v)
    ox.save(model, path)
    return path


def test_the_current_schema_is_1():
    assert meta_from_config(load_config("tiny_ce_test")).to_dict()["schema_version"] == 1


def test_newer_metadata_is_refused_naming_the_version():
    d = meta_from_config(load_config("tiny_ce_test")).to_dict()
    with pytest.raises(MetadataError, match="schema_version 3, newer than this droptrack reads .*upgrade droptrack"):
        ArtifactMeta.from_dict({**d, "schema_version": 3})
    d.pop("schema_version")
    assert ArtifactMeta.from_dict(d).template_size == d["template_size"]   # none: the oldest schema


def test_dt_doctor_refuses_a_graph_of_a_newer_droptrack_in_one_line(tmp_path):
    r = cli("doctor", onnx_with_schema(tmp_path / "m.onnx", 2))
    assert r.exit_code == 2 and r.stdout == "", r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "m.onnx" in lines[0], r.stderr
    assert "schema_version 2" in lines[0] and "upgrade droptrack" in lines[0], lines[0]
