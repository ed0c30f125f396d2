"""Pure planning: manifest + snapshots + what exists → doit task dicts.

No I/O here: the creators in `engine/tasks.py` read snapshots, sidecars and the catalog and
pass them in; this module decides which tasks exist, what they depend on, what they build
and which recipe digests make them stale. Tested by comparing dicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.catalog.sqlite import Failure
from cratefile.engine.context import RunContext
from cratefile.engine.freshness import analysis_current, output_current
from cratefile.errors import Category
from cratefile.naming import assign_names, render_name, safe_component
from cratefile.records import Manifest, Playlist, Snapshot, TrackRef, digest, stem_of
from cratefile.stages.analyze import run_analyze
from cratefile.stages.download import run_download, sidecar_current
from cratefile.stages.eagle_sync import run_eagle
from cratefile.stages.notion_sync import run_notion
from cratefile.stages.rekordbox_export import run_rekordbox
from cratefile.stages.fetch import run_fetch, snapshot_fresh
from cratefile.stages.output import run_convert
from cratefile.stages.publish import run_publish

def _quiet() -> dict[str, Any]:
    """Actions print nothing (they log), so doit need not capture their output: its capture
    swaps the process-wide sys.stdout/stderr from worker threads, and those swaps race."""
    return {"verbosity": 0, "io": {"capture": False}}


# Bump when the tags a convert task writes change shape: every file is rewritten.
TAGS_VERSION = 1


@dataclass(frozen=True)
class Claim:
    """A track as the manifest wants it: its ref, source kind and the playlists listing it."""

    ref: TrackRef
    kind: str
    playlists: tuple[Playlist, ...]

    @property
    def formats(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for p in self.playlists:
            seen.update(dict.fromkeys(p.formats))
        return tuple(seen)


def claims(manifest: Manifest, snapshots: Mapping[str, Snapshot | None]) -> dict[str, Claim]:
    """Every track key of every playlist, in manifest order; the first playlist's ref wins."""
    out: dict[str, Claim] = {}
    for playlist in manifest.playlists:
        snap = snapshots.get(playlist.slug)
        for ref in snap.tracks if snap else ():
            known = out.get(ref.key)
            if known is None:
                out[ref.key] = Claim(ref, playlist.source.kind, (playlist,))
            elif playlist not in known.playlists:
                out[ref.key] = Claim(known.ref, known.kind, known.playlists + (playlist,))
    return out


def held_back(failure: Failure | None, now: float, cool_off_hours: float, retry_failed: bool) -> bool:
    """A permanent failure is not retried before its cool-off ends (or --retry-failed)."""
    if failure is None or retry_failed:
        return False
    try:
        permanent = Category(failure.category).permanent
    except ValueError:
        return False
    return permanent and now - failure.failed_at < cool_off_hours * 3600


def fetch_tasks(ctx: RunContext) -> Iterator[dict[str, Any]]:
    layout = ctx.layout
    for p in ctx.manifest.playlists:
        yield {
            "name": p.slug,
            "doc": f"enumerate {p.name!r} ({p.source.location})",
            "actions": [(run_fetch, [ctx, p.slug])],
            "targets": [str(layout.snapshot(p.slug))],
            "uptodate": [(snapshot_fresh, [ctx, p.slug])],
            **_quiet(),
        }


def active(ctx: RunContext, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
           now: float) -> Iterator[tuple[str, Claim]]:
    """The claims not held back by a recent permanent failure."""
    cool_off = ctx.manifest.retry.cool_off_hours
    for key, claim in wanted.items():
        if not held_back(failures.get(key), now, cool_off, ctx.retry_failed):
            yield key, claim


def download_tasks(ctx: RunContext, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
                   now: float) -> Iterator[dict[str, Any]]:
    for key, claim in active(ctx, wanted, failures, now):
        yield {
            "name": stem_of(key),
            "doc": f"{key} {claim.ref.title or claim.ref.url}",
            "actions": [(run_download, [ctx, _ref_data(claim.ref), claim.kind])],
            "targets": [str(ctx.layout.sidecar(key))],
            "uptodate": [(sidecar_current, [ctx, key, claim.kind])],
            **_quiet(),
        }


def analyze_tasks(ctx: RunContext, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
                  now: float, algo_version: str) -> Iterator[dict[str, Any]]:
    """The first playlist that lists a track decides its analysis options (BPM range)."""
    for key, claim in active(ctx, wanted, failures, now):
        options = claim.playlists[0].analysis
        yield {
            # made by the download creator, so a task_dep on download:<key> always resolves
            "basename": "analyze",
            "name": stem_of(key),
            "doc": f"BPM and key of {key}",
            "actions": [(run_analyze, [ctx, key, options, algo_version])],
            "task_dep": [f"download:{stem_of(key)}"],
            "targets": [str(ctx.layout.analysis(key))],
            # what the analysis was made of is in its own JSON, not in doit's DB (engine/freshness.py)
            "uptodate": [(analysis_current, [ctx, key, options, algo_version])],
            **_quiet(),
        }


def _ref_data(ref: TrackRef) -> dict[str, Any]:
    return {"key": ref.key, "url": ref.url, "title": ref.title, "artist": ref.artist,
            "duration": ref.duration, "entry": ref.entry}


def file_names(manifest: Manifest, wanted: Mapping[str, Claim], sidecars: Mapping[str, dict[str, Any]],
               previous: Mapping[str, str]) -> dict[str, str]:
    """One file stem per downloaded track, unique in the library, stable across runs."""
    stems = {}
    for key, claim in wanted.items():
        sidecar = sidecars.get(key)
        if sidecar is None:
            continue
        fields = {
            "artist": sidecar.get("artist") or claim.ref.artist or "",
            "title": sidecar.get("title") or claim.ref.title or "",
            "playlist": claim.playlists[0].name,
            "id": key.split(" ", 1)[-1],
        }
        stems[key] = render_name(manifest.naming, fields)
    return assign_names(stems, previous, max_bytes=manifest.naming.max_length)


def tag_context(claim: Claim) -> tuple[str, str, str]:
    """(album fallback, grouping, key notation) of a track's tags: from the playlists listing it."""
    first = claim.playlists[0]
    return first.name, ", ".join(p.name for p in claim.playlists), first.analysis.key_notation


def convert_digest(format_digest: str, name: str, claim: Claim) -> str:
    """Everything a converted file depends on besides its sidecar and analysis."""
    return digest([format_digest, name, *tag_context(claim), TAGS_VERSION])


def convert_tasks(ctx: RunContext, wanted: Mapping[str, Claim], names: Mapping[str, str],
                  failures: Mapping[str, Failure], now: float) -> Iterator[dict[str, Any]]:
    layout = ctx.layout
    manifest = ctx.manifest
    recipe_digests = {fmt: recipe.digest for fmt, recipe in manifest.formats.items()}  # once, not per task
    for key, claim in active(ctx, wanted, failures, now):
        name = names.get(key)
        if name is None:
            continue
        album, grouping, notation = tag_context(claim)
        for fmt in claim.formats:
            recipe = manifest.formats[fmt]
            dst = layout.output(fmt, name, recipe.extension)
            recipe_digest = convert_digest(recipe_digests[fmt], name, claim)
            yield {
                "name": f"{stem_of(key)}:{fmt}",
                "doc": f"{fmt}: {dst.name}",
                "actions": [(run_convert, [ctx, key, fmt, str(dst), album, grouping, notation, recipe_digest])],
                "task_dep": [f"analyze:{stem_of(key)}"],
                "targets": [str(dst)],
                # what the file was made of is in the catalog, not in doit's DB (engine/freshness.py)
                "uptodate": [(output_current, [ctx, key, fmt, str(dst), recipe_digest])],
                "clean": True,
                **_quiet(),
            }


def playlist_folder(playlist: Playlist) -> str:
    return safe_component(playlist.name, 100)


def publish_tasks(ctx: RunContext, snapshots: Mapping[str, Snapshot | None], names: Mapping[str, str],
                  built: frozenset[str]) -> Iterator[dict[str, Any]]:
    """publish:<slug> over the files that exist; `built` is the set of existing library paths."""
    layout = ctx.layout
    for p in ctx.manifest.playlists:
        snap = snapshots.get(p.slug)
        if snap is None:
            continue
        folder = playlist_folder(p)
        entries: dict[str, list[tuple[str, str, str]]] = {}
        for fmt in p.formats:
            recipe = ctx.manifest.formats[fmt]
            rows = []
            for ref in snap.tracks:
                name = names.get(ref.key)
                if name is None:
                    continue
                src = str(layout.output(fmt, name, recipe.extension))
                if src in built:
                    rows.append((ref.key, Path(src).name, src))
            entries[fmt] = rows
        deps = sorted({src for rows in entries.values() for _, _, src in rows})
        yield {
            "name": p.slug,
            "doc": f"playlist folder and M3U8 of {p.name!r}",
            "actions": [(run_publish, [ctx, p.slug, folder, entries])],
            "file_dep": deps,
            "targets": [str(layout.m3u(folder, fmt)) for fmt in p.formats],
            "uptodate": [config_changed(digest(entries)), (_links_present, [layout.playlist_dir(folder), entries])],
            **_quiet(),
        }


def _links_present(base: Path, entries: Mapping[str, list[tuple[str, str, str]]]) -> bool:
    return all((base / fmt / name).exists() for fmt, rows in entries.items() for _, name, _ in rows)


def eagle_tasks(ctx: RunContext, wanted: Mapping[str, Claim], names: Mapping[str, str],
                built: frozenset[str]) -> Iterator[dict[str, Any]]:
    """eagle:<stem>:<fmt> for each built file of a format Eagle wants (manifest `eagle:`)."""
    config = ctx.manifest.eagle
    if config is None:
        return
    for key, claim in wanted.items():
        name = names.get(key)
        if name is None:
            continue
        playlists = [p.name for p in claim.playlists]
        for fmt in claim.formats:
            if fmt not in config.formats:
                continue
            recipe = ctx.manifest.formats[fmt]
            path = str(ctx.layout.output(fmt, name, recipe.extension))
            if path not in built:
                continue
            fingerprint = digest([recipe.digest, key, name])
            yield {
                "name": f"{stem_of(key)}:{fmt}",
                "doc": f"Eagle item for {Path(path).name}",
                "actions": [(run_eagle, [ctx, key, fmt, path, playlists, fingerprint])],
                "file_dep": [path, str(ctx.layout.analysis(key))],
                "uptodate": [config_changed(digest([config.api_url, config.folder, playlists, fingerprint]))],
                **_quiet(),
            }


def notion_tasks(ctx: RunContext, tracks: list[Any]) -> Iterator[dict[str, Any]]:
    """One `notion` task per run when the manifest has `notion:`; up to date while the tracks'
    Notion values are the ones last synced."""
    config = ctx.manifest.notion
    if config is None:
        return
    yield {
        "name": "sync",
        "doc": f"mirror {len(tracks)} tracks into Notion",
        "actions": [(run_notion, [ctx, tracks])],
        # page ids the sync itself records are not a change worth another sync
        "uptodate": [config_changed(digest([config.database, config.api_url, list(config.properties),
                                            [dataclasses.replace(t, page_id=None) for t in tracks]]))],
        **_quiet(),
    }


def rekordbox_tasks(ctx: RunContext, snapshots: Mapping[str, Snapshot | None], names: Mapping[str, str],
                    built: frozenset[str]) -> Iterator[dict[str, Any]]:
    """rekordbox: the XML of the manifest's `rekordbox:` section, rewritten when a built file or
    a playlist's order changes."""
    config = ctx.manifest.rekordbox
    if config is None:
        return
    order = {slug: [t.key for t in snap.tracks] if snap else [] for slug, snap in snapshots.items()}
    yield {
        "name": "xml",
        "doc": f"Rekordbox XML at {config.path}",
        "actions": [(run_rekordbox, [ctx])],
        "file_dep": sorted(built),
        "targets": [str(config.path)],
        "uptodate": [config_changed(digest([config.format, order, dict(names)]))],
        **_quiet(),
    }
