"""Tag writing and reading with mutagen, per tagger, on files ffmpeg generates here."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

from cratefile.proc import ffmpeg_exe
from cratefile.tags import MP4_KEY, TagError, TrackTags, bpm_text, read_tags, write_tags

# extension -> (ffmpeg encoder and muxer, tagger)
KINDS = {
    "wav": (["-c:a", "pcm_s16le", "-f", "wav"], "id3"),
    "aiff": (["-c:a", "pcm_s16be", "-f", "aiff"], "id3"),
    "mp3": (["-c:a", "libmp3lame", "-f", "mp3"], "id3"),
    "m4a": (["-c:a", "aac", "-aac_coder", "fast", "-f", "ipod"], "mp4"),
    "flac": (["-c:a", "flac", "-f", "flac"], "flac"),
}


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.fixture(scope="module")
def blanks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One untagged 0.5 s file per container, plus a JPEG and a PNG cover."""
    root = tmp_path_factory.mktemp("blanks")
    made = {}
    for ext, (args, _) in KINDS.items():
        out = root / f"blank.{ext}"
        subprocess.run(
            [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi",
             "-i", "sine=duration=0.5:sample_rate=44100", "-ac", "2", "-map_metadata", "-1",
             *args, str(out)],
            check=True,
        )  # fmt: skip
        made[ext] = out
    jpeg = root / "cover.jpg"
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi",
         "-i", "color=c=blue:s=16x16", "-frames:v", "1", str(jpeg)],
        check=True,
    )  # fmt: skip
    png = root / "cover.png"
    png.write_bytes(tiny_png())
    made["jpg"], made["png"] = jpeg, png
    return made


def fresh(blanks: dict[str, Path], ext: str, tmp_path: Path) -> Path:
    path = tmp_path / f"track.{ext}"
    shutil.copyfile(blanks[ext], path)
    return path


FULL = TrackTags(
    title="Ünïcødé 🎛️ Tïtle 👩‍🎤",
    artist="Sigur Rós × 坂本龍一",
    album="Crate: Deep 🌊",
    grouping="Warm-up",
    bpm=127.5,
    musical_key="F#m",
    url="https://soundcloud.com/sigur/track-1?in=x",
    comment="Ça va — 🎉 comment",
    genre="Électronique",
    year="2024",
)


@pytest.mark.parametrize("ext", sorted(KINDS))
def test_round_trip_with_unicode_emoji_bpm_key_url_artwork(
    ext: str, blanks: dict[str, Path], tmp_path: Path
) -> None:
    path = fresh(blanks, ext, tmp_path)
    write_tags(path, KINDS[ext][1], replace(FULL, artwork=blanks["jpg"]))
    assert read_tags(path) == {
        "title": FULL.title,
        "artist": FULL.artist,
        "album": FULL.album,
        "grouping": FULL.grouping,
        "bpm": "128",  # 127.5 rounds half up; the decimal BPM goes to Rekordbox XML
        "key": "F#m",
        "url": FULL.url,
        "comment": FULL.comment,
        "genre": FULL.genre,
        "year": "2024",
        "has_artwork": True,
    }


@pytest.mark.parametrize("ext", ["wav", "aiff", "mp3"])
def test_id3_is_v23_with_integer_tbpm_and_front_cover(
    ext: str, blanks: dict[str, Path], tmp_path: Path
) -> None:
    path = fresh(blanks, ext, tmp_path)
    write_tags(path, "id3", replace(FULL, artwork=blanks["png"]))
    id3 = ID3(path) if ext == "mp3" else _chunk_id3(path)
    assert id3.version == (2, 3, 0)
    assert id3["TBPM"].text == ["128"]
    assert id3["TKEY"].text == ["F#m"]
    assert id3.getall("WOAS")[0].url == FULL.url
    apic = id3.getall("APIC")[0]
    assert (apic.type, apic.mime) == (3, "image/png")
    assert apic.data == blanks["png"].read_bytes()
    raw = path.read_bytes()
    # The chunk ids DJ software looks for: lower-case 'id3 ' in RIFF, 'ID3 ' in AIFF.
    if ext == "wav":
        assert b"id3 " in raw
    if ext == "aiff":
        assert b"ID3 " in raw[12:]


def _chunk_id3(path: Path) -> ID3:
    from mutagen import File

    tags = File(path).tags
    assert isinstance(tags, ID3)
    return tags


def test_mp4_atoms(blanks: dict[str, Path], tmp_path: Path) -> None:
    path = fresh(blanks, "m4a", tmp_path)
    write_tags(path, "mp4", replace(FULL, artwork=blanks["png"]))
    tags = MP4(path).tags
    assert tags["tmpo"] == [128]
    assert bytes(tags[MP4_KEY][0]) == b"F#m"
    assert tags["\xa9grp"] == ["Warm-up"]
    cover = tags["covr"][0]
    assert cover.imageformat == cover.FORMAT_PNG and bytes(cover) == blanks["png"].read_bytes()


def test_flac_vorbis_comments_and_picture(blanks: dict[str, Path], tmp_path: Path) -> None:
    path = fresh(blanks, "flac", tmp_path)
    write_tags(path, "flac", replace(FULL, artwork=blanks["jpg"]))
    audio = FLAC(path)
    assert audio["BPM"] == ["128"]
    assert audio["INITIALKEY"] == ["F#m"]
    assert audio["GROUPING"] == ["Warm-up"]
    assert [(p.type, p.mime) for p in audio.pictures] == [(3, "image/jpeg")]


@pytest.mark.parametrize("ext", sorted(KINDS))
def test_rewriting_replaces_every_tag(ext: str, blanks: dict[str, Path], tmp_path: Path) -> None:
    path = fresh(blanks, ext, tmp_path)
    tagger = KINDS[ext][1]
    write_tags(path, tagger, replace(FULL, artwork=blanks["jpg"]))
    write_tags(path, tagger, TrackTags(title="Only", artist="Two"))
    got = read_tags(path)
    assert (got["title"], got["artist"]) == ("Only", "Two")
    assert all(got[k] is None for k in got if k not in ("title", "artist", "has_artwork"))
    assert got["has_artwork"] is False


def test_untagged_file_reads_as_empty(blanks: dict[str, Path], tmp_path: Path) -> None:
    got = read_tags(fresh(blanks, "wav", tmp_path))
    assert got["title"] is None and got["has_artwork"] is False


def test_non_ascii_url_is_percent_encoded_in_id3_only(
    blanks: dict[str, Path], tmp_path: Path
) -> None:
    url = "https://example.com/tracks/çafé"
    wav, flac = fresh(blanks, "wav", tmp_path), fresh(blanks, "flac", tmp_path)
    write_tags(wav, "id3", replace(FULL, url=url))
    write_tags(flac, "flac", replace(FULL, url=url))
    # ID3 URL frames are Latin-1 only.
    assert read_tags(wav)["url"] == "https://example.com/tracks/%C3%A7af%C3%A9"
    assert read_tags(flac)["url"] == url


@pytest.mark.parametrize(
    ("bpm", "text"),
    [(127.5, "128"), (126.5, "127"), (127.49, "127"), (174.0, "174"), (None, None), (0.0, None),
     (float("nan"), None)],
)  # fmt: skip
def test_bpm_text_rounds_half_up(bpm: float | None, text: str | None) -> None:
    assert bpm_text(bpm) == text


def test_artwork_must_be_jpeg_or_png(blanks: dict[str, Path], tmp_path: Path) -> None:
    webp = tmp_path / "cover.webp"
    webp.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16)
    with pytest.raises(TagError, match="neither JPEG nor PNG"):
        write_tags(fresh(blanks, "mp3", tmp_path), "id3", replace(FULL, artwork=webp))


def test_missing_artwork_file_is_a_tag_error(blanks: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(TagError):
        flac = fresh(blanks, "flac", tmp_path)
        write_tags(flac, "flac", replace(FULL, artwork=tmp_path / "no.jpg"))


def test_wrong_tagger_for_the_file_is_a_tag_error(blanks: dict[str, Path], tmp_path: Path) -> None:
    wav = fresh(blanks, "wav", tmp_path)
    with pytest.raises(TagError):
        write_tags(wav, "mp4", FULL)
    with pytest.raises(TagError):
        write_tags(fresh(blanks, "m4a", tmp_path), "id3", FULL)
    assert isinstance(WAVE(wav), WAVE)  # the file is still intact


def test_unknown_tagger_is_a_programming_error(blanks: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tagger"):
        write_tags(fresh(blanks, "wav", tmp_path), "ape", FULL)
