"""Where resolution's decisions live between runs.

- `playlists.lock`, next to the manifest: every settled match (found by search, pinned, or
  chosen in review) and every candidate a human rejected. A rerun reads it and searches nothing;
  a user may commit it. JSON, sorted, one entry per source id.
- `cache/matches.json`: what is still open (review, unmatched) with its candidates, so
  `cratefile review` needs no search and a track is not searched again before `review_ttl`.

Several playlists may resolve at once (doit's threads, or two processes): every save re-reads
the files under an exclusive lock and writes only the entries this process changed.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cratefile.atomic import write_bytes
from cratefile.resolve import Decision

LOCK_NAME = "playlists.lock"
VERSION = 1
SETTLED = ("matched", "pinned")
_threads = threading.Lock()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(text: Any) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class MatchBook:
    """The lockfile and the open-items cache of one workspace."""

    def __init__(self, lock_path: Path, open_path: Path) -> None:
        self.lock_path, self.open_path = lock_path, open_path
        self._settled: dict[str, dict[str, Any]] = {}
        self._rejected: dict[str, list[str]] = {}
        self._open: dict[str, dict[str, Any]] = {}
        self._changed: set[str] = set()
        self.reload()

    @classmethod
    def of(cls, manifest_dir: Path, cache_dir: Path) -> MatchBook:
        return cls(manifest_dir / LOCK_NAME, cache_dir / "matches.json")

    def reload(self) -> None:
        lock, pending = _read(self.lock_path), _read(self.open_path)
        matches, rejected = lock.get("matches"), lock.get("rejected")
        self._settled = {k: v for k, v in (matches or {}).items() if isinstance(v, dict)}
        self._rejected = {k: [str(u) for u in v] for k, v in (rejected or {}).items() if isinstance(v, list)}
        items = pending.get("items")
        self._open = {k: v for k, v in (items or {}).items() if isinstance(v, dict)}

    # ---- reading

    def settled(self, source_id: str) -> Decision | None:
        entry = self._settled.get(source_id)
        if not entry or entry.get("status") not in SETTLED or not entry.get("url"):
            return None
        return Decision(source_id, entry["status"], entry["url"], entry.get("key"), entry.get("confidence"),
                        _ts(entry.get("decided_at")), str(entry.get("how") or "search"),
                        note=entry.get("pin"))

    def open_item(self, source_id: str) -> dict[str, Any] | None:
        return self._open.get(source_id)

    def pending(self, source_id: str, ttl: float, now: float) -> Decision | None:
        """The open decision about `source_id` while it is younger than `ttl` seconds."""
        entry = self._open.get(source_id)
        if not entry or not isinstance(entry.get("decision"), dict):
            return None
        decision = Decision.from_entry(entry["decision"])
        return decision if now - decision.decided_at < ttl else None

    def rejected(self, source_id: str) -> frozenset[str]:
        return frozenset(self._rejected.get(source_id, ()))

    def open_items(self) -> dict[str, dict[str, Any]]:
        return dict(self._open)

    # ---- writing

    def record(self, decision: Decision, *, wanted: dict[str, Any] | None = None, playlist: str | None = None,
               pin: str | None = None) -> None:
        sid = decision.source_id
        with _threads:
            if decision.status in SETTLED:
                entry = {"status": decision.status, "url": decision.url, "key": decision.key,
                         "confidence": decision.confidence, "decided_at": _iso(decision.decided_at or time.time()),
                         "how": decision.how}
                if wanted:
                    entry.update(title=wanted.get("title"), artist=", ".join(wanted.get("artists") or []))
                if pin:
                    entry["pin"] = pin
                self._settled[sid] = {k: v for k, v in entry.items() if v is not None}
                self._open.pop(sid, None)
            else:
                old = self._open.get(sid) or {}
                playlists = sorted({*old.get("playlists", []), *([playlist] if playlist else [])})
                self._open[sid] = {"decision": decision.to_entry(), "wanted": wanted or old.get("wanted"),
                                   "playlists": playlists}
                self._settled.pop(sid, None)
            self._changed.add(sid)

    def reject(self, source_id: str, urls: list[str]) -> None:
        with _threads:
            known = self._rejected.setdefault(source_id, [])
            known.extend(u for u in urls if u not in known)
            self._changed.add(source_id)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.open_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.open_path.with_name(".matches.flock"), "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def save(self) -> None:
        """Write what changed, merged into what other processes wrote meanwhile."""
        with _threads, self._exclusive():
            if not self._changed:
                return
            lock, pending = _read(self.lock_path), _read(self.open_path)
            matches = {k: v for k, v in (lock.get("matches") or {}).items() if isinstance(v, dict)}
            rejected = {k: v for k, v in (lock.get("rejected") or {}).items() if isinstance(v, list)}
            items = {k: v for k, v in (pending.get("items") or {}).items() if isinstance(v, dict)}
            for sid in self._changed:
                for mine, theirs in ((self._settled, matches), (self._open, items)):
                    if sid in mine:
                        theirs[sid] = mine[sid]
                    else:
                        theirs.pop(sid, None)
                if sid in self._rejected:  # rejections only grow
                    rejected[sid] = sorted({*rejected.get(sid, []), *self._rejected[sid]})
            lock_doc = {
                "about": "cratefile's settled matches: each Spotify/Discogs track id -> the upload it is built "
                         "from (how: search | pin | review). Commit it to make builds reproducible; delete an "
                         "entry (or run cratefile --rematch) to search again.",
                "version": VERSION, "matches": dict(sorted(matches.items())),
                "rejected": dict(sorted(rejected.items())),
            }
            if matches or rejected or self.lock_path.exists():
                write_bytes(self.lock_path, (json.dumps(lock_doc, indent=2, ensure_ascii=False) + "\n").encode())
            write_bytes(self.open_path, json.dumps({"version": VERSION, "items": items}, indent=1).encode())
            self._settled, self._rejected, self._open = matches, rejected, items
            self._changed.clear()
