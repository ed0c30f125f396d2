"""The analysed BPM keeps its decimals in the tags: a TXXX frame (WAV, AIFF, MP3) or a
freeform atom (M4A) next to the integer TBPM/tmpo that DJ software reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import ID3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

from cratefile.proc import ffmpeg_exe
from cratefile.tags import EXACT_BPM_NAME, MP4_EXACT_BPM, TrackTags, write_tags


def _blank(path: Path, args: list[str]) -> Path:
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "sine=duration=0.3:sample_rate=44100", "-map_metadata", "-1", *args, str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(("ext", "args"), [("mp3", ["-c:a", "libmp3lame"]), ("wav", ["-c:a", "pcm_s16le"])])
def test_id3_carries_the_exact_bpm_next_to_the_integer(tmp_path: Path, ext: str, args: list[str]) -> None:
    path = _blank(tmp_path / f"t.{ext}", args)
    write_tags(path, "id3", TrackTags(title="T", artist="A", bpm=127.456))
    id3 = ID3(path) if ext == "mp3" else WAVE(path).tags
    assert id3 is not None
    assert str(id3.getall("TBPM")[0]) == "127"
    assert id3.getall(f"TXXX:{EXACT_BPM_NAME}")[0].text == ["127.46"]


def test_mp4_carries_the_exact_bpm_in_a_freeform_atom(tmp_path: Path) -> None:
    path = _blank(tmp_path / "t.m4a", ["-c:a", "aac", "-f", "ipod"])
    write_tags(path, "mp4", TrackTags(title="T", artist="A", bpm=86.5))
    atoms = MP4(path).tags
    assert atoms is not None
    assert atoms["tmpo"] == [87] and bytes(atoms[MP4_EXACT_BPM][0]) == b"86.50"


def test_no_bpm_no_exact_bpm(tmp_path: Path) -> None:
    path = _blank(tmp_path / "t.mp3", ["-c:a", "libmp3lame"])
    write_tags(path, "id3", TrackTags(title="T", artist="A", bpm=None))
    assert not ID3(path).getall(f"TXXX:{EXACT_BPM_NAME}")
