"""`spotify: <playlist link, URI or id>`: a Spotify playlist, its tracks matched to uploads.

Spotify gives metadata only: each item becomes a `Wanted` (title, artists, album, duration,
ISRC, popularity where the API still offers it) and `cratefile.resolve.resolve_listing` turns
them into ordinary upload refs, downloaded like any URL track.

Since Spotify's February 2026 changes an app in development mode reads
`/playlists/{id}/items` (entries under `item`), sees no popularity, and gets the items only of
playlists its user owns or collaborates on (403 otherwise); older APIs and apps with extended
quota answer `/playlists/{id}/tracks` (entries under `track`). Both are read. Local files and
removed (null) items are skipped and listed in the snapshot's `skipped` (they are not failures).

The snapshot is reused for `spotify: {refresh: 5m}`; after that the playlist's `snapshot_id` is
asked first, and an unchanged playlist keeps its stored items without paging through them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cratefile.errors import Category, SourceError
from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.resolve import Wanted
from cratefile.resolve.verb import REVIEW_VERB
from cratefile.sinks.base import Verb
from cratefile.snapshots import snapshot_meta
from cratefile.sources.base import Listing, ManifestReader, SourceBase
from cratefile.sources.spotify.login import USAGE as LOGIN_USAGE
from cratefile.sources.spotify.login import login
from cratefile.sources.spotify.settings import (
    PLAYLIST_SCHEMA,
    SETTINGS_SCHEMA,
    SpotifySettings,
    parse_settings,
    playlist_id,
)
from cratefile.sources.url import UrlSource
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.sources.spotify.api import SpotifyApi

log = logging.getLogger(__name__)

_OTHER_KIND = re.compile(r"(?:open\.spotify\.com/(?:intl-[\w-]+/)?|spotify:)(track|album|artist|show|episode|user)\b")

@dataclass(frozen=True)
class SpotifyRead:
    """What one read of a playlist found, before resolution."""

    playlist_id: str
    name: str | None
    snapshot_id: str | None
    endpoint: str  # 'items', 'tracks', or 'snapshot' (unchanged since the previous read: not paged)
    total: int | None
    wanted: tuple[Wanted, ...]
    skipped: tuple[str, ...]  # one line each: local files, removed items, episodes

    def meta(self) -> dict[str, Any]:
        return {"id": self.playlist_id, "name": self.name, "snapshot_id": self.snapshot_id, "total": self.total,
                "wanted": [w.to_entry() for w in self.wanted], "skipped": list(self.skipped)}


def wanted_of(position: int, entry: Mapping[str, Any]) -> Wanted | str:
    """The Wanted of one playlist entry, or the one-line reason it is skipped."""
    track = entry.get("item") or entry.get("track")
    if not isinstance(track, dict):
        return f"#{position}: removed from Spotify (the playlist keeps an empty entry)"
    artists = tuple(str(a["name"]) for a in track.get("artists") or [] if isinstance(a, dict) and a.get("name"))
    title = str(track.get("name") or "")
    shown = f"{', '.join(artists) or '?'} - {title or '?'}"
    if entry.get("is_local") or track.get("is_local") or str(track.get("uri", "")).startswith("spotify:local:"):
        return f"#{position}: {shown} is a local file of the playlist's owner, not on Spotify"
    if track.get("type", "track") != "track":
        return f"#{position}: {title or '?'} is a {track.get('type')}, not a track"
    if not track.get("id") or not title:
        return f"#{position}: {shown} has no Spotify id or title"
    duration = track.get("duration_ms")
    album = track.get("album") if isinstance(track.get("album"), dict) else {}
    ids = track.get("external_ids") if isinstance(track.get("external_ids"), dict) else {}
    urls = track.get("external_urls") if isinstance(track.get("external_urls"), dict) else {}
    popularity = track.get("popularity")
    return Wanted(
        source_id=f"spotify:track:{track['id']}",
        title=title,
        artists=artists,
        album=str(album["name"]) if album and album.get("name") else None,
        duration=duration / 1000 if isinstance(duration, int | float) and duration > 0 else None,
        isrc=str(ids["isrc"]).upper() if ids and ids.get("isrc") else None,
        url=str(urls["spotify"]) if urls and urls.get("spotify") else None,
        popularity=int(popularity) if isinstance(popularity, int | float) else None,
    )


class SpotifySource(SourceBase):
    kind = "spotify"
    schema: Mapping[str, Any] = PLAYLIST_SCHEMA
    settings: str | None = "spotify"
    settings_schema: Mapping[str, Any] | None = SETTINGS_SCHEMA
    verbs: Mapping[str, Any] = {
        "login spotify": Verb(f"{LOGIN_USAGE}   authorize cratefile to read your Spotify playlists (PKCE)", login),
        "review": REVIEW_VERB,
    }

    def parse_settings(self, section: Any, reader: ManifestReader) -> SpotifySettings:
        return parse_settings(section, reader)

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        text = str(value)
        pid = playlist_id(text)
        if pid is None:
            other = _OTHER_KIND.search(text)
            what = f"is a Spotify {other.group(1)}, not a playlist" if other else \
                "is not a Spotify playlist link, URI or id"
            reader.bad(path, f"{reader.show(path)} {what}",
                       "copy the playlist's link in Spotify (Share > Copy link to playlist): "
                       "https://open.spotify.com/playlist/<22 letters and digits>")
        if reader.data.get("spotify") is None:
            reader.bad(path, "a Spotify playlist needs the top-level spotify: section",
                       "add spotify: {} (the credentials come from $SPOTIFY_CLIENT_ID and $SPOTIFY_CLIENT_SECRET)")
        return SourceSpec(self.kind, f"spotify:playlist:{pid or text}")

    # -- reading

    def _settings(self, run: RunContext) -> SpotifySettings:
        settings = run.manifest.settings("spotify")
        return settings if isinstance(settings, SpotifySettings) else SpotifySettings()

    def _api(self, run: RunContext) -> SpotifyApi:
        from cratefile.sources.spotify.api import SpotifyApi

        settings = self._settings(run)
        return cast(SpotifyApi, run.shared("spotify-api", lambda: SpotifyApi(settings, run.manifest.cache)))

    def read(self, run: RunContext, playlist: Playlist) -> SpotifyRead:
        """The playlist's entries now, as Wanted records plus the skipped ones; raises
        SourceError (naming the playlist) when it cannot be read."""
        from cratefile.sources.spotify.api import SpotifyHttpError

        pid = playlist.source.location.rsplit(":", 1)[-1]
        what = f"Spotify playlist {playlist.name!r} ({playlist.source.location})"
        api = self._api(run)
        try:
            info = api.playlist(what, pid)
        except SpotifyHttpError as exc:
            if exc.status == 404:
                raise SourceError(f"{what}: not found: it is private or was deleted (404); a private playlist "
                                  "is read as its owner after cratefile login spotify", Category.NOT_FOUND) from exc
            raise
        snapshot_id = info.get("snapshot_id")
        previous = self._previous(run, playlist)
        if previous and snapshot_id and previous.get("snapshot_id") == snapshot_id and not run.refresh:
            log.info("%s: unchanged since the last read (snapshot %s)", what, snapshot_id)
            return SpotifyRead(pid, info.get("name"), snapshot_id, "snapshot", previous.get("total"),
                               tuple(Wanted.from_entry(e) for e in previous.get("wanted") or []),
                               tuple(str(s) for s in previous.get("skipped") or []))
        wanted: list[Wanted] = []
        skipped: list[str] = []
        endpoint, total, position = "items", None, 0
        seen: set[str | None] = set()
        try:
            for used, page in api.pages(what, pid):
                endpoint, total = used, page.total
                for entry in page.items:
                    position += 1
                    found = wanted_of(position, entry)
                    if isinstance(found, str):
                        skipped.append(found)
                    else:
                        wanted.append(found)
                if page.next in seen:  # a server that loops: what was read stands
                    log.warning("%s: the listing repeats itself at %s; stopped there", what, page.next)
                    break
                seen.add(page.next)
        except SpotifyHttpError as exc:
            raise self._items_refused(what, api.mode, exc) from exc
        if total is not None and position < total:
            log.warning("%s: Spotify said %d items but listed %d", what, total, position)
        log.info("%s: %d tracks, %d skipped (/%s)", what, len(wanted), len(skipped), endpoint)
        return SpotifyRead(pid, info.get("name"), snapshot_id, endpoint, total, tuple(wanted), tuple(skipped))

    def _previous(self, run: RunContext, playlist: Playlist) -> Mapping[str, Any] | None:
        meta = snapshot_meta(run.layout.snapshot(playlist.slug))
        stored = meta.get("spotify")
        if meta.get("source") != playlist.source.location or not isinstance(stored, dict):
            return None
        return stored

    @staticmethod
    def _items_refused(what: str, mode: str, exc: Any) -> SourceError:
        if exc.status == 403:
            if mode == "client_credentials":
                return SourceError(f"{what}: Spotify lists a playlist's items only to a logged-in owner or "
                                   "collaborator (an app in development mode, 403): run cratefile login spotify",
                                   Category.PRIVATE)
            return SourceError(f"{what}: Spotify lists this playlist's items only to its owner or collaborators "
                               "(an app in development mode, 403): copy its tracks into a playlist of yours",
                               Category.PRIVATE)
        if exc.status == 404:
            return SourceError(f"{what}: its items were not found (404)", Category.NOT_FOUND)
        return cast(SourceError, exc)

    def wanted(self, run: RunContext, playlist: Playlist) -> list[Wanted]:
        return list(self.read(run, playlist).wanted)

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        from cratefile.resolve import resolve_listing  # the search backends: only when asked

        read = self.read(run, playlist)
        listing = resolve_listing(run, playlist, list(read.wanted))
        meta = dict(listing.meta)
        earlier = meta.get("skipped")
        meta["skipped"] = [*(earlier if isinstance(earlier, list) else []), *read.skipped]
        meta["spotify"] = read.meta()
        return replace(listing, meta=meta)

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        import time

        from cratefile.resolve import resolution_fresh

        young = time.time() - float(meta.get("fetched_at", 0)) < self._settings(run).refresh_seconds
        return young and resolution_fresh(run, meta)

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        from cratefile.resolve.run import download_resolved  # the resolver's refs are ordinary uploads

        return download_resolved(run, ref, dest)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return UrlSource().current(run, sidecar)
