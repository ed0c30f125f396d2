"""fetch:<playlist> — enumerate a playlist's source into its snapshot file, through its kind.

Each kind (cratefile.sources) says when its snapshot can be reused without asking the source
(a URL playlist while younger than its refresh interval, a folder while its listing is
unchanged). A playlist that cannot be enumerated keeps its previous snapshot.

The shrink guard, for every kind alike: a new listing that lost more than the playlist's
`shrink_guard` share of the previous snapshot's tracks at once (and more than one track), or
that came back empty, is not trusted (a set gone private, an API answering half a list). The
previous snapshot stays, so publishing and pruning go on from it and no file leaves the library;
the new listing is kept as `<slug>.rejected.json` next to it for inspection; the playlist fails
this run (the report says why, exit 1, so a cron user notices) and asks its source again on
every run until the listing recovers or `cratefile --accept-shrink` takes it. A first fetch (no
previous snapshot) and a playlist pointed at another source are never held back.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from cratefile.actions import action
from cratefile.context import RunContext
from cratefile.errors import SourceError
from cratefile.layout import Layout
from cratefile.records import Snapshot
from cratefile.snapshots import read_snapshot, snapshot_meta, write_snapshot
from cratefile.sources import SOURCES


@dataclass(frozen=True)
class Shrink:
    """How much a new listing lost against the previous snapshot."""

    had: int  # tracks in the previous snapshot
    lost: int  # of those, how many the new listing no longer has
    now: int  # tracks in the new listing


def rejected_snapshot(layout: Layout, slug: str) -> Path:
    """Where a listing the shrink guard held back is kept (slugs have no dots: no clash)."""
    return layout.snapshots / f"{slug}.rejected.json"


def shrinkage(previous: Snapshot | None, new: Snapshot, guard: float) -> Shrink | None:
    """The loss when `new` is not to be trusted over `previous`, else None."""
    if previous is None or not previous.tracks or previous.source != new.source:
        return None
    keys = {r.key for r in new.tracks}
    lost = sum(1 for r in previous.tracks if r.key not in keys)
    if not new.tracks or (lost > 1 and lost > guard * len(previous.tracks)):
        return Shrink(len(previous.tracks), lost, len(new.tracks))
    return None


def _held_back(name: str, shrink: Shrink, guard: float, rejected: Path) -> str:
    if shrink.now == 0:
        what = f"playlist {name!r} came back empty (it had {shrink.had} tracks; a set gone private?)"
    else:
        what = (f"playlist {name!r} lost {shrink.lost} of {shrink.had} tracks at once "
                f"(more than {guard:.0%}; a set gone private?)")
    return (f"{what}: kept the previous list for publishing and pruning (the new one is in {rejected}); "
            "run cratefile --accept-shrink to accept")


@action("fetch", scope="playlist")
def run_fetch(ctx: RunContext, slug: str) -> None:
    playlist = ctx.manifest.playlist(slug)
    listing = SOURCES[playlist.source.kind].enumerate(ctx, playlist)
    # One key can appear twice in a source; the first position wins.
    seen: set[str] = set()
    unique = [r for r in listing.refs if not (r.key in seen or seen.add(r.key))]  # type: ignore[func-returns-value]
    snap = Snapshot(slug, playlist.source.location, time.time(), tuple(unique))
    path, rejected = ctx.layout.snapshot(slug), rejected_snapshot(ctx.layout, slug)
    shrink = shrinkage(read_snapshot(path), snap, playlist.shrink_guard)
    if shrink is not None and not ctx.accept_shrink:
        write_snapshot(rejected, snap, dict(listing.meta))
        raise SourceError("; ".join([_held_back(playlist.name, shrink, playlist.shrink_guard, rejected),
                                     *listing.skipped]))
    write_snapshot(path, snap, dict(listing.meta))
    with contextlib.suppress(FileNotFoundError):
        rejected.unlink()
    if shrink is not None:
        ctx.note(f"playlist {playlist.name!r}: took the new list ({shrink.now} tracks, {shrink.lost} of "
                 f"{shrink.had} gone) as --accept-shrink asked; cratefile prune moves their files to the trash")
    ctx.catalog.ensure_tracks((r.key, r.url, r.title, r.artist) for r in unique)
    ctx.catalog.set_playlist(slug, playlist.name, playlist.source.location, snap.fetched_at, [r.key for r in unique])
    if listing.skipped:  # entries that could not be listed: the rest of the playlist is built
        raise SourceError("; ".join(listing.skipped))


def snapshot_fresh(ctx: RunContext, slug: str) -> bool:
    """doit uptodate: the snapshot can be reused without asking the source."""
    if ctx.refresh:
        return False
    if rejected_snapshot(ctx.layout, slug).exists():  # held back: ask again until it recovers or is accepted
        return False
    playlist = ctx.manifest.playlist(slug)
    meta = snapshot_meta(ctx.layout.snapshot(slug))
    if not meta or meta.get("source") != playlist.source.location:
        return False
    return SOURCES[playlist.source.kind].fresh(ctx, playlist, meta)
