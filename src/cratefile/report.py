"""The run report: cache/reports/latest.json (and a timestamped copy), and its summary lines.

Per playlist: tracks total, built now, already up to date, failed in this run (key, stage,
category, message), held back (permanent failures waiting for their cool-off), pending,
`aliases` (acoustic duplicates whose position publishes the kept recording's file, counted
built when that file is), and
`elsewhere`: tracks another machine sharing the Notion queue is building (`locked`, retried
next run) or has built (`built`). Those are not failures: `failed_count` (the exit code)
leaves them out, and one summary line counts them for the whole run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from cratefile.atomic import write_json
from cratefile.context import RunContext
from cratefile.errors import Category
from cratefile.plan import held_back, ref_inputs
from cratefile.quality.aliases import Listed
from cratefile.records import Snapshot, stem_of, task_track_stem
from cratefile.resolve import RESOLVED_KINDS
from cratefile.snapshots import snapshot_and_meta

# category -> its name under a playlist's `elsewhere`
_NONE: dict[str, str] = {}
ELSEWHERE = {Category.LOCKED_ELSEWHERE.value: "locked", Category.BUILT_ELSEWHERE.value: "built"}


def build_report(ctx: RunContext, executed: list[str], *, interrupted: bool, errors: list[str]) -> dict[str, Any]:
    touched = {s for s in (task_track_stem(n) for n in executed) if s}
    failed_now: dict[str, dict[str, Any]] = {}
    elsewhere_now: dict[str, str] = {}  # key -> "locked" | "built"
    for o in ctx.outcomes:
        if o.ok or o.key in failed_now or o.key in elsewhere_now:
            continue
        if o.category in ELSEWHERE:
            elsewhere_now[o.key] = ELSEWHERE[o.category]
        else:
            failed_now[o.key] = {"key": o.key, "stage": o.stage, "category": o.category, "message": o.message}
    failures = ctx.catalog.failures()
    read = {p.slug: snapshot_and_meta(ctx.layout.snapshot(p.slug)) for p in ctx.manifest.playlists}  # one read each
    metas = {slug: meta for slug, (_, meta) in read.items()}
    snaps = {slug: snap for slug, (snap, _) in read.items()}
    # aliases publish their kept track's files; formats from_lossy: skip holds back are not missing
    listed = Listed(ctx.manifest, ctx.catalog, {slug: [r.key for r in s.tracks] if s else []
                                                for slug, s in snaps.items()})
    # what the fast path proved in place in this run is not looked up and stat-ed again
    proven = _proven_formats(ctx)
    files = _file_paths(ctx, listed, snaps, proven)
    playlists = []
    for p in ctx.manifest.playlists:
        data = metas[p.slug]
        snap = snaps[p.slug]
        tracks = snap.tracks if snap else ()
        entry: dict[str, Any] = {"name": p.name, "slug": p.slug, "total": len(tracks), "built_now": 0,
                                 "up_to_date": 0, "failed": [], "held_back": [], "pending": 0,
                                 "elsewhere": {"locked": 0, "built": 0}, "aliases": 0}
        if p.slug in ctx.playlist_errors:
            entry["fetch_error"] = ctx.playlist_errors[p.slug]
        resolved = snap is not None and p.source.kind in RESOLVED_KINDS
        waiting = data.get("review") if resolved else None
        if isinstance(waiting, list) and waiting:  # resolved playlists: tracks no upload is sure for
            entry["review"] = sum(1 for w in waiting if isinstance(w, dict) and w.get("status") == "review")
            entry["unmatched"] = sum(1 for w in waiting if isinstance(w, dict) and w.get("status") == "unmatched")
            entry["total"] += entry["review"] + entry["unmatched"]
        wanted = frozenset(p.formats)
        for ref in tracks:
            track = listed.key_of(ref.key)
            entry["aliases"] += track != ref.key
            have = files.get(track, _NONE)
            held = listed.held_of(ref.key)
            seen = proven.get(track)
            built = (seen is not None and wanted <= seen) or all(  # a clean track has every format it claims
                fmt in held or (seen is not None and fmt in seen) or (fmt in have and os.path.exists(have[fmt]))
                for fmt in p.formats)
            if ref.key in failed_now:
                entry["failed"].append({**failed_now[ref.key], "title": ref.title})
            elif ref.key in elsewhere_now:
                entry["elsewhere"][elsewhere_now[ref.key]] += 1
            elif built:
                entry["built_now" if touched and stem_of(track) in touched else "up_to_date"] += 1
            elif held_back(failures.get(ref.key), time.time(), ctx.manifest.retry.cool_off_hours, False,
                           ref_inputs(ref)):
                f = failures[ref.key]
                entry["held_back"].append({"key": ref.key, "stage": f.stage, "category": f.category,
                                           "message": f.message, "failed_at": f.failed_at})
            else:
                entry["pending"] += 1
        playlists.append(entry)
    return {
        "started_at": ctx.started,
        "finished_at": time.time(),
        "duration_s": round(time.time() - ctx.started, 3),
        "interrupted": interrupted,
        "tasks_executed": len(executed),
        "errors": errors,
        "playlists": playlists,
        "elsewhere": {kind: sum(1 for k in elsewhere_now.values() if k == kind) for kind in ("locked", "built")},
    }


def _proven_formats(ctx: RunContext) -> dict[str, frozenset[str]]:
    """{track: its formats} of the tracks this run's fast path proved clean: each format's file
    was found in place (engine/fastpath.py)."""
    from cratefile.engine.tasks import PLANNER

    planner = ctx.shared(PLANNER, lambda: None)
    return planner.proven_formats() if planner is not None else {}


def _file_paths(ctx: RunContext, listed: Listed, snaps: dict[str, Snapshot | None],
                proven: Mapping[str, Collection[str]]) -> dict[str, dict[str, str]]:
    """{track: {format: path}} from the catalog, of the tracks whose files the report must
    look for: all of them, less those `proven` holds every format of."""
    wanted: set[str] | None = None
    if proven:
        wanted = set()
        for p in ctx.manifest.playlists:
            snap = snaps[p.slug]
            for ref in snap.tracks if snap else ():
                track = listed.key_of(ref.key)
                seen = proven.get(track)
                if seen is None or any(fmt not in seen for fmt in p.formats):
                    wanted.add(track)
    files: dict[str, dict[str, str]] = {}
    for (key, fmt), path in ctx.catalog.file_paths(wanted).items():
        files.setdefault(key, {})[fmt] = path
    return files


def write_report(reports_dir: Path, report: dict[str, Any]) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(report["finished_at"]))
    path = reports_dir / f"run-{stamp}-{os.getpid()}.json"
    write_json(path, report)
    latest = reports_dir / "latest.json"
    tmp = reports_dir / f".latest.{os.getpid()}.part.json"
    shutil.copyfile(path, tmp)
    os.replace(tmp, latest)
    return latest


def failed_count(report: dict[str, Any]) -> int:
    return sum(len(p["failed"]) + (1 if "fetch_error" in p else 0) for p in report["playlists"])


def _elsewhere_lines(elsewhere: dict[str, int]) -> list[str]:
    """One line for the run: the tracks left to other machines (each counted once)."""
    locked, built = elsewhere.get("locked", 0), elsewhere.get("built", 0)
    parts = []
    if locked:
        parts.append(f"{locked} track{'' if locked == 1 else 's'} being built by another machine (retried next run)")
    if built:
        count = str(built) if locked else f"{built} track{'' if built == 1 else 's'}"
        parts.append(f"{count} built by another machine (not downloaded here)")
    return ["Notion queue: " + ", ".join(parts) + "; not failures"] if parts else []


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for p in report["playlists"]:
        parts = [f"{p['total']} tracks", f"{p['built_now']} built now", f"{p['up_to_date']} up to date"]
        if p["failed"]:
            parts.append(f"{len(p['failed'])} failed")
        if p["held_back"]:
            parts.append(f"{len(p['held_back'])} failed earlier (not retried yet)")
        if p["pending"]:
            parts.append(f"{p['pending']} pending")
        if p.get("aliases"):
            parts.append(f"{p['aliases']} the same recording as another track (its file published)")
        if p.get("review"):
            parts.append(f"{p['review']} for review")
        if p.get("unmatched"):
            parts.append(f"{p['unmatched']} not found")
        elsewhere = p.get("elsewhere") or {}
        if elsewhere.get("locked"):
            parts.append(f"{elsewhere['locked']} being built by another machine")
        if elsewhere.get("built"):
            parts.append(f"{elsewhere['built']} built by another machine")
        lines.append(f"{p['name']}: " + ", ".join(parts))
        if "fetch_error" in p:
            lines.append(f"  playlist not refreshed: {p['fetch_error']}")
        for f in p["failed"]:
            what = f"{f['title']!r} ({f['key']})" if f.get("title") else f["key"]
            lines.append(f"  failed {what} at {f['stage']}: {f['category']}: {f['message']}")
    waiting = sum(p.get("review", 0) + p.get("unmatched", 0) for p in report["playlists"])
    if waiting:
        lines.append(f"{waiting} track{'' if waiting == 1 else 's'} of Spotify/Discogs playlists had no sure match "
                     "(not failures; nothing was guessed): run cratefile review")
    lines += _elsewhere_lines(report.get("elsewhere") or {})
    lines += [f"error: {e}" for e in report["errors"]]
    lines += [f"note: {n}" for n in report.get("notes", [])]
    lines.append(f"{report['tasks_executed']} tasks ran in {report['duration_s']:.1f} s")
    return lines
