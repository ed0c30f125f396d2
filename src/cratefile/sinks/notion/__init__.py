"""The Notion sink: mirror every track into a "Music Tracks" database, and share it as a work queue.

- `notion: {database, token_env, properties, api_url, local_files}` (config.py); one task
  `notion:sync` per run (step.py), up to date while the tracks' Notion values are the ones
  last synced. Every track gets a page: URL tracks, and local files by their file URI
  (`local_files: false` leaves them out). Properties the manifest does not name are found by
  their common names when the defaults are missing (schema.py `auto_map`; the run notes it).
- hooks: a processing lock on the track's page before its download, released at the end of
  the run (hold.py), so several machines can build from one database; a page another machine
  holds or has built is left to it (`locked_elsewhere` / `built_elsewhere`: not failures).
- verbs: `cratefile notion init-schema | dedupe [--dry-run] | unlock --stale`.
- the HTTP side: api.py (notion-client), mirror.py, sync.py, schema.py, values.py, lock.py,
  dedupe.py. The `notion:` source kind (sources/notion.py) reads pages through mirror.py.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from doit.tools import config_changed

from cratefile.errors import UsageError
from cratefile.quality.aliases import Published
from cratefile.records import Manifest, digest
from cratefile.sinks.base import BuildView, SinkBase, Verb, quiet
from cratefile.sinks.notion import hold
from cratefile.sinks.notion.config import NotionConfig, parse_notion
from cratefile.sinks.schema import load_fragment
from cratefile.sources.base import ManifestReader

USAGE = "cratefile notion init-schema | dedupe [--dry-run] | unlock --stale"


def acoustic_aliases(manifest: Manifest) -> dict[str, str]:
    """Normalized source URL of each acoustic duplicate -> that of the recording kept in its
    place (the catalog's duplicate_of, cratefile.quality)."""
    from cratefile.catalog.sqlite import Catalog
    from cratefile.layout import Layout
    from cratefile.sinks.notion.values import normalize_url

    layout = Layout(manifest.cache, manifest.library)
    if not layout.catalog.exists():
        return {}
    catalog = Catalog(layout.catalog)
    try:
        rows = {row["key"]: row for row in catalog.tracks()}
    finally:
        catalog.close()
    out = {}
    for row in rows.values():
        kept = rows.get(row.get("duplicate_of") or "")
        if kept is not None and row.get("url") and kept.get("url"):
            out[normalize_url(row["url"])] = normalize_url(kept["url"])
    return out


def _notion_verb(manifest: Manifest, words: Sequence[str]) -> int:
    from cratefile.sinks.notion.mirror import NotionMirror

    config = manifest.sink("notion")
    if config is None:
        raise UsageError("playlists.yaml has no notion: section")
    parser = argparse.ArgumentParser(prog="cratefile notion", add_help=False, exit_on_error=False)
    parser.add_argument("what", nargs="?")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--stale", action="store_true")
    try:
        opts, extra = parser.parse_known_args(list(words))
    except argparse.ArgumentError as exc:
        raise UsageError(f"notion: {exc} ({USAGE})") from exc
    if extra or opts.what not in ("init-schema", "dedupe", "unlock") or (opts.what == "unlock") != opts.stale \
            or (opts.dry_run and opts.what != "dedupe"):
        raise UsageError(USAGE)
    with NotionMirror(config) as mirror:
        if opts.what == "init-schema":
            added = mirror.init_schema()
            print(f"added {len(added)} properties: {', '.join(added)}" if added
                  else "the schema already has every property")
        elif opts.what == "dedupe":
            groups = mirror.dedupe(dry_run=opts.dry_run, aliases=acoustic_aliases(manifest))
            for g in groups:
                print(g)
            print(f"{len(groups)} groups of duplicate pages"
                  + (" (dry run: nothing changed)" if opts.dry_run else " merged"))
        else:
            print(f"cleared {mirror.unlock_stale()} stale locks")
    return 0


class NotionSink(SinkBase):
    name = "notion"
    section = "notion"
    schema = load_fragment(__name__)
    after = "eagle"  # the page carries the Eagle item id
    verbs: Mapping[str, Verb] = {
        "notion": Verb("notion init-schema | dedupe [--dry-run] | unlock --stale   the Notion database's "
                       "schema, duplicate pages, stale locks", _notion_verb),
    }

    def parse(self, section: Any, reader: ManifestReader) -> NotionConfig:
        return parse_notion(section, reader)

    def check(self, manifest: Manifest, config: NotionConfig) -> str:
        """`cratefile check`: the token works and the database fits the property map."""
        from cratefile.errors import CatalogError, SinkError
        from cratefile.sinks.notion.mirror import NotionMirror

        try:
            with NotionMirror(config) as mirror:
                report = mirror.check_schema()
        except CatalogError as exc:
            raise SinkError(str(exc)) from exc
        return "database reachable, properties fit" + ("" if report.locking else " (no lock property: locks off)")

    def tasks(self, build: BuildView, config: NotionConfig) -> Iterator[dict[str, Any]]:
        from cratefile.sinks.notion.step import notion_tracks, run_notion

        if not build.layout.catalog.exists():
            return
        tracks = notion_tracks(build.run, build.claims, Published.of(build).claimed)
        yield {
            "name": "sync",
            "doc": f"mirror {len(tracks)} tracks into Notion",
            "actions": [(run_notion, [build.run, self.name, tracks])],
            # page ids the sync itself records are not a change worth another sync
            "uptodate": [config_changed(digest([config.database, config.api_url, list(config.properties),
                                                [dataclasses.replace(t, page_id=None) for t in tracks]]))],
            **quiet(),
        }

    def before_download(self, run: Any, key: str) -> None:
        hold.take(run, key)

    def end_of_run(self, run: Any) -> None:
        hold.release_all(run)
