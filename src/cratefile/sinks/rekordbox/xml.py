"""Rekordbox XML export: a DJ_PLAYLISTS file with the built tracks and the manifest's playlists.

Owns the file format only: `write_rekordbox_xml` takes plain records (`RbTrack`,
`RbPlaylist`) and writes the file atomically; `read_locations` reads the file paths back.

Locations are `file://localhost/` URLs the way Rekordbox writes them: the absolute path with
its leading slash dropped (`/Users/x/a b.wav` -> `file://localhost/Users/x/a%20b.wav`,
`C:\\Music\\a.wav` -> `file://localhost/C:/Music/a.wav`), the file-system bytes
percent-encoded (UTF-8 for non-ASCII), with letters, digits, `-._~/:` and the harmless
sub-delimiters `!$'()*,;=@` kept. `%`, `#`, `?`, `&`, `+` and spaces are always encoded, so
neither a URL parser nor a form decoder can misread them.

The beat grid is one `<TEMPO Inizio="0.250" Bpm="128.00" Metro="4/4" Battito="1"/>` (Inizio:
the first beat in seconds; Battito: the beat of the bar it is), written for a track with both
a BPM and a first beat. A track without a BPM gets neither TEMPO nor AverageBpm (Rekordbox
itself writes AverageBpm="0.00" for one it has not analysed; leaving it out reads the same).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from cratefile.atomic import write_bytes

LOCATION_PREFIX = "file://localhost/"
# Kept as-is in a Location (plus ASCII letters, digits and "_.-~", which quote never touches).
_SAFE = "/:!$'()*,;=@"
# Characters XML 1.0 cannot hold at all; a stray one in a tag would make the file unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")

KINDS = {
    ".wav": "WAV File",
    ".aif": "AIFF File",
    ".aiff": "AIFF File",
    ".m4a": "M4A File",
    ".mp4": "M4A File",
    ".mp3": "MP3 File",
    ".flac": "FLAC File",
}


@dataclass(frozen=True)
class RbTrack:
    track_id: int
    path: Path  # absolute
    name: str
    artist: str
    album: str | None = None
    genre: str | None = None
    bpm: float | None = None  # None: no AverageBpm and no grid, left to Rekordbox's own analysis
    first_beat: float | None = None  # seconds; with bpm, the beat grid (one TEMPO) starts here
    tonality: str | None = None  # "Am", "F#m" or Camelot "8A", as the user chose
    total_time: int = 0  # seconds
    size: int | None = None  # bytes
    kind: str = "WAV File"
    date_added: str | None = None  # yyyy-mm-dd
    comments: str | None = None


@dataclass(frozen=True)
class RbPlaylist:
    name: str
    track_ids: tuple[int, ...]


def kind_of(path: PurePath) -> str:
    """Rekordbox's Kind for a file extension ('a.aiff' -> 'AIFF File')."""
    suffix = path.suffix.lower()
    return KINDS.get(suffix, f"{suffix.lstrip('.').upper() or 'Unknown'} File")


def stable_track_id(key: str, fmt: str, attempt: int = 0) -> int:
    """A TrackID in [1, 2**31) that depends only on the track key and format.

    `attempt` > 0 gives the next candidate when two files collide (see `stable_track_ids`).
    """
    blob = f"{key}\x00{fmt}\x00{attempt}".encode()
    value = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") % (2**31 - 1)
    return value + 1


def stable_track_ids(files: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """TrackIDs for many (key, format) pairs, unique within the set.

    31 bits make a collision likely somewhere in a library of ~50k files; the pairs are
    visited in sorted order and a colliding one takes its next candidate, so the ids stay
    stable as long as the colliding pairs stay in the library.
    """
    ids: dict[tuple[str, str], int] = {}
    taken: set[int] = set()
    for pair in sorted(set(files)):
        attempt = 0
        while (candidate := stable_track_id(pair[0], pair[1], attempt)) in taken:
            attempt += 1
        ids[pair] = candidate
        taken.add(candidate)
    return ids


def encode_location(path: PurePath) -> str:
    """`file://localhost/...` URL of an absolute path, percent-encoded like Rekordbox."""
    if not path.is_absolute():
        raise ValueError(f"Rekordbox needs an absolute path, got {str(path)!r}")
    posix = path.as_posix()
    # fsencode keeps undecodable file names (surrogate escapes) as their original bytes.
    quoted = urllib.parse.quote(os.fsencode(posix.lstrip("/")), safe=_SAFE)
    return LOCATION_PREFIX + quoted


def decode_location(url: str) -> Path:
    """Inverse of `encode_location`; also accepts `file:///...` URLs from other tools."""
    if url.startswith(LOCATION_PREFIX):
        rest = url[len(LOCATION_PREFIX):]
    elif url.startswith("file:///"):
        rest = url[len("file:///"):]
    else:
        raise ValueError(f"not a file://localhost/ location: {url!r}")
    decoded = os.fsdecode(urllib.parse.unquote_to_bytes(rest))
    if _WINDOWS_DRIVE.match(decoded):
        return Path(decoded)
    return Path("/" + decoded)


def _text(value: str) -> str:
    return _XML_INVALID.sub("", value)


def _track_element(parent: ET.Element, track: RbTrack) -> None:
    attrs: dict[str, str] = {"TrackID": str(track.track_id), "Name": _text(track.name)}
    attrs["Artist"] = _text(track.artist)
    if track.album is not None:
        attrs["Album"] = _text(track.album)
    if track.genre is not None:
        attrs["Genre"] = _text(track.genre)
    attrs["Kind"] = track.kind
    if track.size is not None:
        attrs["Size"] = str(int(track.size))
    attrs["TotalTime"] = str(int(track.total_time))
    if track.bpm is not None:
        attrs["AverageBpm"] = f"{track.bpm:.2f}"
    if track.date_added is not None:
        attrs["DateAdded"] = track.date_added
    if track.comments is not None:
        attrs["Comments"] = _text(track.comments)
    attrs["Location"] = encode_location(track.path)
    if track.tonality is not None:
        attrs["Tonality"] = _text(track.tonality)
    element = ET.SubElement(parent, "TRACK", attrs)
    if track.bpm is not None and track.first_beat is not None:
        # One grid marker on the first beat (Inizio: seconds, Battito: its beat of the bar; we
        # call it 1, not knowing the downbeat), the grid running on at Bpm from there.
        ET.SubElement(
            element,
            "TEMPO",
            {"Inizio": f"{track.first_beat:.3f}", "Bpm": f"{track.bpm:.2f}", "Metro": "4/4", "Battito": "1"},
        )


def _check(tracks: Sequence[RbTrack], playlists: Sequence[RbPlaylist]) -> None:
    ids: set[int] = set()
    locations: set[str] = set()
    for track in tracks:
        if not 0 < track.track_id < 2**31:
            raise ValueError(f"TrackID {track.track_id} out of range for {track.path}")
        if track.track_id in ids:
            raise ValueError(f"duplicate TrackID {track.track_id} ({track.path})")
        location = encode_location(track.path)
        if location in locations:
            raise ValueError(f"duplicate Location {track.path}: Rekordbox matches tracks by path")
        ids.add(track.track_id)
        locations.add(location)
    for playlist in playlists:
        missing = [tid for tid in playlist.track_ids if tid not in ids]
        if missing:
            raise ValueError(
                f"playlist {playlist.name!r} lists TrackIDs not in the collection: {missing[:5]}"
            )


def render_rekordbox_xml(
    tracks: Sequence[RbTrack], playlists: Sequence[RbPlaylist], *, product_version: str
) -> bytes:
    """The XML document as UTF-8 bytes (see `write_rekordbox_xml`)."""
    _check(tracks, playlists)
    root = ET.Element("DJ_PLAYLISTS", {"Version": "1.0.0"})
    ET.SubElement(root, "PRODUCT", {"Name": "cratefile", "Version": product_version, "Company": "cratefile"})
    collection = ET.SubElement(root, "COLLECTION", {"Entries": str(len(tracks))})
    for track in tracks:
        _track_element(collection, track)
    tree = ET.SubElement(root, "PLAYLISTS")
    top = ET.SubElement(tree, "NODE", {"Type": "0", "Name": "ROOT", "Count": str(len(playlists))})
    for playlist in playlists:
        node = ET.SubElement(
            top,
            "NODE",
            {
                "Name": _text(playlist.name),
                "Type": "1",
                "KeyType": "0",
                "Entries": str(len(playlist.track_ids)),
            },
        )
        for tid in playlist.track_ids:
            ET.SubElement(node, "TRACK", {"Key": str(tid)})
    ET.indent(root, space="  ")
    # The declaration spelled as Rekordbox writes it (ElementTree's uses single quotes).
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def write_rekordbox_xml(
    dest: Path, tracks: Sequence[RbTrack], playlists: Sequence[RbPlaylist], *, product_version: str
) -> None:
    """Write `dest` atomically. Raises ValueError on duplicate TrackIDs or Locations, or a
    playlist naming a TrackID missing from `tracks` (a bug upstream, not a user error)."""
    write_bytes(dest, render_rekordbox_xml(tracks, playlists, product_version=product_version))


def read_locations(xml: Path) -> list[Path]:
    """The file paths of the COLLECTION's tracks, in file order."""
    root = ET.parse(xml).getroot()
    collection = root.find("COLLECTION")
    if collection is None:
        return []
    tracks = collection.findall("TRACK")
    return [decode_location(t.attrib["Location"]) for t in tracks if "Location" in t.attrib]
