"""Playlist snapshots: cache/playlists/<slug>.json, the ordered track refs of one playlist.

A run reads each snapshot several times (preflight, freshness, the track creators, the progress
display, the report); a 20,000-track snapshot is ~8 MB of JSON and 20,000 TrackRefs. So the
parse of a file is remembered in this process with the bytes it came from, and reused only when
the file still holds exactly those bytes: reading and comparing them costs a few ms, parsing them
again ~0.1 s. Snapshots are frozen records; `snapshot_meta` hands out a copy of its top level.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cratefile.atomic import write_json
from cratefile.records import Snapshot, TrackRef

_KEPT = 8  # snapshot files remembered (a process that builds several workspaces: tests)
_memo: OrderedDict[str, tuple[bytes, dict[str, Any], list[Snapshot | None]]] = OrderedDict()
_memo_lock = threading.Lock()


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
    return snapshot_and_meta(path)[0]


def parse_snapshot(data: dict[str, Any]) -> Snapshot | None:
    """The snapshot in a snapshot file's JSON (`snapshot_meta`), or None when it is not one:
    for callers that need its refs and its extra facts from one read."""
    try:
        tracks = tuple(TrackRef(**t) for t in data["tracks"])
        return Snapshot(data["playlist"], data["source"], float(data["fetched_at"]), tracks)
    except (KeyError, TypeError, ValueError):
        return None


def snapshot_and_meta(path: Path) -> tuple[Snapshot | None, dict[str, Any]]:
    """`read_snapshot` and `snapshot_meta` from one read."""
    data, parsed = _read(path)
    if data is None:
        return None, {}
    with _memo_lock:
        if not parsed:
            parsed.append(parse_snapshot(data))
        return parsed[0], dict(data)


def snapshot_meta(path: Path) -> dict[str, Any]:
    data, _ = _read(path)
    return dict(data) if data is not None else {}


def _read(path: Path) -> tuple[dict[str, Any] | None, list[Snapshot | None]]:
    """The JSON object in `path` (None when missing or not an object) and the list that holds
    its parsed Snapshot once someone asked for it, both reused while the bytes are the same."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, []
    name = str(path)
    with _memo_lock:
        known = _memo.get(name)
        if known is not None and known[0] == raw:
            _memo.move_to_end(name)
            return known[1], known[2]
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, []
    if not isinstance(data, dict):
        return None, []
    parsed: list[Snapshot | None] = []
    with _memo_lock:
        _memo[name] = (raw, data, parsed)
        _memo.move_to_end(name)
        while len(_memo) > _KEPT:
            _memo.popitem(last=False)
    return data, parsed

