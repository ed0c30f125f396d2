"""Acoustic duplicates: the fingerprint index (`cache/fingerprints.sqlite`) and its verdicts.

Comparing a new track with every known one costs ~5 ms each: 100 s for a 20,000-track
library. So, as Chromaprint's own server does, the index is inverted: it keeps, per track, a
sample of its distinct fingerprint items (those whose multiplicative hash falls in 1/8 of the
range: a value-based sample, so two copies of a recording sample the same items wherever
they sit in time) and looks a new track's sample up with one indexed query. A re-encode keeps
~80 % of the items exactly, an unrelated track shares almost none; only the few tracks that
share enough are compared in full (`fingerprint.compare`). Digital silence (one constant
item) is never indexed: every track with a silent lead-in would share it.

A pair is a duplicate when the whole aligned overlap is alike (similarity >= SIMILARITY),
no ~8 s window of it is unlike (worst window >= WORST_WINDOW: a track that only shares an
intro or a loop fails here) and the durations agree within DURATION_TOLERANCE. Pairs are
kept; groups follow by union, and each group's best source by provenance (`rank`) is the
one to keep.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cratefile.catalog.store import SqliteStore
from cratefile.quality.fingerprint import Match, compare
from cratefile.quality.provenance import Provenance

# Measured on generated audio (tests/test_quality_dupes.py): copies, 128k/320k MP3, an AAC made
# from the 128k MP3, -6 dB, +2 s of silence score 0.973-1.0 overall and in every window; tracks
# sharing a whole loop 0.75-0.84, the same kit and tempo 0.62, a shared intro 0.79 (worst
# window 0.69). Two different generated tracks in one key with one chord loop, 1 BPM apart,
# reach 0.91 overall and 0.90 in their worst window (tests/test_quality_false_dupes.py): the
# thresholds sit above that and below the copies' 0.973.
SIMILARITY = 0.95
WORST_WINDOW = 0.93
DURATION_TOLERANCE = (4.0, 0.02)  # seconds, share of the longer: the larger of the two
SAMPLE_SHIFT = 29  # keep items whose hash has its top 3 bits clear: 1/8 of the distinct items
SILENCE_ITEM = 627964279  # what the muxer gives for digital silence (measured)
CANDIDATES = 8  # full comparisons per new track at most
MIN_HITS_SHARE = 0.1  # a candidate shares at least this share of the new track's sample

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prints (key TEXT PRIMARY KEY, duration REAL, rank REAL NOT NULL DEFAULT 0,
                                   items BLOB NOT NULL, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hashes (hash INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (hash, key))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hashes_key ON hashes (key);
CREATE TABLE IF NOT EXISTS pairs (a TEXT NOT NULL, b TEXT NOT NULL, similarity REAL NOT NULL,
                                  offset REAL NOT NULL, PRIMARY KEY (a, b));
"""


def sample(items: np.ndarray) -> list[int]:
    """The distinct items the index keeps for a fingerprint (as signed 64-bit-safe ints)."""
    distinct = np.unique(np.asarray(items, dtype=np.uint32))
    mixed = (distinct.astype(np.uint64) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    kept = distinct[(mixed >> np.uint64(SAMPLE_SHIFT)) == 0]
    return [int(v) for v in kept if int(v) != SILENCE_ITEM]


def durations_agree(a: float | None, b: float | None) -> bool:
    if not a or not b:
        return True  # nothing to check against: the fingerprints decide
    absolute, share = DURATION_TOLERANCE
    return abs(a - b) <= max(absolute, share * max(a, b))


def is_duplicate(match: Match | None, duration_a: float | None, duration_b: float | None) -> bool:
    return (match is not None and match.similarity >= SIMILARITY and match.worst_window >= WORST_WINDOW
            and durations_agree(duration_a, duration_b))


def rank(provenance: Provenance | None) -> float:
    """How good a source is, to keep the best of a group: lossless above any lossy file, then
    bit depth and sample rate; a lossy or upscaled file by the bitrate its spectrum supports."""
    if provenance is None or provenance.verdict == "unknown":
        return 0.0
    if provenance.verdict == "lossless":
        return 100000.0 + (provenance.bit_depth or 16) * 1000.0 + (provenance.sample_rate or 44100) / 100.0
    declared = float(provenance.bitrate or 0)
    supported = float(provenance.from_kbps) if provenance.from_kbps else declared
    return min(declared, supported) if declared else supported


@dataclass(frozen=True)
class Duplicate:
    key: str  # the track already known
    match: Match


class FingerprintIndex(SqliteStore):
    """Thread-safe handle on cache/fingerprints.sqlite (rebuildable from the quality records)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, "fingerprint index")

    def add(self, key: str, items: np.ndarray, duration: float | None, rank_: float) -> None:
        """Index (or re-index) `key`'s fingerprint."""
        blob = np.asarray(items, dtype="<u4").tobytes()
        with self._tx() as conn:
            conn.execute("DELETE FROM hashes WHERE key = ?", (key,))
            conn.execute("INSERT INTO prints (key, duration, rank, items, added_at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET duration = excluded.duration, rank = excluded.rank, "
                         "items = excluded.items", (key, duration, rank_, blob, time.time()))
            conn.executemany("INSERT OR IGNORE INTO hashes (hash, key) VALUES (?, ?)",
                             [(h, key) for h in sample(items)])

    def add_many(self, rows: Iterable[tuple[str, np.ndarray, float | None, float]]) -> None:
        """Bulk `add` in one transaction (a rebuild, the benchmark's 20,000 tracks)."""
        now = time.time()
        with self._tx() as conn:
            for key, items, duration, rank_ in rows:
                conn.execute("INSERT OR REPLACE INTO prints (key, duration, rank, items, added_at) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (key, duration, rank_, np.asarray(items, dtype="<u4").tobytes(), now))
                conn.executemany("INSERT OR IGNORE INTO hashes (hash, key) VALUES (?, ?)",
                                 [(h, key) for h in sample(items)])

    def candidates(self, items: np.ndarray, exclude: str | None = None) -> list[tuple[str, int]]:
        """(key, shared sampled items) of the tracks worth a full comparison, most shared first."""
        query = sample(items)
        if not query:
            return []
        need = max(1, min(3, len(query)), int(MIN_HITS_SHARE * len(query)))
        marks = ",".join("?" * len(query))
        rows = self._query(
            f"SELECT key, COUNT(*) AS hits FROM hashes WHERE hash IN ({marks}) GROUP BY key HAVING hits >= ? "
            "ORDER BY hits DESC, key LIMIT ?", (*query, need, CANDIDATES + 1))
        return [(str(k), int(str(h))) for k, h in rows if k != exclude][:CANDIDATES]

    def fingerprint_of(self, key: str) -> tuple[np.ndarray, float | None] | None:
        rows = self._query("SELECT items, duration FROM prints WHERE key = ?", (key,))
        if not rows:
            return None
        blob, duration = rows[0]
        assert isinstance(blob, bytes)
        return np.frombuffer(blob, dtype="<u4"), (float(str(duration)) if duration is not None else None)

    def find(self, items: np.ndarray, duration: float | None, exclude: str | None = None) -> list[Duplicate]:
        """The known tracks that are the same recording as `items`, best match first."""
        found = []
        for key, _hits in self.candidates(items, exclude):
            known = self.fingerprint_of(key)
            if known is None:
                continue
            match = compare(known[0], items)
            if match is not None and is_duplicate(match, known[1], duration):
                found.append(Duplicate(key, match))
        return sorted(found, key=lambda d: -d.match.similarity)

    def record_pair(self, a: str, b: str, match: Match) -> None:
        first, second = sorted((a, b))
        with self._tx() as conn:
            conn.execute("INSERT INTO pairs (a, b, similarity, offset) VALUES (?, ?, ?, ?) ON CONFLICT (a, b) "
                         "DO UPDATE SET similarity = excluded.similarity, offset = excluded.offset",
                         (first, second, match.similarity, match.offset))

    def forget_pairs(self, key: str) -> None:
        """A re-measured track's old pairs no longer hold until found again."""
        with self._tx() as conn:
            conn.execute("DELETE FROM pairs WHERE a = ? OR b = ?", (key, key))

    def pairs(self) -> list[tuple[str, str, float]]:
        return [(str(a), str(b), float(str(s))) for a, b, s in self._query("SELECT a, b, similarity FROM pairs")]

    def group_of(self, key: str) -> list[str]:
        """Every key linked to `key` by recorded pairs, `key` included."""
        links: dict[str, set[str]] = {}
        for a, b, _s in self.pairs():
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
        seen, todo = {key}, [key]
        while todo:
            for other in links.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return sorted(seen)

    def keeper(self, group: Sequence[str]) -> str:
        """The group's best source: highest rank, then the first indexed."""
        rows = self._query(f"SELECT key, rank, added_at FROM prints WHERE key IN ({','.join('?' * len(group))})",
                           tuple(group))
        scored = {str(k): (float(str(r)), -float(str(t))) for k, r, t in rows}
        return max(group, key=lambda k: (*scored.get(k, (0.0, float("-inf"))), k == min(group)))

    def size(self) -> int:
        return int(str(self._query("SELECT COUNT(*) FROM prints")[0][0]))


__all__ = ["Duplicate", "FingerprintIndex", "durations_agree", "is_duplicate", "rank", "sample"]
