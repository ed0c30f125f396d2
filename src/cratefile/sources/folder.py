"""Local folder source: every audio file under a folder is a track, in natural path order.

The key is `local <hash of the absolute path>`, so two playlists over the same folder share
tracks and a re-tagged file keeps its key. The "download" of a local file does not copy it:
the sidecar points at the file and records its size and mtime, so an edited file is noticed.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import mutagen

from cratefile.atomic import write_bytes
from cratefile.errors import Category, SourceError, TrackFailure
from cratefile.records import TrackRef

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


def _first(tags: Any, *names: str) -> str | None:
    for name in names:
        value = tags.get(name) if tags is not None else None
        if value:
            text = str(value[0] if isinstance(value, list) else value).strip()
            if text:
                return text
    return None


def _easy_tags(path: Path) -> Any:
    try:
        f = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError, ValueError):
        return None
    return f


def enumerate_folder(folder: Path) -> list[TrackRef]:
    refs = []
    for path in listing(folder):
        f = _easy_tags(path)
        tags = f.tags if f is not None else None
        title = _first(tags, "title")
        artist = _first(tags, "artist")
        if not title:
            stem = path.stem
            if " - " in stem and not artist:
                artist, title = (s.strip() for s in stem.split(" - ", 1))
            else:
                title = stem
        key = "local " + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
        duration = float(f.info.length) if f is not None and getattr(f, "info", None) else None
        refs.append(
            TrackRef(key=key, url=path.resolve().as_uri(), title=title, artist=artist, duration=duration,
                     entry={"path": str(path.resolve())})
        )
    return refs


def _cover(path: Path) -> bytes | None:
    try:
        f = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError):
        return None
    if f is None or f.tags is None:
        return None
    pictures = getattr(f, "pictures", None)
    if pictures:
        return pictures[0].data
    tags = f.tags
    if hasattr(tags, "getall"):
        apic = tags.getall("APIC")
        if apic:
            return apic[0].data
    covr = tags.get("covr") if hasattr(tags, "get") else None
    if covr:
        return bytes(covr[0])
    return None


def _bpm_key(path: Path) -> dict[str, Any]:
    f = _easy_tags(path)
    tags = f.tags if f is not None else None
    out: dict[str, Any] = {}
    bpm = _first(tags, "bpm")
    if bpm:
        try:
            value = float(bpm)
            if 0 < value < 400:
                out["bpm"] = value
        except ValueError:
            pass  # a non-numeric BPM tag is no trusted value: analysis provides one
    key = None
    raw = mutagen.File(path) if f is not None else None
    if raw is not None and raw.tags is not None:
        if hasattr(raw.tags, "getall") and raw.tags.getall("TKEY"):
            key = str(raw.tags.getall("TKEY")[0].text[0])
        elif hasattr(raw.tags, "get"):
            for name in ("----:com.apple.iTunes:initialkey", "initialkey", "INITIALKEY"):
                value = raw.tags.get(name)
                if value:
                    v = value[0]
                    key = v.decode() if isinstance(v, bytes) else str(v)
                    break
    if key:
        out["key"] = key.strip()
    return out


def prepare(ref: TrackRef, dest_dir: Path) -> dict[str, Any]:
    """The sidecar for a local file (which stays where it is)."""
    path = Path(ref.entry["path"])
    try:
        st = path.stat()
        f = mutagen.File(path)
    except FileNotFoundError as exc:
        raise TrackFailure(Category.NOT_FOUND, f"{path}: file is gone") from exc
    except (mutagen.MutagenError, OSError) as exc:
        raise TrackFailure(Category.UNREADABLE, f"{path.name}: not readable as audio ({exc})") from exc
    if f is None or not getattr(f, "info", None):
        raise TrackFailure(Category.UNREADABLE, f"{path.name}: not an audio file mutagen can read")
    info = f.info
    easy = _easy_tags(path)
    artwork = None
    cover = _cover(path)
    if cover:
        artwork = f"{ref.stem}.cover.jpg"
        write_bytes(dest_dir / artwork, cover)
    return {
        "key": ref.key,
        "url": ref.url,
        "audio": str(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ext": path.suffix.lstrip(".").lower(),
        "codec": type(info).__module__.rsplit(".", 1)[-1],
        "bitrate": int(getattr(info, "bitrate", 0) or 0) // 1000 or None,
        "sample_rate": getattr(info, "sample_rate", None),
        "channels": getattr(info, "channels", None),
        "duration": float(info.length),
        "declared_duration": ref.duration,
        "title": ref.title,
        "artist": ref.artist,
        "album": _first(easy.tags if easy is not None else None, "album"),
        "genre": None,
        "artwork": artwork,
        "tags": _bpm_key(path),
    }


def is_current(sidecar: dict[str, Any]) -> bool:
    """True while the local file is the one the sidecar describes."""
    try:
        st = os.stat(sidecar["audio"])
    except (OSError, KeyError):
        return False
    return st.st_size == sidecar.get("size") and st.st_mtime_ns == sidecar.get("mtime_ns")
