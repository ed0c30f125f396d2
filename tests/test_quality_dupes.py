"""Acoustic duplicates on generated audio through the real ffmpeg and its chromaprint muxer:
the cases that are the same recording are found, different tracks that share a loop, a drum
kit or an intro are not, and the index finds candidates without comparing every track."""

from __future__ import annotations

import os
import stat
import wave
from pathlib import Path

import numpy as np
import pytest

from cratefile.proc import ffmpeg_exe, run
from cratefile.quality import fingerprint
from cratefile.quality.dupes import FingerprintIndex, is_duplicate, rank
from cratefile.quality.record import QualityRecord, measure
from cratefile.synth import render_array

SR = 44100
SECONDS = 40.0


def _write(path: Path, mix: np.ndarray) -> Path:
    pcm = np.clip(np.round(mix * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SR)
        out.writeframes(pcm.tobytes())
    return path


def _ffmpeg(*args: str) -> None:
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args])


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, QualityRecord]:
    d = tmp_path_factory.mktemp("dupes")
    loop = render_array(bpm=126, key="Am", seconds=SECONDS, seed=1)
    melody_a = render_array(bpm=126, key="C#m", seconds=SECONDS, seed=2, style="breakbeat")
    melody_b = render_array(bpm=126, key="F", seconds=SECONDS, seed=3, style="dnb")
    files: dict[str, Path] = {}
    files["master"] = _write(d / "master.wav", loop)
    files["copy"] = _write(d / "copy.wav", loop)  # the same upload under another id
    _ffmpeg("-i", str(files["master"]), "-c:a", "libmp3lame", "-b:a", "128k", str(d / "dl128.mp3"))
    files["download_128"] = d / "dl128.mp3"
    _ffmpeg("-i", str(files["master"]), "-c:a", "libmp3lame", "-b:a", "320k", str(d / "dl320.mp3"))
    files["reencode_320"] = d / "dl320.mp3"
    _ffmpeg("-i", str(files["download_128"]), "-c:a", "aac", "-b:a", "192k", str(d / "aac.m4a"))
    files["aac_from_128"] = d / "aac.m4a"
    files["silence_2s"] = _write(d / "sil.wav", np.concatenate([np.zeros((2 * SR, 2), np.float32), loop]))
    files["minus_6db"] = _write(d / "quiet.wav", loop * np.float32(10 ** (-6 / 20)))
    # different tracks
    files["shares_loop_a"] = _write(d / "loop_a.wav", 0.55 * loop + 0.45 * melody_a)
    files["shares_loop_b"] = _write(d / "loop_b.wav", 0.55 * loop + 0.45 * melody_b)
    files["same_kit"] = _write(d / "kit.wav", render_array(bpm=126, key="Dm", seconds=SECONDS, seed=9))
    intro = loop.copy()
    intro[int(SECONDS / 2) * SR:] = melody_a[int(SECONDS / 2) * SR:]
    files["shares_intro"] = _write(d / "intro.wav", intro)
    files["extended"] = _write(d / "extended.wav", np.concatenate([loop, loop[: 20 * SR]]))  # +20 s
    return {name: measure(path) for name, path in files.items()}


SAME = ["copy", "download_128", "reencode_320", "aac_from_128", "silence_2s", "minus_6db"]
DIFFERENT = ["shares_loop_a", "shares_loop_b", "same_kit", "shares_intro", "extended"]


def _items(record: QualityRecord) -> np.ndarray:
    items = record.items()
    assert items is not None and len(items) > 200
    return items


@pytest.mark.parametrize("name", SAME)
def test_the_same_recording_is_a_duplicate(records: dict[str, QualityRecord], name: str) -> None:
    master, other = records["master"], records[name]
    match = fingerprint.compare(_items(master), _items(other))
    assert match is not None and match.similarity >= 0.95 and match.worst_window >= 0.95, match
    assert is_duplicate(match, master.duration, other.duration)


def test_added_silence_is_found_at_its_offset(records: dict[str, QualityRecord]) -> None:
    match = fingerprint.compare(_items(records["master"]), _items(records["silence_2s"]))
    assert match is not None and abs(match.offset - 2.0) < 0.3


@pytest.mark.parametrize("name", DIFFERENT)
def test_different_tracks_are_not_duplicates(records: dict[str, QualityRecord], name: str) -> None:
    master, other = records["master"], records[name]
    match = fingerprint.compare(_items(master), _items(other))
    assert not is_duplicate(match, master.duration, other.duration), match


def test_two_tracks_sharing_a_loop_are_not_duplicates_of_each_other(records: dict[str, QualityRecord]) -> None:
    a, b = records["shares_loop_a"], records["shares_loop_b"]
    match = fingerprint.compare(_items(a), _items(b))
    assert match is not None and match.similarity < 0.85
    assert not is_duplicate(match, a.duration, b.duration)


def test_the_index_finds_every_copy_and_nothing_else(tmp_path: Path, records: dict[str, QualityRecord]) -> None:
    index = FingerprintIndex(tmp_path / "fingerprints.sqlite")
    try:
        index.add("soundcloud 1", _items(records["master"]), records["master"].duration,
                  rank(records["master"].provenance))
        for name in DIFFERENT:
            index.add(f"soundcloud {name}", _items(records[name]), records[name].duration, 0.0)
        for name in SAME:
            found = index.find(_items(records[name]), records[name].duration)
            assert [d.key for d in found] == ["soundcloud 1"], (name, found)
        for name in DIFFERENT:
            found = index.find(_items(records[name]), records[name].duration, exclude=f"soundcloud {name}")
            assert found == [], (name, found)
    finally:
        index.close()


def test_the_best_source_of_a_group_is_kept(tmp_path: Path, records: dict[str, QualityRecord]) -> None:
    """A folder WAV equal to a 128k download: the WAV is kept, whichever came first."""
    index = FingerprintIndex(tmp_path / "fingerprints.sqlite")
    try:
        dl, wav = records["download_128"], records["master"]
        index.add("soundcloud 7", _items(dl), dl.duration, rank(dl.provenance))
        index.add("folder abc", _items(wav), wav.duration, rank(wav.provenance))
        (found,) = index.find(_items(wav), wav.duration, exclude="folder abc")
        index.record_pair("folder abc", found.key, found.match)
        group = index.group_of("soundcloud 7")
        assert group == ["folder abc", "soundcloud 7"]
        assert index.keeper(group) == "folder abc"
        assert rank(wav.provenance) > rank(records["reencode_320"].provenance) > rank(dl.provenance)
    finally:
        index.close()


def test_an_ffmpeg_without_chromaprint_is_said_clearly(tmp_path: Path, records: dict[str, QualityRecord]) -> None:
    """A wrapper around the real ffmpeg that lists no chromaprint muxer (as a build without
    --enable-chromaprint does): provenance is still measured, the fingerprint is not, and why is said."""
    real = ffmpeg_exe()
    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = "-muxers" ]; then "{real}" -hide_banner -muxers | grep -v chromaprint; '
                    f'exit 0; fi\nexec "{real}" "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert fingerprint.chromaprint_available(real)
    assert not fingerprint.chromaprint_available(str(fake))
    src = tmp_path / "t.wav"
    _write(src, render_array(bpm=120, key="Am", seconds=8.0, seed=4))
    record = measure(src, 8.0, ffmpeg=str(fake))
    assert record.fingerprint is None and record.provenance is not None
    assert record.error is not None and "chromaprint" in record.error and str(fake) in record.error
    assert os.path.exists(src)


def test_fingerprints_round_trip_through_their_text_form(records: dict[str, QualityRecord]) -> None:
    items = _items(records["master"])
    assert np.array_equal(fingerprint.decode(fingerprint.encode(items)), items)


@pytest.mark.slow
def test_long_tracks_are_fingerprinted_by_their_body(tmp_path: Path) -> None:
    """A 150 s track is fingerprinted from a quarter in: a copy with 2 s of leading silence (its
    window starts elsewhere in the audio) still matches, and a different track that shares
    the first 40 s (a DJ-friendly drum intro) is not taken for it."""
    from cratefile.quality.record import FINGERPRINT_SECONDS

    seconds = 150.0
    body = render_array(bpm=124, key="Gm", seconds=seconds, seed=11)
    other = render_array(bpm=124, key="Bb", seconds=seconds, seed=12, style="breakbeat")
    master = measure(_write(tmp_path / "m.wav", body))
    padded = measure(_write(tmp_path / "p.wav", np.concatenate([np.zeros((2 * SR, 2), np.float32), body])))
    intro = other.copy()
    intro[: 40 * SR] = body[: 40 * SR]
    shares_intro = measure(_write(tmp_path / "i.wav", intro))
    assert master.fingerprint_at == pytest.approx(0.25 * seconds) and padded.fingerprint_at > master.fingerprint_at
    items = _items(master)
    assert len(items) == pytest.approx(FINGERPRINT_SECONDS / fingerprint.ITEM_SECONDS, rel=0.05)
    match = fingerprint.compare(items, _items(padded))
    assert is_duplicate(match, master.duration, padded.duration), match
    assert not is_duplicate(fingerprint.compare(items, _items(shares_intro)), master.duration, shares_intro.duration)
