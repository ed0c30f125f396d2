"""Frozen records: what the manifest and rules say, and what a playlist snapshot holds.

Built once by `manifest.py` (and the sources); nothing downstream reads raw YAML dicts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

KeyNotation = Literal["standard", "camelot", "openkey"]


_UNSAFE_STEM = re.compile(r"[^a-z0-9_.]+")
_stems: dict[str, str] = {}  # stem_of's answers: called per track several times a run


def stem_of(key: str) -> str:
    """File stem of a track key: 'soundcloud 123456' -> 'soundcloud-123456'."""
    stem = _stems.get(key)
    if stem is None:
        stem = _UNSAFE_STEM.sub("-", key.lower()).strip("-.") or "track"
        if len(_stems) < 1_000_000:  # bounded: a long-lived process (tests) does not grow forever
            _stems[key] = stem
    return stem


TRACK_STAGES = ("download", "analyze", "convert")  # the per-track doit basenames, in build order


def task_track_stem(task_name: str, stages: tuple[str, ...] = TRACK_STAGES) -> str | None:
    """The one task-name parser: the track stem of a per-track task ('convert:<stem>:wav'),
    None for playlist and sink tasks ('publish:<slug>', 'notion:sync'). `stages`: the
    basenames that count as per-track (the progress display adds 'eagle')."""
    parts = task_name.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] in stages else None


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
    # A tempo range [bpm_min, bpm_max) or none (None, None: the octave is the music's). With
    # bpm_range_mode "prefer" a tempo whose octave the music leaves open goes inside it; with
    # "force" every tempo is doubled or halved into it (then one octave wide).
    bpm_min: float | None = None
    bpm_max: float | None = None
    key_notation: KeyNotation = "standard"
    overwrite: bool = False  # replace BPM/key tags the source file already carries
    bpm_range_mode: str = "prefer"  # prefer | force

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
    soundcloud_api_budget: tuple[int, float] = (600, 600.0)  # SoundCloud API: requests per seconds, per process
    retries: int = 10
    # The SoundCloud OAuth token itself (resolved from the environment variable the manifest
    # names). Never printed: repr=False, and never written to caches or reports.
    oauth_token: str | None = field(default=None, repr=False, compare=False)
    # Tests only: send requests for known hosts to this loopback server instead
    # ('http://127.0.0.1:PORT'); the first path segment of the rewritten URL is the host.
    loopback: str | None = None
    cachedir: str | None = None  # yt-dlp's cache (client_id), under cache/ by default


@dataclass(frozen=True)
class SourceSpec:
    """A playlist's source as its kind parsed it (see `cratefile.sources`)."""

    kind: str  # a key of cratefile.sources.SOURCES: 'url', 'folder', 'notion', ...
    location: str  # what the snapshot records as its source: the URL, the folder, the filter
    options: tuple[tuple[str, Any], ...] = ()  # anything else the kind needs, hashable


@dataclass(frozen=True)
class Playlist:
    name: str  # as the user wrote it; used for folders, M3U names, album/grouping tags
    slug: str  # unique, file-safe: cache/playlists/<slug>.json
    source: SourceSpec
    formats: tuple[str, ...]
    refresh_seconds: float  # snapshot max age
    analysis: AnalysisOptions  # the manifest's analysis, with this playlist's overrides
    yaml_path: str = ""  # 'playlists[2]' for messages
    shrink_guard: float = 0.25  # safety.shrink_guard, or this playlist's own (see SafetyPolicy)
    from_lossy: tuple[tuple[str, str], ...] = ()  # (format, allow|skip) where not warn: cratefile.quality.policy


@dataclass(frozen=True)
class RetryPolicy:
    cool_off_hours: float = 24.0 * 7  # permanent failures are retried after this long
    transient_attempts: int = 4  # tries inside one run for transient failures


@dataclass(frozen=True)
class PrunePolicy:
    """`prune:` — what `cratefile prune` keeps in library/.trash."""

    keep_trash_seconds: float = 30 * 86400.0  # a trash folder older than this is emptied by the next prune


@dataclass(frozen=True)
class SafetyPolicy:
    """`safety:` — when a fetch is not trusted. A new listing that lost more than `shrink_guard`
    (a share) of the previous snapshot's tracks, or came back empty, is held back: the previous
    snapshot stays for publishing and pruning until `cratefile --accept-shrink`. A single track
    leaving is an edit, never held back (unless it leaves the playlist empty)."""

    shrink_guard: float = 0.25


@dataclass(frozen=True)
class MatchPolicy:
    """`match:` and `pins:` — how Spotify/Discogs tracks become uploads (cratefile.resolve)."""

    accept: float = 0.90
    on: tuple[str, ...] = ("soundcloud",)
    review_ttl_seconds: float = 30 * 86400.0
    pins: tuple[tuple[str, str], ...] = ()  # (source id, upload URL), as the manifest lists them

    def pin(self, source_id: str) -> str | None:
        return next((url for sid, url in self.pins if sid == source_id), None)


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
    # each configured sink's frozen config, by sink name (cratefile.sinks.SINKS), in registry order
    sinks: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # a source kind's top-level settings (`spotify: {client_id_env: ...}`), by kind
    source_settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    prune: PrunePolicy = PrunePolicy()
    safety: SafetyPolicy = SafetyPolicy()
    match: MatchPolicy = MatchPolicy()

    def sink(self, name: str) -> Any:
        """The config of sink `name`, or None when the manifest does not configure it."""
        return self.sinks.get(name)

    def settings(self, kind: str) -> Any:
        """The parsed top-level settings section of source kind `kind`, or None."""
        return self.source_settings.get(kind)

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
class Claim:
    """A track as the manifest wants it: its ref, source kind and the playlists listing it."""

    ref: TrackRef
    kind: str
    playlists: tuple[Playlist, ...]

    @property
    def formats(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.playlists:
            seen.update(dict.fromkeys(p.formats))
        return tuple(seen)


@dataclass(frozen=True)
class Snapshot:
    playlist: str  # slug
    source: str  # URL or folder
    fetched_at: float  # unix time
    tracks: tuple[TrackRef, ...]


@dataclass(frozen=True)
class Sidecar:
    """What a download leaves next to the audio (`cache/audio/<stem>.json`); every stage after
    the download reads it through `from_json`. Written last: its presence means the audio is
    complete."""

    key: str  # the track key
    url: str
    audio: str  # the audio file: a name under cache/audio, or an absolute path (local files)
    ext: str = ""
    codec: str | None = None
    bitrate: int | None = None  # kbit/s
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = None  # measured from the file
    declared_duration: float | None = None  # what the source said
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    upload_date: str | None = None  # YYYYMMDD
    format_id: str | None = None
    artwork: str | None = None  # a file name under cache/audio
    artwork_url: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict, hash=False)  # BPM/key the file carries
    size: int | None = None  # local files: what the file was when the sidecar was made
    mtime_ns: int | None = None
    supplied_by: str | None = None  # "eagle:<item id>": copied from an app's library, not downloaded

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = dict(self.tags)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Sidecar | None:
        """The sidecar in `data` (a parsed JSON file), or None when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("audio"), str) or not data.get("key"):
            return None
        known = {f: data[f] for f in _SIDECAR_FIELDS if f in data}
        known["tags"] = dict(known.get("tags") or {})
        known.setdefault("url", "")
        return cls(**known)


_SIDECAR_FIELDS = tuple(Sidecar.__dataclass_fields__)


@dataclass(frozen=True)
class AnalysisResult:
    """`cache/analysis/<stem>.json`: the BPM and musical key a track's tags get, where each came
    from (the analysis or the file's own tags), and what the result was made of (`inputs`)."""

    bpm: float | None = None  # None: no reliable pulse (no BPM tag, no beat grid)
    bpm_source: str = "analysis"  # analysis | tag
    bpm_confidence: float | None = None
    bpm_alt: float | None = None  # the other tempo octave the analysis weighed (half or double)
    musical_key: str | None = None  # standard notation: 'Am', 'F#'
    key_source: str = "analysis"
    key_confidence: float | None = None
    duration: float | None = None
    first_beat: float | None = None  # seconds: where the beat grid starts
    measured: Mapping[str, Any] = field(default_factory=dict, hash=False)  # the analyzer's own output
    inputs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["measured"], data["inputs"] = dict(self.measured), dict(self.inputs)
        return data

    @classmethod
    def from_json(cls, data: Any) -> AnalysisResult | None:
        if not isinstance(data, dict):
            return None
        known = {f: data[f] for f in _ANALYSIS_FIELDS if f in data}
        if "musical_key" not in known and isinstance(data.get("key"), str):  # written before 0.2
            known["musical_key"] = data["key"]
        known["measured"] = dict(known.get("measured") or {})
        known["inputs"] = dict(known.get("inputs") or {})
        return cls(**known)


_ANALYSIS_FIELDS = tuple(AnalysisResult.__dataclass_fields__)
