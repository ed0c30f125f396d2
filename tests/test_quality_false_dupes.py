"""Different recordings that look alike to Chromaprint must never be called duplicates: an alias
publishes another track's file under this one's name, the one mistake this tool must not make."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import make_track
from cratefile.proc import ffmpeg_exe
from cratefile.quality import fingerprint
from cratefile.quality.dupes import is_duplicate


def _print(path: Path) -> np.ndarray:
    raw = path.with_suffix(".raw")
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
                    *fingerprint.chromaprint_output(str(raw))], check=True)
    return fingerprint.parse_raw(raw.read_bytes())


@pytest.mark.skipif(not fingerprint.chromaprint_available(ffmpeg_exe()), reason="ffmpeg without chromaprint")
def test_tracks_in_one_key_and_loop_a_bpm_apart_are_not_duplicates(tmp_path: Path) -> None:
    tracks = [make_track(tmp_path / f"{i}.wav", bpm=120 + i, key="Am", seconds=30, seed=i) for i in range(6)]
    prints = [_print(p) for p in tracks]
    alike = []
    for i in range(len(prints)):
        for j in range(i + 1, len(prints)):
            match = fingerprint.compare(prints[i], prints[j])
            if is_duplicate(match, 30.0, 30.0):
                alike.append((i, j, match))
    assert not alike
    # and a copy of one of them still is one (a 128k MP3 of track 0)
    mp3 = tmp_path / "0.mp3"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", str(tracks[0]), "-b:a", "128k", str(mp3)],
                   check=True)
    assert is_duplicate(fingerprint.compare(prints[0], _print(mp3)), 30.0, 30.0)
