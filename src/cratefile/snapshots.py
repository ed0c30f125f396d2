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
    data = read_json(path)
    if not isinstance(data, dict):
        return None
    try:
        tracks = tuple(TrackRef(**t) for t in data["tracks"])
        return Snapshot(data["playlist"], data["source"], float(data["fetched_at"]), tracks)
    except (KeyError, TypeError, ValueError):
        return None


def snapshot_meta(path: Path) -> dict[str, Any]:
    data = read_json(path)
    return data if isinstance(data, dict) else {}
