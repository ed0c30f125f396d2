"""A Discogs release's tracklist → the `Wanted` tracks resolution searches for. Pure: JSON in,
records out.

The shapes (GET /releases/{id}): `tracklist[]` of `{position, type_, title, duration,
artists?, extraartists?, sub_tracks?}`. `type_` is `track`, `heading` (a side's or a disc's
title: skipped) or `index` (a titled group whose `sub_tracks` are the tracks). Positions are
vinyl-style (`A1`, `B2`, `AA`), numbers, or empty. Durations are `m:ss`, `h:mm:ss` or empty.
Credits are `{name, anv, join, role, tracks}`: `name` may carry a disambiguation suffix
(`Artist (2)`), `anv` is the name as credited on this release, `join` the word between two
credits (`&`, `feat.`, `,`). A remix may be credited only in `extraartists` (role `Remix`),
on the track or on the release with `tracks: "A2"` naming the positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # imported where used: cratefile.resolve may import the sources (and so this module) itself
    from cratefile.resolve import Wanted

_SUFFIX = re.compile(r"\s+\(\d+\)$")  # 'Octave One (2)' -> 'Octave One'
_DURATION = re.compile(r"(?:(\d+):)?(\d{1,3}):(\d{2})")
_POSITION = re.compile(r"([A-Za-z]*)(\d+)([a-z]*)")
# The release artist of a compilation: not an artist anyone searches for.
NO_ARTIST = frozenset({"Various", "Unknown Artist"})


def artist_name(credit: Mapping[str, Any]) -> str:
    """The name as credited on the release (`anv`), else the artist's name without its
    disambiguation suffix."""
    anv = str(credit.get("anv") or "").strip()
    if anv:
        return anv
    return _SUFFIX.sub("", str(credit.get("name") or "").strip())


def credit_names(credits: Sequence[Mapping[str, Any]] | None) -> tuple[str, ...]:
    """Every credited artist in order, one element per credit whatever joins them: 'A & B'
    and 'A feat. B' both give ('A', 'B')."""
    names: list[str] = []
    for credit in credits or ():
        name = artist_name(credit)
        if name and name not in NO_ARTIST and name not in names:
            names.append(name)
    return tuple(names)


def duration_seconds(value: Any) -> float | None:
    """'7:32' -> 452.0, '1:02:03' -> 3723.0; empty or unreadable -> None."""
    match = _DURATION.fullmatch(str(value or "").strip())
    if not match:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = float(hours * 3600 + minutes * 60 + seconds)
    return total or None


def _position_range(first: str, last: str, position: str) -> bool:
    a, b, p = (_POSITION.fullmatch(x) for x in (first, last, position))
    if not (a and b and p) or not (a.group(1) == b.group(1) == p.group(1)):
        return False
    return int(a.group(2)) <= int(p.group(2)) <= int(b.group(2))


def credited_on(tracks: str, position: str) -> bool:
    """A release-level credit's `tracks` ('A1, B2', 'A1 to A3') names `position`."""
    if not tracks.strip() or not position:
        return False  # a credit for the whole release is not a credit for this track
    for part in tracks.split(","):
        part = part.strip()
        if " to " in part:
            first, _, last = part.partition(" to ")
            if _position_range(first.strip(), last.strip(), position):
                return True
        elif part == position:
            return True
    return False


def _remixers(credits: Sequence[Mapping[str, Any]] | None, position: str | None = None) -> list[str]:
    out: list[str] = []
    for credit in credits or ():
        if "remix" not in str(credit.get("role") or "").lower():
            continue
        if position is not None and not credited_on(str(credit.get("tracks") or ""), position):
            continue
        name = artist_name(credit)
        if name:
            out.append(name)
    return out


def _tracks(tracklist: Sequence[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """Every playable track with the index track it belongs to (None at the top level)."""
    for item in tracklist:
        kind = item.get("type_") or "track"
        subs = item.get("sub_tracks") or []
        if subs:
            for sub in subs:
                if (sub.get("type_") or "track") == "track":
                    yield sub, item
        elif kind == "track":
            yield item, None
        # a heading (or an index without sub-tracks) is no track


def release_wanted(release: Mapping[str, Any]) -> list[Wanted]:
    """The release's tracks in order, as resolution wants them."""
    from cratefile.resolve import Wanted

    release_id = release["id"]
    album = str(release.get("title") or "").strip() or None
    url = str(release.get("uri") or f"https://www.discogs.com/release/{release_id}")
    release_artists = credit_names(release.get("artists"))
    release_credits = release.get("extraartists") or []
    out: list[Wanted] = []
    seen: set[str] = set()
    for number, (track, group) in enumerate(_tracks(release.get("tracklist") or []), start=1):
        position = str(track.get("position") or "").strip()
        artists = (credit_names(track.get("artists"))
                   or (credit_names(group.get("artists")) if group is not None else ())
                   or release_artists)
        remixers: list[str] = []
        for name in (*_remixers(track.get("extraartists")),
                     *(_remixers(group.get("extraartists")) if group is not None else ()),
                     *_remixers(release_credits, position)):
            if name not in remixers:
                remixers.append(name)
        ident = position or f"#{number}"
        if ident in seen:  # the same position twice (it happens): keep source ids unique
            ident = f"{ident}#{number}"
        seen.add(ident)
        out.append(Wanted(
            source_id=f"discogs:release:{release_id}:{ident}",
            title=str(track.get("title") or ""),
            artists=artists,
            album=album,
            duration=duration_seconds(track.get("duration")),
            url=url,
            remixers=tuple(remixers),
            position=position or None,
        ))
    return out
