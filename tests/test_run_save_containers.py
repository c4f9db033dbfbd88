"""`dt run --help` said --save takes '.mp4: mp4v, .avi: MJPG', though .m4v, .mov and .mkv are written too (and the
refusal of another extension named only .mp4 and .avi). Every container the help names is one dt run writes, and
every one it writes is named."""

from __future__ import annotations

import re

import cv2
import pytest
from helpers import cli

WRITTEN = (".mp4", ".m4v", ".mov", ".avi", ".mkv")   # what a --save file may end with (each written below)


def save_help() -> str:
    out = cli("run", "--help")
    text = " ".join(out.output.split())
    start = text.index("--save")
    return text[start:text.index("--output", start)]


def test_the_help_names_every_container_it_writes():
    named = set(re.findall(r"\.(?:mp4|m4v|mov|avi|mkv|webm|wmv|flv)\b", save_help()))
    assert named == set(WRITTEN), save_help()


def test_a_refused_extension_is_told_every_container(tmp_path, video):
    r = cli("run", video, "--init", "100,80,40,40", "--max-frames", "2", "--save", tmp_path / "o.webm")
    assert r.exit_code == 2 and all(s in r.output for s in WRITTEN), r.output


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_each_named_container_is_written(tmp_path, video, tiny_ckpt, suffix):
    out = tmp_path / f"out{suffix}"
    r = cli("run", video, "-m", tiny_ckpt, "--init", "100,80,40,40", "--max-frames", "3", "--threads", "1",
            "--save", out)
    assert r.exit_code == 0, r.output
    cap, n = cv2.VideoCapture(str(out)), 0
    while cap.read()[0]:
        n += 1
    assert n == 3
