"""fetch:<playlist> — enumerate a playlist's source into its snapshot file.

A URL playlist's snapshot is reused while younger than its refresh interval (so a rerun
makes no network request); a folder playlist's is reused while the folder's listing is
unchanged. A playlist that cannot be enumerated keeps its previous snapshot.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from doit.exceptions import TaskFailed

from cratefile.engine.context import RunContext
from cratefile.errors import CratefileError, SourceError
from cratefile.records import Playlist, Snapshot, TrackRef
from cratefile.snapshots import read_snapshot, snapshot_meta, write_snapshot
from cratefile.sources import folder as folder_source

log = logging.getLogger(__name__)


def _enumerate_notion(ctx: RunContext, playlist: Playlist) -> list[TrackRef]:
    """Pages matching the filter, resolved to track keys; tracks taken earlier stay listed.

    A page's URL is resolved once (one request) and remembered in the snapshot."""
    from cratefile.catalog.notion import NotionMirror
    from cratefile.sources import ytdlp

    assert ctx.manifest.notion is not None
    previous = read_snapshot(ctx.layout.snapshot(playlist.slug))
    refs = list(previous.tracks) if previous else []
    known = {t.url for t in refs}
    with NotionMirror(ctx.manifest.notion) as mirror:
        pages = mirror.pending_pages(playlist.source.location)
    for page in pages:
        if page.source_url in known:
            continue
        try:
            found = ytdlp.enumerate_playlist(page.source_url, ctx.manifest.ytdlp)
        except SourceError as exc:
            log.warning("Notion page %s: %s", page.page_id, exc)
            ctx.playlist_errors[playlist.slug] = f"page {page.page_id} ({page.source_url}): {exc}"
            continue
        for r in found[:1]:  # a page is one track
            refs.append(TrackRef(r.key, page.source_url, r.title or page.title, r.artist or page.artist,
                                 r.duration, r.entry))
            known.add(page.source_url)
            ctx.catalog.upsert_track(r.key, notion_page_id=page.page_id)
    return refs


def _enumerate(ctx: RunContext, playlist: Playlist) -> tuple[list, dict]:
    if playlist.source.kind == "folder":
        where = Path(playlist.source.location)
        return folder_source.enumerate_folder(where), {"digest": folder_source.listing_digest(where)}
    if playlist.source.kind == "notion":
        return _enumerate_notion(ctx, playlist), {}
    from cratefile.sources import ytdlp

    return ytdlp.enumerate_playlist(playlist.source.location, ctx.manifest.ytdlp), {}


def run_fetch(ctx: RunContext, slug: str) -> TaskFailed | bool:
    playlist = ctx.manifest.playlist(slug)
    try:
        refs, extra = _enumerate(ctx, playlist)
    except CratefileError as exc:
        ctx.playlist_errors[slug] = str(exc)
        return TaskFailed(f"playlist {playlist.name!r}: {exc}")
    # One key can appear twice in a source; the first position wins.
    seen: set[str] = set()
    unique = [r for r in refs if not (r.key in seen or seen.add(r.key))]
    snap = Snapshot(slug, playlist.source.location, time.time(), tuple(unique))
    write_snapshot(ctx.layout.snapshot(slug), snap, extra)
    ctx.catalog.ensure_tracks((r.key, r.url, r.title, r.artist) for r in unique)
    ctx.catalog.set_playlist(slug, playlist.name, playlist.source.location, snap.fetched_at, [r.key for r in unique])
    return True


def snapshot_fresh(ctx: RunContext, slug: str) -> bool:
    """doit uptodate: the snapshot can be reused without asking the source."""
    if ctx.refresh:
        return False
    playlist = ctx.manifest.playlist(slug)
    meta = snapshot_meta(ctx.layout.snapshot(slug))
    if not meta or meta.get("source") != playlist.source.location:
        return False
    if playlist.source.kind == "folder":
        try:
            return meta.get("digest") == folder_source.listing_digest(Path(playlist.source.location))
        except CratefileError:
            return False
    return time.time() - float(meta.get("fetched_at", 0)) < playlist.refresh_seconds
