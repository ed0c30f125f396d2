"""`discogs: {folder: "Techno 12s"}`: the tracks of the releases in a Discogs collection folder.

A folder (by name, case-insensitive, or number; 0 = All) → its releases, page by page → each
release's tracklist (GET /releases/{id}, kept under cache/discogs/<id>.json: releases rarely
change, so a rerun asks only for the folder's pages) → `Wanted` tracks (tracklist.py) →
`cratefile.resolve.resolve_listing`, which matches each to an upload. Downloads are then
ordinary yt-dlp downloads of the matched uploads.

Discogs is asked through `api.DiscogsApi` (token auth, the 60-a-minute budget paced from the
headers, retries). What goes wrong with the playlist as a whole becomes a `SourceError` that
names the playlist and the fix, never the token.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cratefile.atomic import read_json, write_json
from cratefile.errors import Category, SourceError
from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.resolve.verb import REVIEW_VERB
from cratefile.sources.base import Listing, ManifestReader, SourceBase
from cratefile.sources.discogs.settings import (
    PLAYLIST_SCHEMA,
    SETTINGS_SCHEMA,
    TOKEN_PAGE,
    DiscogsSettings,
    DiscogsTuning,
    parse_settings,
)
from cratefile.sources.discogs.tracklist import release_wanted
from cratefile.sources.url import UrlSource
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:  # the HTTP side (httpx, the API client) is imported when Discogs is asked
    from cratefile.context import RunContext
    from cratefile.net import RateLimiter
    from cratefile.resolve import Wanted
    from cratefile.sources.discogs.api import DiscogsApi

log = logging.getLogger(__name__)

PER_PAGE = 100  # Discogs' maximum


class _Failure(Exception):
    """One request failed for good; `what` says what it was for."""

    def __init__(self, what: str, cause: BaseException) -> None:
        from cratefile.sources.discogs.api import status_of

        super().__init__(what)
        self.what, self.cause = what, cause
        self.status = status_of(cause)


def _folder_label(folder: Mapping[str, Any]) -> str:
    return f"{folder.get('name')} ({folder.get('id')})"


class DiscogsSource(SourceBase):
    kind = "discogs"
    schema: Mapping[str, Any] = PLAYLIST_SCHEMA
    settings: str | None = "discogs"
    settings_schema: Mapping[str, Any] | None = SETTINGS_SCHEMA
    verbs: Mapping[str, Any] = {"review": REVIEW_VERB}

    def __init__(
        self,
        *,
        tuning: DiscogsTuning | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        """Tests inject a clock, a sleep and their own limiter; the registered instance uses
        the process-wide limiter of its API URL."""
        self.tuning = tuning or DiscogsTuning()
        self._clock, self._sleep, self._limiter = clock, sleep, limiter

    # ---- manifest ------------------------------------------------------------------------
    def parse_settings(self, section: Any, reader: ManifestReader) -> Any:
        return parse_settings(section, reader)

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        section = reader.data.get("discogs")
        if not isinstance(section, Mapping):
            reader.bad(path, "a Discogs playlist needs the top-level discogs: section",
                       "add discogs: {user: <your Discogs username>, token_env: DISCOGS_TOKEN}")
            section = {}
        folder: str | int = value["folder"]
        if isinstance(folder, str):
            folder = folder.strip()
            if not folder:
                reader.bad((*path, "folder"), f"{reader.show((*path, 'folder'))} is not a folder name",
                           "give the folder's name as Discogs shows it, or its number (0 is All)")
        user = str(value.get("user") or section.get("user") or "").strip()
        return SourceSpec(self.kind, f"discogs:{user}/{folder}", options=(("folder", folder), ("user", user)))

    # ---- enumerate -----------------------------------------------------------------------
    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        wanted = self.wanted(run, playlist)
        # Imported when needed: resolution (searching, scoring, playlists.lock) is its own package.
        resolve = importlib.import_module("cratefile.resolve")
        listing: Listing = resolve.resolve_listing(run, playlist, wanted)
        return listing

    def wanted(self, run: RunContext, playlist: Playlist) -> list[Wanted]:
        """The tracks of the playlist's folder, in the order the releases were added."""
        settings = self._settings(run, playlist)
        options = dict(playlist.source.options)
        user, folder = str(options["user"]), options["folder"]
        cache = run.manifest.cache / "discogs"
        with self.api(settings) as api:
            try:
                folder_id = self._folder_id(api, playlist, settings, user, folder)
                release_ids = self._release_ids(api, user, folder_id)
                out: list[Wanted] = []
                for release_id in release_ids:
                    release = self._release(api, cache, release_id)
                    if release is not None:
                        out.extend(release_wanted(release))
            except _Failure as failure:
                raise self._explain(failure, playlist, settings, user, folder) from failure.cause
        log.info("discogs %s: %d releases, %d tracks (%d requests)",
                 playlist.source.location, len(release_ids), len(out), api.requests)
        return out

    def api(self, settings: DiscogsSettings) -> DiscogsApi:
        from cratefile.sources.discogs.api import DiscogsApi, default_limiter

        limiter = self._limiter or default_limiter(settings.api_url, self.tuning, self._clock, self._sleep)
        return DiscogsApi(settings.api_url, settings.token or "", settings.user_agent, limiter=limiter,
                          tuning=self.tuning, clock=self._clock, sleep=self._sleep)

    def _settings(self, run: RunContext, playlist: Playlist) -> DiscogsSettings:
        settings = run.manifest.settings(self.kind)
        if not isinstance(settings, DiscogsSettings):
            raise SourceError(f"playlist {playlist.name!r}: a Discogs playlist needs the top-level discogs: "
                              "section: add discogs: {user: <your Discogs username>}")
        if not settings.token:
            raise SourceError(f"playlist {playlist.name!r}: no Discogs token: set {settings.token_env} to your "
                              f"personal access token ({TOKEN_PAGE})")
        return settings

    @staticmethod
    def _get(api: DiscogsApi, what: str, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        from cratefile.sources.discogs.api import BadAnswer

        try:
            data: Any = api.get(path, params)
        except (httpx.HTTPError, BadAnswer) as exc:
            raise _Failure(what, exc) from exc
        if not isinstance(data, dict):
            raise _Failure(what, BadAnswer("the answer is not a JSON object"))
        return data

    def _folder_id(self, api: DiscogsApi, playlist: Playlist, settings: DiscogsSettings, user: str,
                   folder: str | int) -> int:
        data = self._get(api, "folders", f"/users/{quote(user, safe='')}/collection/folders")
        folders = [f for f in data.get("folders") or [] if isinstance(f, dict)]
        for found in folders:
            if isinstance(folder, int) and found.get("id") == folder:
                return folder
            if isinstance(folder, str) and str(found.get("name", "")).strip().casefold() == folder.casefold():
                return int(found["id"])
        known = ", ".join(_folder_label(f) for f in folders) or "none"
        if [f.get("id") for f in folders] == [0] and user != settings.user:
            fix = (f"only the All folder of another user's collection can be read: use folder: 0, or the "
                   f"token of {user!r}")
        else:
            fix = f"use one of its folders' names or numbers: {known}"
        raise SourceError(f"playlist {playlist.name!r}: {user}'s Discogs collection has no folder "
                          f"{folder!r}: {fix}", Category.NOT_FOUND)

    def _release_ids(self, api: DiscogsApi, user: str, folder_id: int) -> list[int]:
        ids: list[int] = []
        page, pages = 1, 1
        while page <= pages:
            data = self._get(api, "releases", f"/users/{quote(user, safe='')}/collection/folders/{folder_id}"
                             "/releases", {"page": page, "per_page": PER_PAGE, "sort": "added", "sort_order": "asc"})
            items = data.get("releases") or []
            for item in items:
                release_id = item.get("id") or (item.get("basic_information") or {}).get("id")
                if isinstance(release_id, int) and release_id not in ids:  # one release, several copies
                    ids.append(release_id)
            pages = int((data.get("pagination") or {}).get("pages") or 1)
            if not items:
                break
            page += 1
        return ids

    def _release(self, api: DiscogsApi, cache: Path, release_id: int) -> Mapping[str, Any] | None:
        path = cache / f"{release_id}.json"
        kept = read_json(path)
        if isinstance(kept, dict) and kept.get("id") == release_id and "tracklist" in kept:
            return kept
        try:
            release = self._get(api, f"release {release_id}", f"/releases/{release_id}")
        except _Failure as failure:
            if failure.status == 404:  # gone from Discogs since it was collected: its tracks cannot be listed
                from cratefile.sources.discogs.api import told

                log.warning("discogs release %s: %s", release_id, told(failure.cause))
                return None
            raise
        write_json(path, release)
        return release

    @staticmethod
    def _explain(failure: _Failure, playlist: Playlist, settings: DiscogsSettings, user: str,
                 folder: str | int) -> SourceError:
        """What went wrong, for the person who wrote the manifest; Discogs' words in brackets."""
        import httpx

        from cratefile.sources.discogs.api import told

        head = f"playlist {playlist.name!r}: Discogs"
        said, status, what = told(failure.cause), failure.status, failure.what
        reading = {"folders": f"{user}'s collection folders", "releases": f"folder {folder!r} of {user}'s collection"}
        subject = reading.get(what, what)
        if status == 401:
            message, category = (f"{head} refused the token in {settings.token_env} ({said}): create a personal "
                                 f"access token at {TOKEN_PAGE} and set {settings.token_env} to it"), None
        elif status == 404 and what == "folders":
            message, category = (f"{head} has no user {user!r} ({said}): check the user: of discogs: or of the "
                                 "playlist"), Category.NOT_FOUND
        elif status == 403 and what == "folders":
            message, category = (f"{head} does not show {user}'s collection: it is private ({said}): make it "
                                 "public in Discogs (Settings > Privacy), or use a token of its owner"
                                 ), Category.PRIVATE
        elif status in (403, 404) and what == "releases":
            message, category = (f"{head} does not show {subject} ({said}): only the owner sees folders other "
                                 "than All: use folder: 0, or a token of the owner"), Category.PRIVATE
        elif status == 429:
            message, category = (f"{head} kept answering 429 while reading {subject} ({said}): the budget of 60 "
                                 "requests a minute is used up, maybe by another app with the same token; run "
                                 "again in a minute"), Category.RATE_LIMITED
        elif (status is not None and status >= 500) or isinstance(failure.cause, httpx.TransportError):
            message, category = (f"{head} did not answer while reading {subject} ({said}) at {settings.api_url}: "
                                 "try again later"), Category.TRANSIENT
        else:
            message, category = f"{head} could not give {subject} ({said})", None
        if settings.token:
            message = message.replace(settings.token, "***")
        return SourceError(message, category)

    # ---- snapshots and downloads ---------------------------------------------------------
    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        settings = run.manifest.settings(self.kind)
        if not isinstance(settings, DiscogsSettings):
            return False
        from cratefile.resolve import resolution_fresh

        return time.time() - float(meta.get("fetched_at", 0)) < settings.refresh_seconds and resolution_fresh(run, meta)

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        from cratefile.resolve.run import download_resolved  # the resolver's refs are ordinary uploads

        return download_resolved(run, ref, dest)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return UrlSource().current(run, sidecar)


__all__ = ["DiscogsSettings", "DiscogsSource", "DiscogsTuning"]
