"""What the download stage does with a new source file: measure it once (provenance and
fingerprint, `record.measure`), keep the record, put the facts in the catalog, index the
fingerprint and record the duplicates it finds.

The record is written before the download's sidecar, so everything built from the sidecar
(the converted files' tags, the `from_lossy` policy) sees it. Each member of a duplicate
group gets `duplicate_of` = the group's best source (by provenance) in the catalog, and the
run's report says which tracks are the same recording (a note, and its `quality` section);
the others become aliases of it (quality.aliases): no files of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cratefile.quality.aliases import for_run, in_effect
from cratefile.quality.policy import Decision, decide
from cratefile.quality.record import QualityRecord, measure, read_record, record_current, write_record
from cratefile.records import FormatRecipe, Playlist

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.layout import Layout
    from cratefile.quality.dupes import FingerprintIndex


def run_report(ctx: RunContext) -> dict[str, list[dict[str, Any]]]:
    """The run report's `quality` section: lossless files built from lossy sources (warn), the
    ones not built (skip), and the duplicate groups found in this run."""
    section: dict[str, list[dict[str, Any]]] = ctx.shared("quality-report", lambda: ctx.sink_stats.setdefault(
        "quality", {"from_lossy_warn": [], "from_lossy_skip": [], "duplicates": []}))
    return section


def index_path(layout: Layout) -> Path:
    return layout.cache / "fingerprints.sqlite"


def fingerprint_index(ctx: RunContext) -> FingerprintIndex:
    """The run's one handle on the index (closed with the run)."""
    from cratefile.quality.dupes import FingerprintIndex  # numpy: not on a run that measures nothing

    index: FingerprintIndex = ctx.shared("quality-index", lambda: FingerprintIndex(index_path(ctx.layout)))
    return index


def quality_current(ctx: RunContext, key: str, audio: Path) -> bool:
    return record_current(read_record(ctx.layout, key), audio)


def assess(ctx: RunContext, key: str, audio: Path, duration: float | None) -> QualityRecord:
    """Measure `audio` unless its record is current; record the facts and any duplicates."""
    record = read_record(ctx.layout, key)
    if record_current(record, audio):
        assert record is not None
        return record
    record = measure(audio, duration)
    write_record(ctx.layout, key, record)
    if record.error:
        ctx.note(record.error if record.provenance is not None else f"{key}: {record.error}")
    p = record.provenance
    ctx.catalog.upsert_track(
        key, quality=p.label if p else None, quality_verdict=p.verdict if p else None,
        src_container=p.container if p else None, src_codec=p.codec if p else None,
        src_bitrate=p.bitrate if p else None, src_sample_rate=p.sample_rate if p else None,
        src_bit_depth=p.bit_depth if p else None, src_channels=p.channels if p else None,
        src_bandwidth=p.bandwidth if p else None)
    items = record.items()
    if items is not None:
        from cratefile.quality.dupes import rank

        index = fingerprint_index(ctx)
        index.forget_pairs(key)
        index.add(key, items, record.duration, rank(p))
        for found in index.find(items, record.duration, exclude=key):
            index.record_pair(key, found.key, found.match)
        _settle_group(ctx, index, key)
    return record


def _settle_group(ctx: RunContext, index: FingerprintIndex, key: str) -> None:
    group = index.group_of(key)
    if len(group) < 2:
        ctx.catalog.upsert_track(key, duplicate_of=None)
        return
    keep = index.keeper(group)
    for member in group:
        ctx.catalog.upsert_track(member, duplicate_of=None if member == keep else keep)
    run_report(ctx)["duplicates"].append({"kept": keep, "aliases": [m for m in group if m != keep]})
    others = ", ".join(m for m in group if m != keep)
    kept = (ctx.catalog.track(keep) or {}).get("quality") or "unknown quality"
    ctx.note(f"duplicates: {others} {'is' if len(group) == 2 else 'are'} the same recording as {keep} "
             f"(kept as the best source: {kept})")


def _members(ctx: RunContext) -> dict[str, frozenset[str]]:
    members: dict[str, frozenset[str]] = ctx.shared("quality-members", lambda: {
        p.slug: frozenset(ctx.catalog.members(p.slug)) for p in ctx.manifest.playlists})
    return members


def _aliases_of(ctx: RunContext) -> dict[str, frozenset[str]]:
    """{kept track: its aliases} as the run's claims were made (quality.aliases)."""
    def invert() -> dict[str, frozenset[str]]:
        listed = frozenset().union(*_members(ctx).values())
        out: dict[str, set[str]] = {}
        for alias, kept in in_effect(for_run(ctx), listed).items():
            out.setdefault(kept, set()).add(alias)
        return {k: frozenset(v) for k, v in out.items()}

    found: dict[str, frozenset[str]] = ctx.shared("quality-aliases-of", invert)
    return found


def playlists_of(ctx: RunContext, key: str) -> list[Playlist]:
    """The manifest's playlists that list `key` now, or an alias of it (from the catalog's
    memberships), in order: as plan.claims gives them."""
    members = _members(ctx)
    keys = {key, *_aliases_of(ctx).get(key, ())}
    return [p for p in ctx.manifest.playlists if not keys.isdisjoint(members.get(p.slug, frozenset()))]


def kept_in_place(ctx: RunContext, row: dict[str, Any]) -> str | None:
    """The track kept in the place of the track of catalog row `row`, when that one is an alias
    now (quality.aliases): found to be a duplicate in this very run, its kept track listed
    by a playlist and not failed."""
    kept = row.get("duplicate_of")
    if not kept or kept == row.get("key"):
        return None
    kept_row = ctx.catalog.track(kept) or {}
    if kept_row.get("status") == "failed" or kept_row.get("duplicate_of"):
        return None
    return kept if any(kept in keys for keys in _members(ctx).values()) else None


def convert_gate(ctx: RunContext, key: str, fmt: str, recipe: FormatRecipe) -> tuple[Decision, str | None]:
    """Before converting `key` to `fmt`: may it be built (not if it is an alias found in this
    run, nor under `from_lossy: skip`), and the provenance label its tags carry. A skip is
    recorded in the catalog and said in the report; a flag is said in the report."""
    record = read_record(ctx.layout, key)
    provenance = record.provenance if record is not None else None
    row = ctx.catalog.track(key) or {}
    label = provenance.label if provenance is not None else None
    kept = kept_in_place(ctx, row)
    if kept is not None:  # its playlists publish the kept track's file: none of its own
        return Decision(False, reason=f"the same recording as {kept}, whose file is published in its place"), label
    decision = decide(playlists_of(ctx, key), fmt, recipe, provenance)
    skipped = [f for f in (row.get("from_lossy_skipped") or "").split(",") if f and f != fmt]
    if not decision.build:
        skipped.append(fmt)
        ctx.note(f"{key}: {decision.reason}")
        run_report(ctx)["from_lossy_skip"].append({"key": key, "format": fmt, "source": label})
    elif decision.flag:  # every lossy download for a WAV crate: listed in the report, not a note each
        run_report(ctx)["from_lossy_warn"].append({"key": key, "format": fmt, "source": label})
    if ",".join(sorted(skipped)) != (row.get("from_lossy_skipped") or ""):
        ctx.catalog.upsert_track(key, from_lossy_skipped=",".join(sorted(skipped)) or None)
    return decision, label


__all__ = ["assess", "convert_gate", "fingerprint_index", "index_path", "playlists_of", "quality_current"]
