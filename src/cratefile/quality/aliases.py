"""Aliases: an acoustic duplicate publishes the file of the recording kept in its place.

The catalog's `duplicate_of` (quality.step) says which recording of a group a track is kept
as (the best provenance, ties: the one indexed first). A duplicate is an *alias* while its
kept track is listed by a playlist and has not failed:

- it gets no files of its own: `plan.claims` lists the kept track for the alias's playlists
  instead, so every stage and sink sees one track listed by both, built in every format
  either wants, and the convert gate (quality.step) holds back an alias found in this very
  run;
- each sink puts the kept track's file at the alias's position (`Published`): playlist
  folder link and M3U8 line, Rekordbox playlist entry, Eagle folder;
- the run's report counts them per playlist (`aliases`), `status` says `alias_of`.

When the kept track leaves every playlist or fails, the alias is a track of its own again
(built on the next run). Files an alias built before it was found to be one stay under
library/ until `cratefile prune` moves them to the trash: the build never deletes them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cratefile.quality.policy import any_skip, held, held_formats
from cratefile.records import Manifest, Playlist

if TYPE_CHECKING:
    from cratefile.catalog.sqlite import Catalog
    from cratefile.context import RunContext
    from cratefile.sinks.base import BuildView

CLAIMED = "quality-aliases"  # RunContext.shared name: the aliases the run's claims were made with
PUBLISHED = "quality-published"  # RunContext.shared name: the sinks' Published


def in_effect(duplicates: Mapping[str, str], listed: Collection[str]) -> dict[str, str]:
    """{alias: kept} of `duplicates` ({track: kept}, Catalog.aliases) whose kept track is
    `listed` (a key some playlist lists). A kept track that is itself someone's duplicate
    (a stale row) makes no alias: no chains."""
    return {a: k for a, k in duplicates.items() if a != k and k in listed and k not in duplicates}


def of_catalog(catalog: Catalog | None) -> dict[str, str]:
    return catalog.aliases() if catalog is not None else {}


def for_run(ctx: RunContext) -> dict[str, str]:
    """The catalog's duplicates as the run found them before any download (what plan.claims
    is given), read once."""
    found: dict[str, str] = ctx.shared(CLAIMED, lambda: of_catalog(ctx.catalog if ctx.layout.catalog.exists()
                                                                   else None))
    return found


class Published:
    """What a sink publishes at a playlist position, once the conversions ran: the kept
    track's file for an alias (the one the claims were made with, or one found in this run
    whose kept track has that format already), and no file of a format `from_lossy: skip`
    holds back."""

    def __init__(self, build: BuildView) -> None:
        self.build = build
        catalog = build.run.catalog
        self.claimed = for_run(build.run)
        # found in this run: the claims still list the alias as a track of its own
        self.found = in_effect(catalog.aliases(), build.claims)
        manifest = build.manifest
        skips = any_skip(manifest.playlists, manifest.formats)
        self.held = held_formats(build.claims, catalog.lossy_origin(), manifest.formats) if skips else {}

    @classmethod
    def of(cls, build: BuildView) -> Published:
        """One per run (every sink asks after the conversions ran)."""
        published: Published = build.run.shared(PUBLISHED, lambda: cls(build))
        return published

    def key_of(self, key: str) -> str:
        """The track whose files `key`'s position publishes."""
        if key not in self.build.claims:
            return self.claimed.get(key, key)
        return self.found.get(key, key)

    def output(self, key: str, fmt: str) -> Path | None:
        """The library file published for `key` in `fmt`, or None."""
        path = self.output_file(key, fmt)
        return Path(path) if path is not None else None

    def output_file(self, key: str, fmt: str) -> str | None:
        """`output` as a str (BuildView.output_file)."""
        track = self.key_of(key)
        if fmt in self.held.get(track, ()):
            return None
        path = self.build.output_file(track, fmt)
        if path is None and track != key and key in self.build.claims and fmt not in self.held.get(key, ()):
            path = self.build.output_file(key, fmt)  # the kept track lacks it this run: the alias's own, if built
        return path

    def output_files(self, key: str, formats: Sequence[str]) -> list[str | None]:
        """`output_file` of each of `formats` (the playlists sink asks for every position)."""
        track = self.key_of(key)
        held = self.held.get(track, ())
        paths = self.build.output_files(track, formats)
        if held:
            paths = [None if fmt in held else path for fmt, path in zip(formats, paths, strict=True)]
        if track != key and None in paths:
            return [self.output_file(key, fmt) for fmt in formats]  # the alias's own files, where it has them
        return paths

    def aliased(self, keys: Collection[str]) -> int:
        """How many of `keys` publish another track's file."""
        return sum(1 for k in keys if self.key_of(k) != k)


    def changes(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(key, track published, formats held back) wherever that is not (key, key, ()): for
        a sink's up-to-date digest."""
        keys = set(self.claimed) | set(self.found) | set(self.held)
        return sorted((k, self.key_of(k), tuple(sorted(self.held.get(self.key_of(k), ())))) for k in keys
                      if self.key_of(k) != k or self.held.get(k))


class Listed:
    """The same answers as `Published` from the catalog alone, for what runs outside a build
    (`cratefile status`, `cratefile export rekordbox`, the run's report): `members` gives the
    keys each playlist lists (slug -> keys in order)."""

    def __init__(self, manifest: Manifest, catalog: Catalog, members: Mapping[str, Sequence[str]]) -> None:
        listed = {k for keys in members.values() for k in keys}
        self.aliases = in_effect(catalog.aliases(), listed)
        self.held: dict[str, frozenset[str]] = {}
        if not any_skip(manifest.playlists, manifest.formats):
            return  # nothing held back: no need to know which playlists publish each track
        lists: dict[str, dict[str, Playlist]] = {}  # published track -> the playlists it is published in
        for p in manifest.playlists:
            for key in members.get(p.slug, ()):
                lists.setdefault(self.aliases.get(key, key), {})[p.slug] = p
        for track in catalog.lossy_origin():
            playlists = list(lists.get(track, {}).values())
            formats = {f for p in playlists for f in p.formats}
            skipped = frozenset(f for f in formats if held(playlists, f, manifest.formats[f], True))
            if skipped:
                self.held[track] = skipped

    def key_of(self, key: str) -> str:
        return self.aliases.get(key, key)

    def held_of(self, key: str) -> frozenset[str]:
        """The formats `from_lossy: skip` holds back for the track published at `key`."""
        return self.held.get(self.key_of(key), frozenset())


__all__ = ["Listed", "Published", "for_run", "in_effect", "of_catalog"]
