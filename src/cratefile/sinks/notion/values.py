"""Notion property values, both ways, and what a track should look like in Notion.

Pure functions, no I/O: `normalize_url` (the match key), `chunk_text` (2000-unit rich-text
pieces, at most 100), `encode` (a simple value -> the request payload of a property type),
`decode` (a page's property -> the same simple form), `same` (tolerant comparison), and
`track_values` (a `NotionTrack` -> {property name: simple value} under a `SchemaReport`).

Simple forms by type: title/rich_text/url -> str (url may be None); checkbox -> bool;
number -> float | None; select/status -> str | None; multi_select -> tuple[str, ...].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cratefile.sinks.notion.schema import PATH_FIELD_PREFIX, SchemaReport

MAX_TEXT_UNITS = 2000  # per rich-text object; Notion counts UTF-16 code units (JavaScript)
MAX_ITEMS = 100  # per array: rich-text pieces, multi-select options
MAX_OPTION = 100  # characters in a select option name


@dataclass(frozen=True)
class NotionTrack:
    """One track as the catalog hands it to the mirror."""

    key: str
    source_url: str
    title: str | None
    artist: str | None
    downloaded: bool
    bpm: float | None
    key_name: str | None
    duration: float | None
    paths: tuple[tuple[str, str], ...]  # (format, absolute path)
    eagle_id: str | None
    status: tuple[str, ...]  # ("built",) or ("failed", "not_found")
    playlists: tuple[str, ...]
    page_id: str | None  # recorded by an earlier sync
    quality: str | None = None  # the source's provenance label (cratefile.quality)
    listing_url: str | None = None  # the Spotify/Discogs page of a search-matched track


def normalize_url(url: str | None) -> str:
    """The match key of a source URL: lowercase scheme and host, no `www.`/`m.`, no query,
    fragment or trailing slash. `https://m.SoundCloud.com/a/b/?si=x#t` -> `https://soundcloud.com/a/b`."""
    if not url:
        return ""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m."):
        host = host.removeprefix(prefix)
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    scheme = parts.scheme.lower()
    if scheme == "http":
        scheme = "https"  # the same page whatever the scheme
    return urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))


def _units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def chunk_text(text: str) -> list[str]:
    """Split into pieces of at most 2000 UTF-16 units (never inside a surrogate pair), at
    most 100 pieces; text beyond 200,000 units is cut (Notion could not hold it)."""
    pieces: list[str] = []
    start, used = 0, 0
    for i, ch in enumerate(text):
        u = _units(ch)
        if used + u > MAX_TEXT_UNITS:
            pieces.append(text[start:i])
            if len(pieces) == MAX_ITEMS:
                return pieces
            start, used = i, 0
        used += u
    if start < len(text):
        pieces.append(text[start:])
    return pieces[:MAX_ITEMS]


def fit_text(text: str) -> str:
    """The text as Notion will store it (after `chunk_text`)."""
    return "".join(chunk_text(text))


def option_name(name: str) -> str:
    """Select option names cannot contain commas and stop at 100 characters."""
    return " ".join(name.replace(",", " ").split())[:MAX_OPTION]


def encode(typ: str, value: Any) -> dict[str, Any]:
    """A simple value -> the property payload for a create or update."""
    if typ in ("title", "rich_text"):
        return {typ: [{"type": "text", "text": {"content": c}} for c in chunk_text(value or "")]}
    if typ == "url":
        return {"url": value or None}
    if typ == "checkbox":
        return {"checkbox": bool(value)}
    if typ == "number":
        return {"number": value}
    if typ in ("select", "status"):
        return {typ: {"name": value} if value else None}
    if typ == "multi_select":
        return {"multi_select": [{"name": n} for n in value]}
    raise ValueError(f"cannot write Notion property type {typ!r}")


def decode(prop: Mapping[str, Any] | None) -> Any:
    """A page's property value object -> its simple form (None for unknown types)."""
    if not prop:
        return None
    typ = prop.get("type")
    value = prop.get(typ) if typ else None
    if typ in ("title", "rich_text"):
        return "".join(
            item.get("plain_text") or (item.get("text") or {}).get("content", "")
            for item in value or []
        )
    if typ == "url":
        return value or None
    if typ == "checkbox":
        return bool(value)
    if typ == "number":
        return None if value is None else float(value)
    if typ in ("select", "status"):
        return value.get("name") if value else None
    if typ == "multi_select":
        return tuple(o.get("name", "") for o in value or [])
    return None


def same(typ: str, current: Any, wanted: Any) -> bool:
    """Equal for writing purposes: multi-select order and float noise do not count."""
    if typ == "number":
        if current is None or wanted is None:
            return current is None and wanted is None
        return math.isclose(float(current), float(wanted), rel_tol=0, abs_tol=1e-6)
    if typ == "multi_select":
        return set(current or ()) == set(wanted or ())
    if typ in ("title", "rich_text"):
        return (current or "") == (wanted or "")
    return bool(current == wanted)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == () or value is False


def _as(typ: str, value: Any) -> Any:
    """Fit a list-or-text field value to the property's type."""
    if typ == "multi_select":
        items = (value,) if isinstance(value, str) else tuple(value)
        out: list[str] = []
        for item in (option_name(i) for i in items):
            if item and item not in out:
                out.append(item)
        return tuple(out[:MAX_ITEMS])
    if typ in ("select", "status"):
        text = value if isinstance(value, str) else ": ".join(value)
        return option_name(text) or None
    if typ in ("title", "rich_text"):
        text = value if isinstance(value, str) else ", ".join(value)
        return fit_text(text)
    return value


def track_values(track: NotionTrack, report: SchemaReport) -> dict[str, tuple[str, Any]]:
    """{property name: (type, simple value)} that the track's page should hold.

    None means "no opinion" for title, artist, BPM, key, duration and Eagle id: a value the
    user typed by hand is not erased because we do not know better. Downloaded, source URL,
    paths, status and playlists are ours and always written.
    """
    raw: dict[str, Any] = {
        "title": track.title,
        "artist": track.artist,
        "source_url": track.source_url,
        "downloaded": track.downloaded,
        "bpm": None if track.bpm is None else round(float(track.bpm), 2),
        "key": track.key_name,
        "duration": None if track.duration is None else round(float(track.duration), 3),
        "paths": "\n".join(path for _fmt, path in track.paths),
        "eagle_id": track.eagle_id,
        "status": track.status,
        "playlists": track.playlists,
        "quality": track.quality,
        "listing_url": track.listing_url,
    }
    by_format = dict(track.paths)
    out: dict[str, tuple[str, Any]] = {}
    for our_field, (name, typ) in report.present.items():
        if our_field == "lock":
            continue
        if our_field.startswith(PATH_FIELD_PREFIX):
            value: Any = by_format.get(our_field[len(PATH_FIELD_PREFIX):], "")
        else:
            value = raw[our_field]
        if value is None:
            continue
        out[name] = (typ, _as(typ, value))
    return out


def changed(
    page: Mapping[str, Any], wanted: Mapping[str, tuple[str, Any]]
) -> dict[str, tuple[str, Any]]:
    """The subset of `wanted` that differs from what the page holds now."""
    props = page.get("properties") or {}
    return {
        name: (typ, value)
        for name, (typ, value) in wanted.items()
        if not same(typ, decode(props.get(name)), value)
    }


def payload(values: Mapping[str, tuple[str, Any]], *, skip_empty: bool = False) -> dict[str, Any]:
    """{name: (type, value)} -> the `properties` body. `skip_empty` for creates: an empty
    value on a new page is the default anyway."""
    return {
        name: encode(typ, value)
        for name, (typ, value) in values.items()
        if not (skip_empty and is_empty(value))
    }


def simple_values(page: Mapping[str, Any]) -> dict[str, Any]:
    """Every property of a page in simple form."""
    return {name: decode(prop) for name, prop in (page.get("properties") or {}).items()}


def prop_types(page: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(prop.get("type")) for name, prop in (page.get("properties") or {}).items()}


def first_nonempty(values: Sequence[Any]) -> Any:
    return next((v for v in values if not is_empty(v)), None)
