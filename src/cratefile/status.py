"""`cratefile status`: what is built, pending, failed and why, per playlist, from the catalog."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from cratefile.catalog.sqlite import Catalog
from cratefile.errors import Category
from cratefile.layout import Layout
from cratefile.plan import held_back
from cratefile.quality.aliases import Listed
from cratefile.quality.record import read_record
from cratefile.records import Manifest
from cratefile.resolve import RESOLVED_KINDS

# What decides whether the table shows a track (the counts need only these).
_DECIDING = ("status", "error_category", "quality_verdict", "duplicate_of")
_ONE_BY_ONE = 64  # shown tracks read row by row; beyond, the whole table once


def _elsewhere(category: Any) -> bool:
    """Held or built by another machine sharing the Notion queue: pending here, not failed."""
    try:
        return Category(category).elsewhere
    except ValueError:
        return False


def _resolved(layout: Layout, slug: str, tracks: list[dict[str, Any]]) -> dict[str, int]:
    """A Spotify/Discogs playlist: each built track's source id and match, and the tracks that
    wait for review or were found nowhere (from the snapshot the last fetch wrote)."""
    from cratefile.snapshots import snapshot_and_meta

    snap, data = snapshot_and_meta(layout.snapshot(slug))  # one read: the refs and the review items
    refs = {r.key: r for r in (snap.tracks if snap else ())}
    for item in tracks:
        ref = refs.get(item["key"])
        info = ref.entry.get("resolved") if ref else None
        if ref and isinstance(info, dict):
            item["source"] = info.get("source")
            item["match"] = {"url": ref.url, "status": info.get("status"), "confidence": info.get("confidence")}
    waiting = data.get("review")
    counts = {"review": 0, "unmatched": 0}
    for w in waiting if isinstance(waiting, list) else []:
        if not isinstance(w, dict) or w.get("status") not in counts:
            continue
        counts[w["status"]] += 1
        best = (w.get("candidates") or [{}])[0]
        tracks.append({"position": None, "key": None, "state": w["status"], "title": w.get("title"),
                       "artist": w.get("artist"), "source": w.get("source"), "note": w.get("note"),
                       "match": {"url": best.get("url"), "status": w["status"], "confidence": w.get("confidence")}})
    return counts


def collect(manifest: Manifest, *, details: bool = True) -> dict[str, Any]:
    """Per playlist: counts, and each track (its files, quality, failure). `details=False`
    (the table): only the tracks the table shows a line for (failed, pending, waiting for
    review, upscaled, a duplicate, a format held back), the counts still over every track."""
    layout = Layout(manifest.cache, manifest.library)
    if not layout.catalog.exists():
        return {"playlists": [{"name": p.name, "slug": p.slug, "total": 0, "built": 0, "failed": 0,
                               "pending": 0, "tracks": []} for p in manifest.playlists]}
    catalog = Catalog(layout.catalog)
    try:
        out = []
        now = time.time()
        failures = catalog.failures()
        # Whole tables at once: 20k tracks in two queries, not two per track. The table needs
        # only what decides a track's line; the tracks it shows get their whole rows below.
        rows = {row["key"]: row for row in catalog.tracks(None if details else _DECIDING)}
        paths: dict[str, dict[str, str]] = {}
        for (key, fmt), path in catalog.file_paths().items():
            paths.setdefault(key, {})[fmt] = path
        present = _present(path for files in paths.values() for path in files.values())
        members = {p.slug: catalog.members(p.slug) for p in manifest.playlists}
        listed = Listed(manifest, catalog, members)
        full: dict[str, dict[str, Any]] = {}
        whole = False

        def full_rows(key: str) -> dict[str, Any]:
            """The whole row of a track the table shows: one by one for the first few, then the
            whole table once (a library with thousands of lines to show)."""
            nonlocal whole
            if key not in full and not whole:
                if len(full) < _ONE_BY_ONE:
                    full[key] = catalog.track(key) or {}
                else:
                    full.update((r["key"], r) for r in catalog.tracks())
                    whole = True
            return full.get(key, {})

        for p in manifest.playlists:
            tracks = []
            counts = {"built": 0, "failed": 0, "pending": 0, "aliases": 0}
            verdicts: dict[str, int] = {}
            for position, key in enumerate(members[p.slug], 1):
                row = rows.get(key) or {}
                published = listed.key_of(key)
                alias_of = published if published != key else None
                counts["aliases"] += alias_of is not None
                files = paths.get(published, {})  # an alias publishes the kept track's files
                # formats from_lossy: skip holds back are not missing (cratefile.quality.policy)
                held = listed.held_of(key)
                skipped = [f for f in p.formats if f in held] if held else []
                built = all(fmt in files and files[fmt] in present or fmt in skipped for fmt in p.formats)
                if built:
                    state = "built"
                elif row.get("status") == "failed" and not _elsewhere(row.get("error_category")):
                    state = "failed"
                else:
                    state = "pending"
                counts[state] += 1
                verdict = row.get("quality_verdict")
                quality = _quality(layout, key, row) if details or not verdict else None
                if quality is not None:
                    verdict = quality.get("verdict")
                verdicts[verdict or "unmeasured"] = verdicts.get(verdict or "unmeasured", 0) + 1
                if not (details or state != "built" or verdict == "upscaled" or skipped or alias_of
                        or row.get("duplicate_of")):
                    continue  # the table has no line for it
                if not details:
                    row = full_rows(key)
                item = {"position": position, "key": key, "state": state, "title": row.get("title"),
                        "artist": row.get("artist"), "bpm": row.get("bpm"), "bpm_alt": row.get("bpm_alt"),
                        "musical_key": row.get("musical_key"),
                        "duration": row.get("duration"), "files": files,
                        "quality": quality if quality is not None else _quality(layout, key, row),
                        "duplicate_of": row.get("duplicate_of"),
                        "alias_of": alias_of,
                        "skipped": {f: f"from_lossy: skip ({row.get('quality')})" for f in skipped}}
                if state == "failed":
                    failure = failures.get(key)
                    item.update(category=row.get("error_category"), stage=row.get("failed_stage"),
                                message=row.get("error_message"), attempts=row.get("attempts"),
                                retried_next_run=not held_back(failure, now, manifest.retry.cool_off_hours, False))
                tracks.append(item)
            total = len(members[p.slug])
            if p.source.kind in RESOLVED_KINDS:
                shown = len(tracks)
                counts.update(_resolved(layout, p.slug, tracks))
                total += len(tracks) - shown  # the review items it added
            out.append({"name": p.name, "slug": p.slug, "total": total, **counts, "quality": verdicts,
                        "tracks": tracks})
        return {"playlists": out}
    finally:
        catalog.close()


def _present(paths: Iterable[str]) -> set[str]:
    """Which of `paths` exist: one listing per folder, not one stat per file (60,000 files of a
    20,000-track library in three formats live in three folders)."""
    by_folder: dict[str, list[tuple[str, str]]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder or "/", []).append((name, path))
    found: set[str] = set()
    for folder, wanted in by_folder.items():
        try:
            names = set(os.listdir(folder))
        except OSError:  # a folder that is gone holds nothing
            continue
        found.update(path for name, path in wanted if name in names)
    return found


def _quality(layout: Layout, key: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The track's provenance: the catalog's columns, or its quality record when the catalog
    was refilled without them."""
    if row.get("quality_verdict"):
        return {"verdict": row["quality_verdict"], "label": row.get("quality"), "container": row.get("src_container"),
                "codec": row.get("src_codec"), "bitrate": row.get("src_bitrate"),
                "sample_rate": row.get("src_sample_rate"), "bit_depth": row.get("src_bit_depth"),
                "channels": row.get("src_channels"), "bandwidth": row.get("src_bandwidth")}
    record = read_record(layout, key)
    if record is None or record.provenance is None:
        return None
    p = record.provenance
    return {"verdict": p.verdict, "label": p.label, "container": p.container, "codec": p.codec,
            "bitrate": p.bitrate, "sample_rate": p.sample_rate, "bit_depth": p.bit_depth, "channels": p.channels,
            "bandwidth": p.bandwidth}


def render_table(data: dict[str, Any]) -> str:
    lines = [f"{'playlist':<32} {'total':>6} {'built':>6} {'failed':>6} {'pending':>7}"]
    for p in data["playlists"]:
        lines.append(f"{p['name'][:32]:<32} {p['total']:>6} {p['built']:>6} {p['failed']:>6} {p['pending']:>7}")
        if p.get("quality"):
            lines.append("  sources: " + ", ".join(f"{n} {v}" for v, n in sorted(p["quality"].items())))
        for t in p["tracks"]:
            if t["state"] == "failed":
                when = "retried next run" if t.get("retried_next_run") else "not retried before its cool-off"
                lines.append(f"  ✗ {t['key']} {t.get('title') or ''}: {t.get('category')} "
                             f"at {t.get('stage')}: {t.get('message')} ({when})")
            elif t["state"] in ("review", "unmatched"):
                why = f": {t['note']}" if t.get("note") else ""
                lines.append(f"  ? {t.get('source')} {t.get('artist') or ''} - {t.get('title') or ''}: "
                             f"{t['state']}{why} (cratefile review)")
            quality = t.get("quality") or {}
            if quality.get("verdict") == "upscaled" or t.get("duplicate_of") or t.get("skipped"):
                notes = [quality.get("label") or ""]
                if t.get("skipped"):
                    notes.append(f"not built as {', '.join(t['skipped'])} (from_lossy: skip)")
                if t.get("alias_of"):
                    notes.append(f"same recording as {t['alias_of']}, whose file is published here")
                elif t.get("duplicate_of"):
                    notes.append(f"same recording as {t['duplicate_of']}")
                lines.append(f"  ~ {t['key']} {t.get('title') or ''}: {'; '.join(n for n in notes if n)}")
    return "\n".join(lines)


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False)
