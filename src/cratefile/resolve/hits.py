"""A search result as resolution scores it, read from SoundCloud's api-v2 track object.

yt-dlp's flat search entries drop what matters most for a safe match (`policy`, `full_duration`,
`user.verified`, `publisher_metadata.isrc`), so the search keeps the raw object's relevant fields
(see resolve/search.py) and `Hit.from_api` reads them in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREVIEW_SECONDS = 30.0


MAX_TEXT = 300  # longer titles and names are cut: matching never reads megabytes of hostile text


def _str(value: Any) -> str | None:
    return value.strip()[:MAX_TEXT] or None if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(ms: Any) -> float | None:
    return ms / 1000.0 if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms > 0 else None


@dataclass(frozen=True)
class Hit:
    """One SoundCloud upload found by search, before scoring."""

    url: str  # permalink_url
    key: str  # the track key downloads use: 'soundcloud <id>'
    title: str
    uploader: str  # user.username
    uploader_permalink: str | None = None
    verified: bool = False  # user.verified (or badges.verified)
    followers: int | None = None
    duration: float | None = None  # seconds, of what plays (30 for a Go+ preview)
    full_duration: float | None = None  # seconds, of the whole track
    policy: str | None = None  # ALLOW | MONETIZE | SNIP | BLOCK
    plays: int | None = None  # playback_count
    likes: int | None = None
    isrc: str | None = None  # publisher_metadata.isrc, when the uploader set it
    artist: str | None = None  # publisher_metadata.artist, when the uploader set it
    release_title: str | None = None  # publisher_metadata.release_title
    label: str | None = None  # label_name
    genre: str | None = None

    @property
    def preview_only(self) -> bool:
        """Only a 30-s preview plays for us (Go+ policy SNIP, or a 30-s duration of a longer track)."""
        if self.policy == "SNIP":
            return True
        return (
            self.duration is not None and self.full_duration is not None
            and self.duration <= PREVIEW_SECONDS + 0.5 < self.full_duration
        )

    @property
    def blocked(self) -> bool:
        return self.policy == "BLOCK"

    @property
    def length(self) -> float | None:
        """The track's real length: full_duration when given, else duration."""
        return self.full_duration or self.duration

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Hit | None:
        """A hit from an api-v2 track object; None for what is not a playable track entry."""
        if raw.get("kind", "track") != "track" or not isinstance(raw.get("id"), int):
            return None
        url, title = _str(raw.get("permalink_url")), _str(raw.get("title"))
        if url is None or title is None:
            return None
        user = _mapping(raw.get("user"))
        badges = _mapping(user.get("badges"))
        meta = _mapping(raw.get("publisher_metadata"))
        return cls(
            url=url, key=f"soundcloud {raw['id']}", title=title,
            uploader=_str(user.get("username")) or "",
            uploader_permalink=_str(user.get("permalink")),
            verified=bool(user.get("verified") or badges.get("verified")),
            followers=_int(user.get("followers_count")),
            duration=_seconds(raw.get("duration")), full_duration=_seconds(raw.get("full_duration")),
            policy=_str(raw.get("policy")), plays=_int(raw.get("playback_count")),
            likes=_int(raw.get("likes_count")), isrc=_str(meta.get("isrc")),
            artist=_str(meta.get("artist")), release_title=_str(meta.get("release_title")),
            label=_str(raw.get("label_name")), genre=_str(raw.get("genre")),
        )
