"""Local folder source: every audio file under a folder is a track, in natural path order.

The key is `local <hash of the absolute path>`, so two playlists over the same folder share
tracks and a re-tagged file keeps its key. The "download" of a local file does not copy it:
the sidecar points at the file and records its size and mtime, so an edited file is noticed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.atomic import write_bytes
from cratefile.errors import Category, CratefileError, SourceError, TrackFailure
from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.sources.base import Listing, ManifestReader, SourceBase
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext

AUDIO_EXTENSIONS = frozenset({".wav", ".aif", ".aiff", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".alac"})


_DIGITS = re.compile(r"(\d+)")


def _natural(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(path)]


def listing(folder: Path) -> list[Path]:
    """Audio files under `folder`, natural order, hidden files and our own temp files skipped."""
    return [Path(path) for path, _ in _listed(folder)]


def _listed(folder: Path) -> list[tuple[str, os.DirEntry[str]]]:
    """(path, entry) of `listing`'s files, in its order: strings and scandir entries, no Path
    per file (a 20,000-file folder is listed on every run to tell whether it changed). Walks
    as os.walk does (top-down, symbolic links to folders not followed)."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: folder not found (an unplugged drive? fix the playlist's folder: path); "
                          "its files stay in the library")
    base = str(folder)
    found: list[tuple[str, str, os.DirEntry[str]]] = []  # (path relative to folder, path, entry)

    def walk(top: str, rel: str) -> None:
        try:
            with os.scandir(top) as it:
                entries = list(it)
        except OSError:  # as os.walk: an unreadable folder is skipped
            return
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            name = entry.name
            if name.startswith("."):
                continue
            if is_dir:
                subdirs.append(entry)
            elif f".{name.rpartition('.')[2].lower()}" in AUDIO_EXTENSIONS and "." in name:  # os.path.splitext's
                found.append((f"{rel}{name}", entry.path, entry))
        for entry in subdirs:
            try:
                linked = entry.is_symlink()
            except OSError:
                linked = False
            if not linked:
                walk(entry.path, f"{rel}{entry.name}/")

    walk(base, "")
    found.sort(key=lambda f: _natural(f[0]))
    return [(path, entry) for _, path, entry in found]


def listing_digest(folder: Path, seen: dict[str, tuple[int, int]] | None = None) -> str:
    """Changes when a file is added, removed, renamed or rewritten. `seen` gets each listed
    file's (mtime_ns, size) as this listing found it (RunContext.seen_files)."""
    h = hashlib.sha256()
    for path, entry in _listed(folder):
        try:
            st = entry.stat()
        except OSError as exc:  # a loop or a dangling link: that entry's failure, not the folder's
            h.update(f"{path}\0{exc.errno}\n".encode())
            continue
        if seen is not None:
            seen[path] = (st.st_mtime_ns, st.st_size)
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]



def enumerate_folder(folder: Path) -> list[TrackRef]:
    from cratefile.sources import probe

    refs = []
    for path in listing(folder):
        try:
            real = path.resolve(strict=True)
            st = real.stat()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a dangling link, no permission
            # listed all the same, so that prepare() records why this one entry cannot be used
            where = Path(os.path.abspath(path))
            refs.append(TrackRef(key=_key(where), url=where.as_uri(), title=path.stem,
                                 entry={"path": str(where), "error": f"{path.name}: {_why(exc)}"}))
            continue
        try:
            facts = probe.read(real)
        except TrackFailure:  # listed all the same: prepare() records why it cannot be used
            facts = probe.AudioFacts()
        title, artist = facts.title, facts.artist
        if not title:
            title, named_artist = title_from_name(path.stem)
            artist = artist or named_artist
        refs.append(
            TrackRef(key=_key(real), url=real.as_uri(), title=title, artist=artist, duration=facts.duration,
                     entry={"path": str(real), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        )
    return refs


_TRACK_NUMBER = re.compile(r"^\s*(?:\d{1,3}|[A-D]\d{1,2})\s*[-._)]?\s+")


def title_from_name(stem: str) -> tuple[str, str | None]:
    """(title, artist) from a file name: '07 Artist - Title' -> ('Title', 'Artist'); a leading
    track number (07, 07., A1) is not part of the artist."""
    if " - " not in stem:
        return stem, None
    artist, title = (s.strip() for s in stem.split(" - ", 1))
    artist = _TRACK_NUMBER.sub("", artist, count=1) or artist
    return title, artist


def _key(path: Path) -> str:
    return "local " + hashlib.sha1(str(path).encode()).hexdigest()[:16]


def _why(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "a symbolic link loop"
    if isinstance(exc, FileNotFoundError):
        return "a link to a file that does not exist"
    if isinstance(exc, PermissionError):
        return "no permission to read it"
    return str(exc)


def prepare(ref: TrackRef, dest_dir: Path) -> Sidecar:
    """The sidecar for a local file (which stays where it is)."""
    from cratefile.sources import probe

    path = Path(ref.entry["path"])
    if ref.entry.get("error"):
        raise TrackFailure(Category.UNREADABLE, str(ref.entry["error"]))
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


class FolderSource(SourceBase):
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
        if folder.exists() and not folder.is_dir():
            shown = "" if reader.from_env(path) else f" ({folder})"
            reader.bad(path, f"{reader.show(path)} is a file, not a folder{shown}",
                       "folder: is relative to the folder holding playlists.yaml")
        # a folder that does not exist (an unplugged drive) fails that playlist at fetch time,
        # so the rest of the manifest builds
        return SourceSpec(self.kind, str(folder))

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        where = Path(playlist.source.location)
        return Listing(tuple(enumerate_folder(where)), {"digest": listing_digest(where)})

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        try:
            return meta.get("digest") == listing_digest(Path(playlist.source.location), run.seen_files())
        except CratefileError:
            return False

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        return prepare(ref, dest)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return is_current(sidecar)
