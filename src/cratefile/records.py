"""Frozen records: what the manifest and rules say, and what a playlist snapshot holds.

Built once by `manifest.py` (and the sources); nothing downstream reads raw YAML dicts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

KeyNotation = Literal["standard", "camelot", "openkey"]


def stem_of(key: str) -> str:
    """File stem of a track key: 'soundcloud 123456' -> 'soundcloud-123456'."""
    return re.sub(r"[^a-z0-9_.]+", "-", key.lower()).strip("-.") or "track"


def digest(obj: Any) -> str:
    """Stable short digest of a JSON-able value (records go through asdict first)."""
    if hasattr(obj, "__dataclass_fields__"):
        obj = asdict(obj)
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class FormatRecipe:
    """One output format, from rules/formats.yaml: how ffmpeg writes it and how it is tagged."""

    name: str  # "wav"
    extension: str  # "wav" (no dot)
    codec: str  # ffmpeg audio encoder: pcm_s16le, pcm_s16be, aac, libmp3lame, flac, alac
    container: str  # ffmpeg muxer: wav, aiff, ipod, mp3, flac
    tagger: Literal["id3", "mp4", "flac"]  # how mutagen writes tags into it
    sample_rate: int | None = None  # None keeps the source rate
    channels: int | None = None  # None keeps the source layout (max 2)
    sample_fmt: str | None = None  # ffmpeg -sample_fmt, e.g. s16, s32
    bitrate: str | None = None  # "320k" for lossy codecs
    args: tuple[str, ...] = ()  # extra ffmpeg output args, e.g. ("-aac_coder", "fast")

    @property
    def digest(self) -> str:
        return digest(self)


@dataclass(frozen=True)
class NamingRule:
    """From rules/naming.yaml: how a library file is named."""

    template: str = "{artist} - {title}"
    max_length: int = 150  # UTF-8 bytes of the stem, before the extension
    fallback_artist: str = "Unknown Artist"
    fallback_title: str = "Untitled"


@dataclass(frozen=True)
class AnalysisOptions:
    bpm_min: float = 88.0  # folding range is [bpm_min, bpm_max); one octave by default
    bpm_max: float = 176.0
    key_notation: KeyNotation = "standard"
    overwrite: bool = False  # replace BPM/key tags the source file already carries

    @property
    def digest(self) -> str:
        return digest(self)


@dataclass(frozen=True)
class YtdlpOptions:
    cookiefile: str | None = None
    proxy: str | None = None
    ratelimit: int | None = None  # bytes per second
    nocheckcertificate: bool = False
    sleep_requests: float = 0.0  # seconds between API requests
    retries: int = 10
    # The SoundCloud OAuth token itself (resolved from the environment variable the manifest
    # names). Never printed: repr=False, and never written to caches or reports.
    oauth_token: str | None = field(default=None, repr=False, compare=False)
    # Tests only: send requests for known hosts to this loopback server instead
    # ('http://127.0.0.1:PORT'); the first path segment of the rewritten URL is the host.
    loopback: str | None = None
    cachedir: str | None = None  # yt-dlp's cache (client_id), under cache/ by default


@dataclass(frozen=True)
class Source:
    kind: Literal["url", "folder", "notion"]
    location: str  # the URL, the folder's absolute path, or the Notion filter


@dataclass(frozen=True)
class Playlist:
    name: str  # as the user wrote it; used for folders, M3U names, album/grouping tags
    slug: str  # unique, file-safe: cache/playlists/<slug>.json
    source: Source
    formats: tuple[str, ...]
    refresh_seconds: float  # snapshot max age
    analysis: AnalysisOptions  # the manifest's analysis, with this playlist's overrides
    yaml_path: str = ""  # 'playlists[2]' for messages


@dataclass(frozen=True)
class RetryPolicy:
    cool_off_hours: float = 24.0 * 7  # permanent failures are retried after this long
    transient_attempts: int = 4  # tries inside one run for transient failures


@dataclass(frozen=True)
class NotionConfig:
    database: str  # id (dashes optional) parsed from an id or URL
    token_env: str
    token: str | None = field(default=None, repr=False, compare=False)
    api_url: str = "https://api.notion.com"
    properties: tuple[tuple[str, str], ...] = ()  # (our field, user's property name)


@dataclass(frozen=True)
class EagleConfig:
    api_url: str = "http://localhost:41595"
    formats: tuple[str, ...] = ("wav", "aiff")
    folder: str = "Playlists/{playlist}"


@dataclass(frozen=True)
class RekordboxConfig:
    path: Path  # absolute
    format: str | None = None  # None: each playlist's first format


@dataclass(frozen=True)
class Manifest:
    path: Path  # playlists.yaml
    root: Path  # the workspace folder (holds playlists.yaml, rules/, cache/)
    library: Path  # absolute
    cache: Path  # absolute
    formats: dict[str, FormatRecipe] = field(hash=False)  # every known format, by name
    naming: NamingRule
    analysis: AnalysisOptions
    ytdlp: YtdlpOptions
    retry: RetryPolicy
    playlists: tuple[Playlist, ...]
    notion: NotionConfig | None = None
    eagle: EagleConfig | None = None
    rekordbox: RekordboxConfig | None = None

    def playlist(self, slug: str) -> Playlist:
        for p in self.playlists:
            if p.slug == slug:
                return p
        raise KeyError(slug)


@dataclass(frozen=True)
class TrackRef:
    """One entry of a playlist snapshot. Metadata may be missing (flat SoundCloud entries)."""

    key: str  # '<extractor> <id>' as yt-dlp writes it to a download archive
    url: str
    title: str | None = None
    artist: str | None = None
    duration: float | None = None
    entry: dict[str, Any] = field(default_factory=dict, hash=False)  # what the source needs to download

    @property
    def stem(self) -> str:
        return stem_of(self.key)


@dataclass(frozen=True)
class Snapshot:
    playlist: str  # slug
    source: str  # URL or folder
    fetched_at: float  # unix time
    tracks: tuple[TrackRef, ...]
