"""Pure planning: manifest + snapshots + what exists → doit task dicts.

No I/O here: the creators in `engine/tasks.py` read snapshots, sidecars and the catalog and
pass them in; this module decides which tasks exist, what they depend on, what they build
and which recipe digests make them stale. Tested by comparing dicts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cratefile.catalog.sqlite import Failure
from cratefile.errors import Category
from cratefile.freshness import analysis_current, output_current
from cratefile.naming import assign_names, render_name
from cratefile.records import Claim, Manifest, Sidecar, Snapshot, TrackRef, digest, stem_of
from cratefile.sinks.base import quiet as _quiet

if TYPE_CHECKING:
    from cratefile.context import RunContext


@dataclass(frozen=True)
class Steps:
    """The core stages' actions and up-to-date checks, handed in by the engine: the plan
    decides which tasks exist and what they depend on, never what an action does."""

    fetch: Callable[..., Any]
    fetch_fresh: Callable[..., bool]
    download: Callable[..., Any]
    download_current: Callable[..., bool]
    analyze: Callable[..., Any]
    convert: Callable[..., Any]
    convert_late: Callable[..., Any]  # convert, for a track named once its download ends


# Bump when the tags a convert task writes change shape: every file is rewritten.
TAGS_VERSION = 1


def claims(manifest: Manifest, snapshots: Mapping[str, Snapshot | None],
           aliases: Mapping[str, str] | None = None) -> dict[str, Claim]:
    """Every track key of every playlist, in manifest order; the first playlist's ref wins.

    `aliases` ({acoustic duplicate: the recording kept in its place}, cratefile.quality.aliases):
    a duplicate whose kept track is claimed too is no track of its own; the kept track is
    claimed by the duplicate's playlists as well, so it is built in every format either wants."""
    out: dict[str, Claim] = {}
    for playlist in manifest.playlists:
        snap = snapshots.get(playlist.slug)
        for ref in snap.tracks if snap else ():
            known = out.get(ref.key)
            if known is None:
                out[ref.key] = Claim(ref, playlist.source.kind, (playlist,))
            elif playlist not in known.playlists:
                out[ref.key] = Claim(known.ref, known.kind, known.playlists + (playlist,))
    merged: dict[str, dict[str, None]] = {}  # kept key -> slugs of the playlists listing it or an alias of it
    for key, kept in (aliases or {}).items():
        if key in out and kept in out and kept != key and kept not in (aliases or {}):
            slugs = merged.setdefault(kept, dict.fromkeys(p.slug for p in out[kept].playlists))
            slugs.update(dict.fromkeys(p.slug for p in out.pop(key).playlists))
    for kept, slugs in merged.items():
        known = out[kept]
        out[kept] = Claim(known.ref, known.kind, tuple(p for p in manifest.playlists if p.slug in slugs))
    return out


def ref_inputs(ref: TrackRef) -> str:
    """What a track's failure is a failure of: its snapshot entry (for a local file, its size
    and mtime). A permanent failure no longer holds once this changes."""
    return digest([ref.key, ref.url, ref.entry])


def held_back(failure: Failure | None, now: float, cool_off_hours: float, retry_failed: bool,
              inputs: str | None = None) -> bool:
    """A permanent failure is not retried before its cool-off ends (or --retry-failed), unless
    what failed changed since (`inputs`: see ref_inputs)."""
    if failure is None or retry_failed:
        return False
    if failure.inputs and inputs and failure.inputs != inputs:
        return False
    try:
        permanent = Category(failure.category).permanent
    except ValueError:
        return False
    return permanent and now - failure.failed_at < cool_off_hours * 3600


def fetch_tasks(ctx: RunContext, steps: Steps) -> Iterator[dict[str, Any]]:
    layout = ctx.layout
    for p in ctx.manifest.playlists:
        yield {
            "name": p.slug,
            "doc": f"enumerate {p.name!r} ({p.source.location})",
            "actions": [(steps.fetch, [ctx, p.slug])],
            "targets": [str(layout.snapshot(p.slug))],
            "uptodate": [(steps.fetch_fresh, [ctx, p.slug])],
            **_quiet(),
        }


def active(ctx: RunContext, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
           now: float) -> Iterator[tuple[str, Claim]]:
    """The claims not held back by a recent permanent failure."""
    cool_off = ctx.manifest.retry.cool_off_hours
    for key, claim in wanted.items():
        if not held_back(failures.get(key), now, cool_off, ctx.retry_failed, ref_inputs(claim.ref)):
            yield key, claim


def download_tasks(ctx: RunContext, steps: Steps, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
                   now: float) -> Iterator[dict[str, Any]]:
    for key, claim in active(ctx, wanted, failures, now):
        yield {
            "basename": "download",  # the creator runs under whichever of its names doit needs first
            "name": stem_of(key),
            "doc": f"{key} {claim.ref.title or claim.ref.url}",
            "actions": [(steps.download, [ctx, _ref_data(claim.ref), claim.kind])],
            "targets": [str(ctx.layout.sidecar(key))],
            "uptodate": [(steps.download_current, [ctx, key, claim.kind])],
            **_quiet(),
        }


def analyze_tasks(ctx: RunContext, steps: Steps, wanted: Mapping[str, Claim], failures: Mapping[str, Failure],
                  now: float, algo_version: str) -> Iterator[dict[str, Any]]:
    """The first playlist that lists a track decides its analysis options (BPM range)."""
    for key, claim in active(ctx, wanted, failures, now):
        options = claim.playlists[0].analysis
        yield {
            # made by the download creator, so a task_dep on download:<key> always resolves
            "basename": "analyze",
            "name": stem_of(key),
            "doc": f"BPM and key of {key}",
            "actions": [(steps.analyze, [ctx, key, options, algo_version])],
            "task_dep": [f"download:{stem_of(key)}"],
            "targets": [str(ctx.layout.analysis(key))],
            # what the analysis was made of is in its own JSON, not in doit's DB (engine/freshness.py)
            "uptodate": [(analysis_current, [ctx, key, options, algo_version])],
            **_quiet(),
        }


def _ref_data(ref: TrackRef) -> dict[str, Any]:
    return {"key": ref.key, "url": ref.url, "title": ref.title, "artist": ref.artist,
            "duration": ref.duration, "entry": ref.entry}


def file_names(manifest: Manifest, wanted: Mapping[str, Claim], sidecars: Mapping[str, Sidecar],
               previous: Mapping[str, str]) -> dict[str, str]:
    """One file stem per downloaded track, unique in the library, stable across runs."""
    stems = {}
    for key, claim in wanted.items():
        sidecar = sidecars.get(key)
        if sidecar is None:
            continue
        fields = {
            "artist": sidecar.artist or claim.ref.artist or "",
            "title": sidecar.title or claim.ref.title or "",
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


def convert_tasks(ctx: RunContext, steps: Steps, wanted: Mapping[str, Claim], names: Mapping[str, str],
                  failures: Mapping[str, Failure], now: float,
                  name_late: Callable[[str], str] | None = None) -> Iterator[dict[str, Any]]:
    """Each track in each of its formats. A track without a name yet (not downloaded, or
    downloaded again) gets tasks that name it when they start, if `name_late` is given
    (engine/fastpath.py), so its conversions can follow its own download and analysis
    instead of waiting for every download of the run; without it, such a track has none."""
    layout = ctx.layout
    manifest = ctx.manifest
    recipe_digests = {fmt: recipe.digest for fmt, recipe in manifest.formats.items()}  # once, not per task
    for key, claim in active(ctx, wanted, failures, now):
        name = names.get(key)
        if name is None and name_late is None:
            continue
        album, grouping, notation = tag_context(claim)
        for fmt in claim.formats:
            common = {
                "basename": "convert",
                "name": f"{stem_of(key)}:{fmt}",
                "task_dep": [f"analyze:{stem_of(key)}"],
                "clean": True,
                **_quiet(),
            }
            if name is None:
                # no target, so it always runs: the track is downloaded in this very run
                digest_of = functools.partial(_named_digest, recipe_digests[fmt], claim)
                yield {
                    **common,
                    "doc": f"{fmt}: {key}, named once downloaded",
                    "actions": [(steps.convert_late, [ctx, key, fmt, name_late, album, grouping, notation, digest_of])],
                }
                continue
            recipe = manifest.formats[fmt]
            dst = layout.output(fmt, name, recipe.extension)
            recipe_digest = convert_digest(recipe_digests[fmt], name, claim)
            yield {
                **common,
                "doc": f"{fmt}: {dst.name}",
                "actions": [(steps.convert, [ctx, key, fmt, str(dst), album, grouping, notation, recipe_digest])],
                "targets": [str(dst)],
                # what the file was made of is in the catalog, not in doit's DB (engine/freshness.py)
                "uptodate": [(output_current, [ctx, key, fmt, str(dst), recipe_digest])],
            }


def _named_digest(format_digest: str, claim: Claim, name: str) -> str:
    return convert_digest(format_digest, name, claim)
