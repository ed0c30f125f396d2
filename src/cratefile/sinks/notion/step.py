"""notion — mirror the catalog's tracks into the user's Notion database, once per run.

The task's inputs are the tracks as the catalog has them after this run's builds; their
digest is the task's `uptodate`, so a run that changed nothing sends no request at all.
Page ids are written to the catalog the moment Notion creates them (no duplicate pages
after a crash). A configuration problem (schema mismatch, validation error) fails the
step with Notion's message and the build's results stand.

Every track is mirrored: URL tracks by their URL, local files (folder playlists) by their
file URI unless `notion: {local_files: false}`. A track another machine is building or has
built (`locked_elsewhere` / `built_elsewhere`, hold.py) is left out: its page is that
machine's to write, and this one would only say "not downloaded" over it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cratefile.actions import action
from cratefile.analysis.key import key_in_notation
from cratefile.context import RunContext
from cratefile.errors import CatalogError, Category, SinkError


def _elsewhere(row: Mapping[str, Any]) -> bool:
    """Did this run (or the last one that tried) leave the track to another machine?"""
    if row.get("status") != "failed":
        return False
    try:
        return Category(row.get("error_category") or "").elsewhere
    except ValueError:
        return False


def tell_schema(ctx: RunContext, report: Any) -> None:
    """Say once per run what the run should know about the database's schema."""
    note = report.mapping_note()
    if note:
        ctx.note(note)
    if not report.locking:
        ctx.note("Notion: processing locks are off (the database has no lock property); "
                 "`cratefile notion init-schema` adds it")


def notion_tracks(ctx: RunContext, claims: Mapping[str, Any], aliases: Mapping[str, str] | None = None) -> list[Any]:
    """NotionTrack records of the manifest's tracks: URL tracks, and local files (keyed by
    their file URI) unless `local_files: false`. Tracks of other URL schemes have no page.

    `aliases` ({acoustic duplicate: the track kept in its place}, cratefile.quality.aliases):
    an alias keeps its own page (its source URL, title, artist), which shows the kept track's
    files, BPM, key and state: a Notion queue sees it processed, not pending forever."""
    from cratefile.sinks.notion.mirror import NotionTrack

    config = ctx.manifest.sink("notion")
    local_files = getattr(config, "local_files", True)
    catalog = ctx.catalog
    out = []
    rows = [(key, key, claim) for key, claim in claims.items()]
    rows += [(alias, kept, claims[kept]) for alias, kept in sorted((aliases or {}).items()) if kept in claims]
    for key, kept, claim in rows:
        row = catalog.track(key) or {}
        if kept != key:  # the alias's page, with what the kept track holds
            own = {f: row.get(f) for f in ("url", "title", "artist", "notion_page_id")}
            row = {**(catalog.track(kept) or {}), **own}
        url = row.get("url") or (claim.ref.url if kept == key else None)
        if not url:
            continue
        if url.startswith("file:"):
            if not local_files:
                continue
        elif not url.startswith(("http://", "https://")):
            continue
        if _elsewhere(row):
            continue
        files = {fmt: path for fmt, path in catalog.files_of(kept).items() if os.path.exists(path)}
        downloaded = all(fmt in files for fmt in claim.formats)
        if row.get("status") == "failed":
            status: tuple[str, ...] = ("failed", row.get("error_category") or "unknown")
        else:
            status = ("built",) if downloaded else ("pending",)
        notation = claim.playlists[0].analysis.key_notation
        eagle = json.loads(row.get("eagle_ids") or "{}")
        out.append(NotionTrack(
            key=key, source_url=url, title=row.get("title"), artist=row.get("artist"), downloaded=downloaded,
            bpm=row.get("bpm"),
            key_name=key_in_notation(row["musical_key"], notation) if row.get("musical_key") else None,
            duration=row.get("duration"), paths=tuple(sorted(files.items())),
            eagle_id=next(iter(eagle.values()), None), status=status,
            playlists=tuple(p.name for p in claim.playlists), page_id=row.get("notion_page_id"),
            quality=row.get("quality"), listing_url=_listing_url(claim.ref.entry) if kept == key else None,
        ))
    return out


def _listing_url(entry: Mapping[str, Any]) -> str | None:
    """Where a search-matched track was listed (its Spotify/Discogs page), from its snapshot entry."""
    resolved = entry.get("resolved")
    wanted = resolved.get("wanted") if isinstance(resolved, Mapping) else None
    url = wanted.get("url") if isinstance(wanted, Mapping) else None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


@action("Notion", scope="sink")
def run_notion(ctx: RunContext, name: str, tracks: Iterable[Any]) -> None:
    from cratefile.sinks.notion.mirror import NotionMirror

    config = ctx.manifest.sink("notion")
    catalog = ctx.catalog
    try:
        with NotionMirror(config) as mirror:
            tell_schema(ctx, mirror.check_schema())
            stats = mirror.sync(list(tracks),
                                on_page_id=lambda key, page_id: catalog.upsert_track(key, notion_page_id=page_id))
    except CatalogError as exc:  # Notion's answer, not our catalog: the sink failed this run
        raise SinkError(str(exc)) from exc
    ctx.sink_stats["notion"] = dataclasses.asdict(stats)
