"""`notion: {filter: ...}`: the pages of the Notion database of the top-level `notion:` sink.

Each matching page's source URL is resolved once (one request) and remembered in the
snapshot; tracks taken earlier stay listed. Downloads go through yt-dlp like any URL track.
The Notion client is the Notion sink's (`cratefile.sinks.notion`); this kind only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cratefile.errors import SourceError
from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.snapshots import read_snapshot
from cratefile.sources.base import Listing, ManifestReader, SourceBase
from cratefile.sources.url import UrlSource, snapshot_young
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext

log = logging.getLogger(__name__)


class NotionSource(SourceBase):
    kind = "notion"
    schema: Mapping[str, Any] = {
        "description": "Take the tracks from the Notion database of the top-level notion: section: every "
                       "page with a source URL that matches the filter. Tracks once taken stay in the playlist.",
        "type": "object",
        "additionalProperties": False,
        "required": ["filter"],
        "x-expected": "a mapping with filter:",
        "properties": {
            "filter": {
                "description": "unprocessed: pages not yet downloaded; all: every page with a source URL; "
                               "missing_eagle: pages without an Eagle id.",
                "enum": ["unprocessed", "all", "missing_eagle"],
            }
        },
    }

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        if reader.data.get("notion") is None:
            reader.bad(path, "a Notion playlist needs the top-level notion: section",
                       "add notion: {database: ..., token_env: NOTION_TOKEN}")
        return SourceSpec(self.kind, value["filter"])

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        from cratefile.sinks.notion.mirror import NotionMirror, PendingFilter
        from cratefile.sinks.notion.step import tell_schema
        from cratefile.sources import ytdlp

        config = run.manifest.sink("notion")
        previous = read_snapshot(run.layout.snapshot(playlist.slug))
        refs = list(previous.tracks) if previous else []
        known = {t.url for t in refs}
        skipped: list[str] = []
        with NotionMirror(config) as mirror:
            # the schema's enum above: one of PendingFilter's values
            pages = mirror.pending_pages(cast(PendingFilter, playlist.source.location))
            tell_schema(run, mirror.schema())  # e.g. which properties were matched by name
        for page in pages:
            if page.source_url in known:
                continue
            try:
                found = ytdlp.enumerate_playlist(page.source_url, run.manifest.ytdlp)
            except SourceError as exc:
                log.warning("Notion page %s: %s", page.page_id, exc)
                skipped.append(f"page {page.page_id} ({page.source_url}): {exc}")
                continue
            for r in found[:1]:  # a page is one track
                refs.append(TrackRef(r.key, page.source_url, r.title or page.title, r.artist or page.artist,
                                     r.duration, r.entry))
                known.add(page.source_url)
                run.catalog.upsert_track(r.key, notion_page_id=page.page_id)
        return Listing(tuple(refs), skipped=tuple(skipped))

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        return snapshot_young(playlist, meta)

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        return UrlSource().download(run, ref, dest)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return UrlSource().current(run, sidecar)
