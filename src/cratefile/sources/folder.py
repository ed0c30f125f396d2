"""Local folder source: every audio file under a folder is a track, in natural path order.

The key is `local <hash of the absolute path>`, so two playlists over the same folder share
tracks and a re-tagged file keeps its key. The "download" of a local file does not copy it:
the sidecar points at the file and records its size and mtime, so an edited file is noticed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.atomic import write_bytes
from cratefile.errors import Category, CratefileError, SourceError, TrackFailure
from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.sources.base import Listing, ManifestReader
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext

AUDIO_EXTENSIONS = frozenset({".wav", ".aif", ".aiff", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".alac"})


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def listing(folder: Path) -> list[Path]:
    """Audio files under `folder`, natural order, hidden files and our own temp files skipped."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: folder not found (fix the playlist's folder: path)")
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(Path(dirpath, name))
    return sorted(found, key=lambda p: _natural(str(p.relative_to(folder))))


def listing_digest(folder: Path) -> str:
    """Changes when a file is added, removed, renamed or rewritten."""
    h = hashlib.sha256()
    for path in listing(folder):
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def enumerate_folder(folder: Path) -> list[TrackRef]:
    from cratefile.sources import probe

    refs = []
    for path in listing(folder):
        try:
            facts = probe.read(path)
        except TrackFailure:  # listed all the same: prepare() records why it cannot be used
            facts = probe.AudioFacts()
        title, artist = facts.title, facts.artist
        if not title:
            stem = path.stem
            if " - " in stem and not artist:
                artist, title = (s.strip() for s in stem.split(" - ", 1))
            else:
                title = stem
        key = "local " + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
        refs.append(
            TrackRef(key=key, url=path.resolve().as_uri(), title=title, artist=artist, duration=facts.duration,
                     entry={"path": str(path.resolve())})
        )
    return refs


def prepare(ref: TrackRef, dest_dir: Path) -> Sidecar:
    """The sidecar for a local file (which stays where it is)."""
    from cratefile.sources import probe

    path = Path(ref.entry["path"])
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise TrackFailure(Category.NOT_FOUND, f"{path}: file is gone") from exc
    except OSError as exc:
        raise TrackFailure(Category.UNREADABLE, f"{path.name}: not readable as audio ({exc})") from exc
    facts = probe.read(path)
    artwork = None
    if facts.cover:
        artwork = f"{ref.stem}.cover.jpg"
        write_bytes(dest_dir / artwork, facts.cover)
    return Sidecar(
        key=ref.key,
        url=ref.url,
        audio=str(path),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        ext=path.suffix.lstrip(".").lower(),
        codec=facts.codec,
        bitrate=facts.bitrate,
        sample_rate=facts.sample_rate,
        channels=facts.channels,
        duration=facts.duration,
        declared_duration=ref.duration,
        title=ref.title,
        artist=ref.artist,
        album=facts.album,
        artwork=artwork,
        tags={name: value for name, value in facts.tags.items() if value is not None},
    )


def is_current(sidecar: Sidecar) -> bool:
    """True while the local file is the one the sidecar describes."""
    try:
        st = os.stat(sidecar.audio)
    except OSError:
        return False
    return st.st_size == sidecar.size and st.st_mtime_ns == sidecar.mtime_ns


class FolderSource:
    """`folder: <path>`: every audio file under a local folder, in natural path order."""

    kind = "folder"
    schema: Mapping[str, Any] = {
        "description": "A local folder of audio files to use as the playlist, relative to the folder "
                       "holding playlists.yaml. It must exist.",
        "$ref": "#/$defs/path",
        "examples": ["examples/demo"],
    }

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        folder = reader.local_path(value)
        if not folder.is_dir():
            shown = "" if reader.from_env(path) else f" ({folder})"
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            reader.bad(path, f"{reader.show(path)} {what}{shown}",
                       "folder: is relative to the folder holding playlists.yaml")
        return SourceSpec(self.kind, str(folder))

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        where = Path(playlist.source.location)
        return Listing(tuple(enumerate_folder(where)), {"digest": listing_digest(where)})

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        try:
            return meta.get("digest") == listing_digest(Path(playlist.source.location))
        except CratefileError:
            return False

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        return prepare(ref, dest)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return is_current(sidecar)
