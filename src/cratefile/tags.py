"""Tags inside library files, written and read with mutagen.

Three taggers, chosen by the format recipe:
- "id3": ID3v2.3 in MP3, in WAV (`id3 ` chunk) and in AIFF (`ID3 ` chunk). v2.3 because
  rekordbox, Serato and CDJs read it everywhere; text is Latin-1 when it fits, else UTF-16.
- "mp4": iTunes atoms in M4A.
- "flac": Vorbis comments and a PICTURE block.

BPM is written as an integer string (half rounds up: 127.5 -> "128"): DJ software reads it
so, and decimal BPM belongs in Rekordbox XML. The key is written as given ("Am", "8A", "1m").
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import mutagen
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture, VCFLACDict
from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    TALB,
    TBPM,
    TCON,
    TDRC,
    TIT1,
    TIT2,
    TKEY,
    TPE1,
    TXXX,
    WOAS,
    WXXX,
    Encoding,
    PictureType,
)
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm, MP4Tags
from mutagen.wave import WAVE

from cratefile.errors import CratefileError

TAGGERS = ("id3", "mp4", "flac")

# Freeform MP4 atoms. No standard atom holds a web address; this is what taggers that
# follow iTunes' reverse-DNS convention write.
MP4_KEY = "----:com.apple.iTunes:initialkey"
MP4_URL = "----:com.apple.iTunes:URL"
MP4_TEMPO_MAX = 0xFFFF  # tmpo is a 16-bit integer
# The source's provenance (cratefile.quality): a user-defined text frame / freeform atom /
# Vorbis comment of this name, which every tag format has and DJ tools leave alone.
QUALITY_NAME = "SOURCE QUALITY"
# The BPM with its decimals ("126.37") next to the integer TBPM/tmpo DJ software reads.
EXACT_BPM_NAME = "EXACT BPM"
MP4_EXACT_BPM = f"----:com.apple.iTunes:{EXACT_BPM_NAME}"
MP4_QUALITY = f"----:com.apple.iTunes:{QUALITY_NAME}"


class TagError(CratefileError):
    """Tags could not be written to (or read from) a file."""


@dataclass(frozen=True)
class TrackTags:
    """What goes into a library file's tags; the key already in the chosen notation."""

    title: str
    artist: str
    album: str | None = None
    grouping: str | None = None
    bpm: float | None = None
    musical_key: str | None = None  # in the chosen notation: Am, 8A or 1m
    url: str | None = None
    comment: str | None = None
    genre: str | None = None
    year: str | None = None
    artwork: Path | None = None  # JPEG or PNG embedded as the front cover
    quality: str | None = None  # the source's provenance: 'lossless', 'lossy mp3 ~128k', 'upscaled from ~128k (...)'


def bpm_text(bpm: float | None) -> str | None:
    """The integer BPM DJ software reads: half rounds up (127.5 -> '128'), not to even."""
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        return None
    return str(math.floor(bpm + 0.5))


def exact_bpm_text(bpm: float | None) -> str | None:
    """The BPM to two decimals ('126.37'), for the frame next to the integer one."""
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        return None
    return f"{bpm:.2f}"


def image_mime(data: bytes) -> str:
    """'image/jpeg' or 'image/png' from the bytes themselves; anything else is refused
    because MP4 `covr` and most DJ software only show these two."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    raise TagError(f"artwork is neither JPEG nor PNG (starts with {data[:8]!r})")


def write_tags(path: Path, tagger: str, tags: TrackTags) -> None:
    """Replace every tag in `path` with `tags`. Raises TagError."""
    writer = _WRITERS.get(tagger)
    if writer is None:
        raise ValueError(f"unknown tagger {tagger!r} (known: {', '.join(TAGGERS)})")
    try:
        artwork = tags.artwork.read_bytes() if tags.artwork is not None else None
        writer(path, tags, artwork)
    except (mutagen.MutagenError, OSError) as exc:
        raise TagError(f"cannot write {tagger} tags to {path.name}: {exc}") from exc


def _text_encoding(text: str) -> int:  # an Encoding value: mutagen's Encoding members are plain ints
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return Encoding.UTF16
    return Encoding.LATIN1


def _url_latin1(url: str) -> str:
    """ID3 URL frames are Latin-1 only: percent-encode non-ASCII characters, as browsers
    do, and leave the rest alone so ordinary URLs read back unchanged."""
    return "".join(ch if ord(ch) < 0x80 else urllib.parse.quote(ch) for ch in url)


def _write_id3(path: Path, tags: TrackTags, artwork: bytes | None) -> None:
    audio = mutagen.File(path, options=[WAVE, AIFF, MP3])
    if audio is None:
        raise TagError(f"{path.name} is not a WAV, AIFF or MP3 file")
    if audio.tags is None:
        audio.add_tags()
    id3: ID3 = audio.tags
    id3.clear()
    texts: list[tuple[type, str | None]] = [
        (TIT2, tags.title),
        (TPE1, tags.artist),
        (TALB, tags.album),
        (TIT1, tags.grouping),
        (TBPM, bpm_text(tags.bpm)),
        (TKEY, tags.musical_key),
        (TCON, tags.genre),
        (TDRC, tags.year),  # turned into TYER (+TDAT) for v2.3 below
    ]
    for frame, value in texts:
        if value:
            id3.add(frame(encoding=_text_encoding(value), text=[value]))
    if tags.comment:
        encoding = _text_encoding(tags.comment)
        id3.add(COMM(encoding=encoding, lang="eng", desc="", text=[tags.comment]))
    if tags.quality:
        id3.add(TXXX(encoding=_text_encoding(tags.quality), desc=QUALITY_NAME, text=[tags.quality]))
    exact = exact_bpm_text(tags.bpm)
    if exact:
        id3.add(TXXX(encoding=Encoding.LATIN1, desc=EXACT_BPM_NAME, text=[exact]))
    if tags.url:
        # WOAS is the standard frame; WXXX with an empty description is what taggers show
        # as "URL"/"WWW". Both, so either kind of reader finds it.
        url = _url_latin1(tags.url)
        id3.add(WOAS(url=url))
        id3.add(WXXX(encoding=Encoding.LATIN1, desc="", url=url))
    if artwork is not None:
        id3.add(
            APIC(
                encoding=Encoding.LATIN1,
                mime=image_mime(artwork),
                type=PictureType.COVER_FRONT,
                desc="Cover",
                data=artwork,
            )
        )
    id3.update_to_v23()
    audio.save(v2_version=3)


def _write_mp4(path: Path, tags: TrackTags, artwork: bytes | None) -> None:
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    atoms = cast(MP4Tags, audio.tags)  # mutagen declares MP4.tags as None; it is set by add_tags()
    atoms.clear()
    for atom, value in (
        ("\xa9nam", tags.title),
        ("\xa9ART", tags.artist),
        ("\xa9alb", tags.album),
        ("\xa9grp", tags.grouping),
        ("\xa9cmt", tags.comment),
        ("\xa9gen", tags.genre),
        ("\xa9day", tags.year),
    ):
        if value:
            atoms[atom] = [value]
    bpm = bpm_text(tags.bpm)
    if bpm is not None:
        atoms["tmpo"] = [min(int(bpm), MP4_TEMPO_MAX)]
        atoms[MP4_EXACT_BPM] = [MP4FreeForm((exact_bpm_text(tags.bpm) or bpm).encode("ascii"))]
    if tags.musical_key:
        atoms[MP4_KEY] = [MP4FreeForm(tags.musical_key.encode("utf-8"))]
    if tags.url:
        atoms[MP4_URL] = [MP4FreeForm(tags.url.encode("utf-8"))]
    if tags.quality:
        atoms[MP4_QUALITY] = [MP4FreeForm(tags.quality.encode("utf-8"))]
    if artwork is not None:
        kind = MP4Cover.FORMAT_PNG if image_mime(artwork) == "image/png" else MP4Cover.FORMAT_JPEG
        atoms["covr"] = [MP4Cover(artwork, imageformat=kind)]
    audio.save()


def _write_flac(path: Path, tags: TrackTags, artwork: bytes | None) -> None:
    audio = FLAC(path)
    if audio.tags is None:
        audio.add_tags()
    comments = cast(VCFLACDict, audio.tags)  # a FLAC's tags block once add_tags() ran
    comments.clear()
    audio.clear_pictures()
    for name, value in (
        ("TITLE", tags.title),
        ("ARTIST", tags.artist),
        ("ALBUM", tags.album),
        ("GROUPING", tags.grouping),
        ("BPM", bpm_text(tags.bpm)),
        ("INITIALKEY", tags.musical_key),
        ("WEBSITE", tags.url),
        ("COMMENT", tags.comment),
        ("GENRE", tags.genre),
        ("DATE", tags.year),
        (QUALITY_NAME, tags.quality),
    ):
        if value:
            comments[name] = [value]
    if artwork is not None:
        picture = Picture()
        picture.type = PictureType.COVER_FRONT
        picture.mime = image_mime(artwork)
        picture.desc = "Cover"
        picture.data = artwork
        audio.add_picture(picture)
    audio.save()


_WRITERS: dict[str, Callable[[Path, TrackTags, bytes | None], None]] = {
    "id3": _write_id3,
    "mp4": _write_mp4,
    "flac": _write_flac,
}

FIELDS = ("title", "artist", "album", "grouping", "bpm", "key", "url", "comment", "genre", "year")


def read_tags(path: Path) -> dict[str, Any]:
    """The tags of `path` as plain values (strings or None, BPM as its integer string) plus
    `has_artwork`. For tests and `status`; raises TagError on an unreadable file."""
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError) as exc:
        raise TagError(f"cannot read tags of {path.name}: {exc}") from exc
    if audio is None:
        raise TagError(f"{path.name} is not an audio file mutagen knows")
    found: dict[str, Any] = dict.fromkeys(FIELDS)
    found["has_artwork"] = False
    if audio.tags is None:
        return found
    if isinstance(audio.tags, ID3):
        found.update(_read_id3(audio.tags))
    elif isinstance(audio.tags, MP4Tags):
        found.update(_read_mp4(audio.tags))
    elif isinstance(audio, FLAC):
        found.update(_read_flac(audio))
    else:
        raise TagError(f"{path.name}: unexpected tag type {type(audio.tags).__name__}")
    return found


def read_quality(path: Path) -> str | None:
    """The provenance tag `write_tags` wrote into `path` (TrackTags.quality), or None."""
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError) as exc:
        raise TagError(f"cannot read tags of {path.name}: {exc}") from exc
    tags = getattr(audio, "tags", None)
    if isinstance(tags, ID3):
        frames = tags.getall(f"TXXX:{QUALITY_NAME}")
        return str(frames[0].text[0]) if frames and frames[0].text else None
    if isinstance(tags, MP4Tags):
        return _mp4_text(tags, MP4_QUALITY)
    if isinstance(audio, FLAC) and tags is not None:
        values = cast(VCFLACDict, tags).get(QUALITY_NAME)
        return values[0] if values else None
    return None


def _first_text(id3: ID3, frame_id: str) -> str | None:
    frames = id3.getall(frame_id)
    return str(frames[0].text[0]) if frames and frames[0].text else None


def _read_id3(id3: ID3) -> dict[str, Any]:
    comments = [c for c in id3.getall("COMM") if c.desc == ""]
    woas = id3.getall("WOAS")
    wxxx = [w for w in id3.getall("WXXX") if w.desc == ""]
    url = woas[0].url if woas else (wxxx[0].url if wxxx else None)
    # mutagen loads v2.3 tags upgraded to v2.4: TYER comes back as TDRC.
    year = _first_text(id3, "TDRC") or _first_text(id3, "TYER")
    return {
        "title": _first_text(id3, "TIT2"),
        "artist": _first_text(id3, "TPE1"),
        "album": _first_text(id3, "TALB"),
        "grouping": _first_text(id3, "TIT1"),
        "bpm": _first_text(id3, "TBPM"),
        "key": _first_text(id3, "TKEY"),
        "url": url,
        "comment": str(comments[0].text[0]) if comments and comments[0].text else None,
        "genre": _first_text(id3, "TCON"),
        "year": year,
        "has_artwork": bool(id3.getall("APIC")),
    }


def _mp4_text(atoms: MP4Tags, name: str) -> str | None:
    values = atoms.get(name)
    if not values:
        return None
    value = values[0]
    return bytes(value).decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_mp4(atoms: MP4Tags) -> dict[str, Any]:
    return {
        "title": _mp4_text(atoms, "\xa9nam"),
        "artist": _mp4_text(atoms, "\xa9ART"),
        "album": _mp4_text(atoms, "\xa9alb"),
        "grouping": _mp4_text(atoms, "\xa9grp"),
        "bpm": _mp4_text(atoms, "tmpo"),
        "key": _mp4_text(atoms, MP4_KEY),
        "url": _mp4_text(atoms, MP4_URL),
        "comment": _mp4_text(atoms, "\xa9cmt"),
        "genre": _mp4_text(atoms, "\xa9gen"),
        "year": _mp4_text(atoms, "\xa9day"),
        "has_artwork": bool(atoms.get("covr")),
    }


def _read_flac(audio: FLAC) -> dict[str, Any]:
    def first(name: str) -> str | None:
        comments = cast("VCFLACDict | None", audio.tags)  # FLAC.tags is its Vorbis comment block
        values = comments.get(name) if comments is not None else None
        return values[0] if values else None

    return {
        "title": first("TITLE"),
        "artist": first("ARTIST"),
        "album": first("ALBUM"),
        "grouping": first("GROUPING"),
        "bpm": first("BPM"),
        "key": first("INITIALKEY"),
        "url": first("WEBSITE"),
        "comment": first("COMMENT"),
        "genre": first("GENRE"),
        "year": first("DATE"),
        "has_artwork": bool(audio.pictures),
    }
