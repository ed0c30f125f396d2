"""fetch:<playlist> — enumerate a playlist's source into its snapshot file, through its kind.

Each kind (cratefile.sources) says when its snapshot can be reused without asking the source
(a URL playlist while younger than its refresh interval, a folder while its listing is
unchanged). A playlist that cannot be enumerated keeps its previous snapshot.
"""

from __future__ import annotations

import time

from cratefile.actions import action
from cratefile.context import RunContext
from cratefile.errors import SourceError
from cratefile.records import Snapshot
from cratefile.snapshots import snapshot_meta, write_snapshot
from cratefile.sources import SOURCES


@action("fetch", scope="playlist")
def run_fetch(ctx: RunContext, slug: str) -> None:
    playlist = ctx.manifest.playlist(slug)
    listing = SOURCES[playlist.source.kind].enumerate(ctx, playlist)
    # One key can appear twice in a source; the first position wins.
    seen: set[str] = set()
    unique = [r for r in listing.refs if not (r.key in seen or seen.add(r.key))]  # type: ignore[func-returns-value]
    snap = Snapshot(slug, playlist.source.location, time.time(), tuple(unique))
    write_snapshot(ctx.layout.snapshot(slug), snap, dict(listing.meta))
    ctx.catalog.ensure_tracks((r.key, r.url, r.title, r.artist) for r in unique)
    ctx.catalog.set_playlist(slug, playlist.name, playlist.source.location, snap.fetched_at, [r.key for r in unique])
    if listing.skipped:  # entries that could not be listed: the rest of the playlist is built
        raise SourceError("; ".join(listing.skipped))


def snapshot_fresh(ctx: RunContext, slug: str) -> bool:
    """doit uptodate: the snapshot can be reused without asking the source."""
    if ctx.refresh:
        return False
    playlist = ctx.manifest.playlist(slug)
    meta = snapshot_meta(ctx.layout.snapshot(slug))
    if not meta or meta.get("source") != playlist.source.location:
        return False
    return SOURCES[playlist.source.kind].fresh(ctx, playlist, meta)
