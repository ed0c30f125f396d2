"""probe: what real files, encoded by the real ffmpeg, say about themselves."""

from __future__ import annotations

from pathlib import Path

import mutagen.flac
import mutagen.id3
import pytest

from cratefile.errors import Category, TrackFailure
from cratefile.proc import ffmpeg_exe, run
from cratefile.records import TrackRef
from cratefile.sources import folder, probe

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64)) + b"\xff\xd9"  # a picture's bytes, never decoded


def _encode(path: Path, *args: str, seconds: float = 2.0, rate: int = 44100, channels: int = 2) -> Path:
    source = f"sine=frequency=440:sample_rate={rate}:duration={seconds}"
    run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", source,
         "-ac", str(channels), *args, str(path)])
    return path


def _ref(path: Path) -> TrackRef:
    return TrackRef(key="local test", url=path.as_uri(), title="T", artist="A", duration=None,
                    entry={"path": str(path)})


def _tagged_mp3(path: Path, bpm: str, key: str) -> Path:
    _encode(path, "-b:a", "128k", "-metadata", "title=Night Drive", "-metadata", "artist=Ana",
            "-metadata", "album=Late EP")
    tags = mutagen.id3.ID3(path)
    tags.add(mutagen.id3.TBPM(encoding=3, text=[bpm]))
    tags.add(mutagen.id3.TKEY(encoding=3, text=[key]))
    tags.add(mutagen.id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=JPEG))
    tags.save(path)
    return path


def test_mp3_gives_stream_facts_names_and_its_tbpm_tkey(tmp_path: Path) -> None:
    path = _tagged_mp3(tmp_path / "a.mp3", "124", "Am")

    facts = probe.read(path)

    assert (facts.codec, facts.bitrate, facts.sample_rate, facts.channels) == ("mp3", 128, 44100, 2)
    assert facts.duration == pytest.approx(2.0, abs=0.1)
    assert (facts.title, facts.artist, facts.album) == ("Night Drive", "Ana", "Late EP")
    assert facts.tags == {"bpm": 124.0, "key": "Am"}
    assert facts.cover == JPEG
    assert probe.probe_audio(path) == facts  # mutagen reads it: no ffmpeg fallback


@pytest.mark.parametrize("bpm", ["0", "999", "fast"])
def test_a_bpm_tag_that_is_no_tempo_is_not_carried(tmp_path: Path, bpm: str) -> None:
    facts = probe.read(_tagged_mp3(tmp_path / "a.mp3", bpm, " 8A "))

    assert facts.tags == {"bpm": None, "key": "8A"}


def test_flac_picture_and_vorbis_tags_reach_the_folder_sidecar(tmp_path: Path) -> None:
    path = _encode(tmp_path / "b.flac", seconds=1.0, rate=48000, channels=1)
    flac = mutagen.flac.FLAC(path)
    picture = mutagen.flac.Picture()
    picture.type, picture.mime, picture.data = 3, "image/jpeg", JPEG
    flac.add_picture(picture)
    flac["BPM"], flac["INITIALKEY"], flac["ALBUM"] = "100", "C", "Crate"
    flac.save()

    facts = probe.read(path)
    assert (facts.codec, facts.sample_rate, facts.channels) == ("flac", 48000, 1)
    assert facts.cover == JPEG and facts.album == "Crate"
    assert facts.tags == {"bpm": 100.0, "key": "C"}

    sidecar = folder.prepare(_ref(path), tmp_path)
    assert (tmp_path / sidecar.artwork).read_bytes() == JPEG
    assert (sidecar.codec, sidecar.album, sidecar.tags) == ("flac", "Crate", {"bpm": 100.0, "key": "C"})
    assert isinstance(sidecar.bitrate, int) and isinstance(sidecar.duration, float)


def test_wav_has_exact_pcm_facts_and_carries_nothing(tmp_path: Path) -> None:
    path = _encode(tmp_path / "c.wav", "-c:a", "pcm_s16le", seconds=1.5, rate=48000, channels=1)

    facts = probe.read(path)

    assert (facts.codec, facts.bitrate, facts.sample_rate, facts.channels) == ("pcm_s16le", 768, 48000, 1)
    assert facts.duration == pytest.approx(1.5, abs=1e-3)
    assert facts.tags == {"bpm": None, "key": None}
    assert (facts.title, facts.cover) == (None, None)
    sidecar = folder.prepare(_ref(path), tmp_path)
    assert sidecar.tags == {} and sidecar.artwork is None  # the folder sidecar lists only what is there


def _riff_info(fields: dict[bytes, str]) -> bytes:
    body = b"INFO"
    for fid, text in fields.items():
        raw = text.encode("utf-8") + b"\0"
        body += fid + len(raw).to_bytes(4, "little") + raw + (b"\0" if len(raw) % 2 else b"")
    return b"LIST" + len(body).to_bytes(4, "little") + body


def test_riff_info_tags_of_a_wav_are_read(tmp_path: Path) -> None:
    path = _encode(tmp_path / "e.wav", "-c:a", "pcm_s16le", seconds=1.0)
    data = path.read_bytes()
    info = _riff_info({b"INAM": "Night Drive", b"IART": "Kay & Ö", b"IPRD": "Crate", b"ICMT": "x"})
    patched = data[:4] + (len(data) - 8 + len(info)).to_bytes(4, "little") + data[8:] + info
    path.write_bytes(patched)
    facts = probe.read(path)
    assert (facts.title, facts.artist, facts.album) == ("Night Drive", "Kay & Ö", "Crate")
    assert facts.duration == pytest.approx(1.0, abs=1e-3)  # the audio is untouched
    (ref,) = folder.enumerate_folder(tmp_path)
    assert (ref.title, ref.artist) == ("Night Drive", "Kay & Ö")


def test_a_hostile_riff_chunk_list_ends(tmp_path: Path) -> None:
    path = tmp_path / "h.wav"
    path.write_bytes(b"RIFF\xff\xff\xff\xffWAVE" + b"LIST\xff\xff\xff\x7fINFO" + b"\0" * 64)
    assert probe.riff_info(path) == {}


def test_webm_opus_falls_back_to_ffmpeg(tmp_path: Path) -> None:
    path = _encode(tmp_path / "d.webm", "-c:a", "libopus", "-b:a", "96k", rate=48000)

    with pytest.raises(TrackFailure):
        probe.read(path)
    facts = probe.probe_audio(path)

    assert (facts.codec, facts.sample_rate, facts.channels) == ("opus", 48000, 2)
    assert facts.duration == pytest.approx(2.0, abs=0.1)
    assert facts.tags == {"bpm": None, "key": None}


@pytest.mark.parametrize(("name", "why"), [("notes.txt", "not an audio file"), ("fake.mp3", "not readable as audio")])
def test_a_non_audio_file_is_unreadable(tmp_path: Path, name: str, why: str) -> None:
    path = tmp_path / name
    path.write_text("these are liner notes, not audio\n" * 20)

    with pytest.raises(TrackFailure, match=why) as failure:
        probe.read(path)
    assert failure.value.category is Category.UNREADABLE
    assert probe.probe_audio(path).duration is None  # neither mutagen nor ffmpeg: the caller decides
    with pytest.raises(TrackFailure) as failure:
        folder.prepare(_ref(path), tmp_path)
    assert failure.value.category is Category.UNREADABLE
