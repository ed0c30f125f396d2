"""What the download stage does with a new source file: measure it once (provenance and
fingerprint, `record.measure`), keep the record, put the facts in the catalog, index the
fingerprint and record the duplicates it finds.

The record is written before the download's sidecar, so everything built from the sidecar
(the converted files' tags, the `from_lossy` policy) sees it. Duplicates are recorded, not
acted upon: each member of a group gets `duplicate_of` = the group's best source (by
provenance) in the catalog, and the run's report says which tracks are the same recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cratefile.quality.dupes import FingerprintIndex, rank
from cratefile.quality.record import QualityRecord, measure, read_record, record_current, write_record

if TYPE_CHECKING:
    from cratefile.context import RunContext
    from cratefile.layout import Layout


def index_path(layout: Layout) -> Path:
    return layout.cache / "fingerprints.sqlite"


def fingerprint_index(ctx: RunContext) -> FingerprintIndex:
    """The run's one handle on the index (closed with the run)."""
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
    others = ", ".join(m for m in group if m != keep)
    kept = (ctx.catalog.track(keep) or {}).get("quality") or "unknown quality"
    ctx.note(f"duplicates: {others} {'is' if len(group) == 2 else 'are'} the same recording as {keep} "
             f"(kept as the best source: {kept})")


__all__ = ["assess", "fingerprint_index", "index_path", "quality_current"]
