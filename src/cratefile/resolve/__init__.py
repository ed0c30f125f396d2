"""Search-matched sources: a Spotify or Discogs track becomes a SoundCloud upload only through
evidence, never by relevance order.

The contract between the metadata-only source kinds (sources/spotify.py, sources/discogs.py)
and resolution:

- the kind enumerates its playlist into `Wanted` records (what the service knows of each
  track: title, artists, album, duration, ISRC, remixers, its page URL);
- it hands them to `resolve_listing(run, playlist, wanted)`, which returns the playlist's
  `Listing`: one ordinary upload ref per confidently matched (or pinned) track, keyed by the
  upload (`soundcloud 123`), so an upload named by several playlists is downloaded once; and,
  in the listing's `meta["review"]`, the tracks that need a human (with their best candidates);
- downloads are then ordinary yt-dlp downloads of the matched uploads.

Every decision is written to `playlists.lock` next to the manifest (source id -> upload URL,
confidence, when, how), so a rerun makes no search; pins in the manifest always win.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cratefile.records import Playlist

if TYPE_CHECKING:  # sources import this module: no import of cratefile.sources at load
    from cratefile.context import RunContext
    from cratefile.sources.base import Listing

# the source kinds whose tracks are matched to uploads by search (their snapshots' meta["review"])
RESOLVED_KINDS = frozenset({"spotify", "discogs"})

DecisionStatus = Literal["matched", "pinned", "review", "unmatched"]


@dataclass(frozen=True)
class Wanted:
    """One track as a metadata-only source knows it."""

    source_id: str  # 'spotify:track:4uLU6hMCjMI75M1A2tKUQC', 'discogs:release:249504:A1'
    title: str
    artists: tuple[str, ...]  # as credited, in order, disambiguation suffixes ('Artist (2)') removed
    album: str | None = None
    duration: float | None = None  # seconds; None when the service does not say
    isrc: str | None = None
    url: str | None = None  # the track's (or release's) page on the service
    remixers: tuple[str, ...] = ()  # credited only as extra artists (Discogs role "Remix")
    popularity: int | None = None  # 0-100 where the service still gives it
    position: str | None = None  # the tracklist position (Discogs 'A1', 'B2')

    @property
    def artist(self) -> str:
        return ", ".join(self.artists)

    def to_entry(self) -> dict[str, Any]:
        data = asdict(self)
        data["artists"], data["remixers"] = list(self.artists), list(self.remixers)
        return data

    @classmethod
    def from_entry(cls, data: dict[str, Any]) -> Wanted:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["artists"] = tuple(known.get("artists") or ())
        known["remixers"] = tuple(known.get("remixers") or ())
        return cls(**known)


@dataclass(frozen=True)
class Candidate:
    """One search result, scored."""

    url: str  # the upload's page, e.g. https://soundcloud.com/artist/title
    key: str | None  # its track key when known ('soundcloud 123')
    title: str
    uploader: str | None
    duration: float | None  # seconds
    score: float  # 0..1
    reasons: tuple[str, ...] = ()  # why the score is what it is: 'version differs: remix', ...
    usable: bool = True  # False for a preview or a blocked upload: never accepted, whatever its score

    def to_entry(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_entry(cls, data: dict[str, Any]) -> Candidate:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["reasons"] = tuple(known.get("reasons") or ())
        return cls(**known)


@dataclass(frozen=True)
class Decision:
    """What resolution decided for one wanted track; one entry of playlists.lock."""

    source_id: str
    status: DecisionStatus
    url: str | None = None  # the upload, when matched or pinned
    key: str | None = None  # the upload's track key, when known
    confidence: float | None = None
    decided_at: float = 0.0
    how: str = "search"  # search | pin | review
    candidates: tuple[Candidate, ...] = field(default=(), hash=False)  # best few, for review
    note: str | None = None  # 'preview only', 'two different uploads score alike', ...

    def to_entry(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "candidates" and v is not None}
        data["candidates"] = [c.to_entry() for c in self.candidates]
        return data

    @classmethod
    def from_entry(cls, data: dict[str, Any]) -> Decision:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "candidates"}
        cands = tuple(Candidate.from_entry(c) for c in data.get("candidates") or [] if isinstance(c, dict))
        return cls(**known, candidates=cands)


def resolve_listing(run: RunContext, playlist: Playlist, wanted: list[Wanted]) -> Listing:
    """The playlist's upload refs for `wanted`: pinned, locked, or matched by search; the rest
    in `meta["review"]` (see cratefile.resolve.run)."""
    from cratefile.resolve.run import resolve

    return resolve(run, playlist, wanted)


def _digest(pins: Any) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(sorted(pins)).encode()).hexdigest()[:16]


def pins_digest(run: RunContext) -> str:
    return _digest(run.manifest.match.pins)


def resolution_fresh(run: RunContext, meta: Mapping[str, Any]) -> bool:
    """A resolved playlist's snapshot still says what the pins and playlists.lock say: no pin
    was changed in the manifest, no answer given in `cratefile review` since it was made, and
    `--rematch` was not asked for."""
    import os

    if run.rematch or meta.get("pins", _digest(())) != pins_digest(run):
        return False
    fetched = float(meta.get("fetched_at", 0))
    for path in (run.manifest.path.parent / "playlists.lock", run.manifest.cache / "matches.json"):
        try:
            if os.stat(path).st_mtime > fetched:
                return False
        except FileNotFoundError:
            continue
    return True
