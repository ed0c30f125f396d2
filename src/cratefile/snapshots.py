"""Playlist snapshots: cache/playlists/<slug>.json, the ordered track refs of one playlist."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from cratefile.atomic import read_json, write_json
from cratefile.records import Snapshot, TrackRef


def write_snapshot(path: Path, snap: Snapshot, extra: dict[str, Any] | None = None) -> None:
    data = {
        "playlist": snap.playlist,
        "source": snap.source,
        "fetched_at": snap.fetched_at,
        "tracks": [asdict(t) for t in snap.tracks],
        **(extra or {}),
    }
    write_json(path, data)


def read_snapshot(path: Path) -> Snapshot | None:
    """The snapshot in `path`, or None when missing or unreadable (it is then fetched again)."""
    return parse_snapshot(snapshot_meta(path))


def parse_snapshot(data: dict[str, Any]) -> Snapshot | None:
    """The snapshot in a snapshot file's JSON (`snapshot_meta`), or None when it is not one:
    for callers that need its refs and its extra facts from one read."""
    try:
        tracks = tuple(TrackRef(**t) for t in data["tracks"])
        return Snapshot(data["playlist"], data["source"], float(data["fetched_at"]), tracks)
    except (KeyError, TypeError, ValueError):
        return None


def snapshot_meta(path: Path) -> dict[str, Any]:
    data = read_json(path)
    return data if isinstance(data, dict) else {}
