"""The SQLite catalog (cache/catalog.sqlite): the record of every track.

One row per track key (source, metadata, analysis, status and failure category), one row per
(track, format) output file, one row per (playlist, position) membership. Actions write to
it from doit's worker threads as they finish, each write its own committed transaction
(WAL), so a killed run keeps everything that finished and a rerun never duplicates a row:
every table has a natural primary key and writes are upserts.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cratefile.catalog.store import SqliteStore
from cratefile.errors import CatalogError

SCHEMA_VERSION = 1
_FEW = 500  # up to this many keys are asked for by name; more, and the whole table is read

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (
    key TEXT PRIMARY KEY,
    url TEXT,
    title TEXT,
    artist TEXT,
    album TEXT,
    duration REAL,
    bpm REAL,
    bpm_confidence REAL,
    bpm_source TEXT,
    musical_key TEXT,
    key_confidence REAL,
    key_source TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    failed_stage TEXT,
    error_category TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failed_at REAL,
    failed_inputs TEXT,
    notion_page_id TEXT,
    eagle_ids TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    key TEXT NOT NULL,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    inputs TEXT,
    built_at REAL NOT NULL,
    audio TEXT,
    PRIMARY KEY (key, format)
);
CREATE TABLE IF NOT EXISTS memberships (
    playlist TEXT NOT NULL,
    position INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (playlist, position)
);
CREATE INDEX IF NOT EXISTS memberships_key ON memberships (key);
CREATE TABLE IF NOT EXISTS playlists (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    fetched_at REAL
);
-- engine/fastpath.py: tracks proven up to date, with a digest of everything that proof read
CREATE TABLE IF NOT EXISTS clean (
    key TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    audio TEXT NOT NULL,
    name TEXT NOT NULL,
    plain TEXT NOT NULL
);
-- the proof compared the track's file rows and saw no failure: either changing drops it
CREATE TRIGGER IF NOT EXISTS clean_files_insert AFTER INSERT ON files
    BEGIN DELETE FROM clean WHERE key = NEW.key; END;
CREATE TRIGGER IF NOT EXISTS clean_files_update AFTER UPDATE ON files
    BEGIN DELETE FROM clean WHERE key IN (OLD.key, NEW.key); END;
CREATE TRIGGER IF NOT EXISTS clean_files_delete AFTER DELETE ON files
    BEGIN DELETE FROM clean WHERE key = OLD.key; END;
CREATE TRIGGER IF NOT EXISTS clean_failed_insert AFTER INSERT ON tracks WHEN NEW.status = 'failed'
    BEGIN DELETE FROM clean WHERE key = NEW.key; END;
CREATE TRIGGER IF NOT EXISTS clean_failed_update AFTER UPDATE OF status ON tracks WHEN NEW.status = 'failed'
    BEGIN DELETE FROM clean WHERE key = NEW.key; END;
"""

# The source's provenance and acoustic duplicate (cratefile.quality; the record of truth is
# cache/quality/<stem>.json): added to catalogs made before them by _add_missing_columns.
QUALITY_COLUMNS = (
    ("quality", "TEXT"),  # the verdict's label: 'lossless', 'lossy mp3 ~128k', 'upscaled from ~128k (...)'
    ("quality_verdict", "TEXT"),  # lossless | lossy | upscaled | unknown
    ("src_container", "TEXT"),
    ("src_codec", "TEXT"),
    ("src_bitrate", "INTEGER"),
    ("src_sample_rate", "INTEGER"),
    ("src_bit_depth", "INTEGER"),
    ("src_channels", "INTEGER"),
    ("src_bandwidth", "REAL"),
    ("duplicate_of", "TEXT"),  # the key of the same recording kept in its place
    ("from_lossy_skipped", "TEXT"),  # formats not built from this lossy source (from_lossy: skip), comma-separated
)

# Added by round two of the analysis: the other tempo octave it weighed (half or double).
ANALYSIS_COLUMNS = (("bpm_alt", "REAL"),)

TRACK_FIELDS = (
    "url",
    "title",
    "artist",
    "album",
    "duration",
    "bpm",
    "bpm_confidence",
    "bpm_alt",
    "bpm_source",
    "musical_key",
    "key_confidence",
    "key_source",
    "status",
    "failed_stage",
    "error_category",
    "error_message",
    "failed_at",
    "notion_page_id",
    "eagle_ids",
    *(name for name, _kind in QUALITY_COLUMNS),
)


@dataclass(frozen=True)
class Failure:
    key: str
    stage: str
    category: str
    message: str
    attempts: int
    failed_at: float
    inputs: str | None = None  # digest of the track's snapshot entry when it failed


class Catalog(SqliteStore):
    """Thread-safe handle on cache/catalog.sqlite. Every method is one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, "catalog")

    def _opened(self) -> None:
        self._add_missing_columns()
        # the few acoustic duplicates of a library, read on every run (aliases): no table scan
        self._conn.execute("CREATE INDEX IF NOT EXISTS tracks_duplicate_of ON tracks (duplicate_of) "
                           "WHERE duplicate_of IS NOT NULL")
        self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _add_missing_columns(self) -> None:
        """Catalogs made by an earlier version get the columns added since (NULL until rebuilt)."""
        for table, columns in (("files", (("mtime_ns", "INTEGER"), ("inputs", "TEXT"), ("audio", "TEXT"))),
                               ("tracks", (("failed_inputs", "TEXT"), *ANALYSIS_COLUMNS, *QUALITY_COLUMNS))):
            have = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns:
                if column not in have:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    # -- writes -----------------------------------------------------------------------------

    def upsert_track(self, key: str, **fields: Any) -> None:
        """Insert the track or update the given fields (unknown field names are a bug)."""
        unknown = set(fields) - set(TRACK_FIELDS)
        if unknown:
            raise ValueError(f"unknown catalog fields: {sorted(unknown)}")
        now = time.time()
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{c} = excluded.{c}" for c in fields)
        sql = (
            f"INSERT INTO tracks (key, created_at, updated_at{', ' + cols if cols else ''}) "
            f"VALUES (?, ?, ?{', ' + marks if marks else ''}) "
            f"ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at"
            f"{', ' + updates if updates else ''}"
        )
        with self._tx() as conn:
            conn.execute(sql, (key, now, now, *fields.values()))

    def ensure_tracks(self, rows: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """Make sure each (key, url, title, artist) has a row; known rows keep their data."""
        now = time.time()
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO tracks (key, url, title, artist, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET url = COALESCE(tracks.url, excluded.url), "
                "title = COALESCE(tracks.title, excluded.title), artist = COALESCE(tracks.artist, excluded.artist)",
                [(k, u, t, a, now, now) for k, u, t, a in rows],
            )

    def record_failure(self, key: str, stage: str, category: str, message: str, inputs: str | None = None) -> None:
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO tracks (key, status, failed_stage, error_category, error_message, attempts, failed_at, "
                "failed_inputs, created_at, updated_at) VALUES (?, 'failed', ?, ?, ?, 1, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET status = 'failed', failed_stage = excluded.failed_stage, "
                "error_category = excluded.error_category, error_message = excluded.error_message, "
                "attempts = tracks.attempts + 1, failed_at = excluded.failed_at, "
                "failed_inputs = excluded.failed_inputs, updated_at = excluded.updated_at",
                (key, stage, category, message, now, inputs, now, now),
            )

    def clear_failure(self, key: str, status: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE tracks SET status = ?, failed_stage = NULL, error_category = NULL, error_message = NULL, "
                "failed_at = NULL, attempts = 0, updated_at = ? WHERE key = ?",
                (status, time.time(), key),
            )

    def record_file(self, key: str, fmt: str, path: Path, inputs: str | None = None,
                    audio: str | None = None) -> str | None:
        """Record the output of (key, fmt) as it is on disk now, what it was built from
        (`inputs`) and what its encoded audio was made of (`audio`, see freshness.py); return
        the previous path when it was different."""
        st = path.stat()
        with self._tx() as conn:
            row = conn.execute("SELECT path FROM files WHERE key = ? AND format = ?", (key, fmt)).fetchone()
            conn.execute(
                "INSERT INTO files (key, format, path, size, mtime_ns, inputs, built_at, audio) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key, format) DO UPDATE SET path = excluded.path, size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, inputs = excluded.inputs, built_at = excluded.built_at, "
                "audio = excluded.audio",
                (key, fmt, str(path), st.st_size, st.st_mtime_ns, inputs, time.time(), audio),
            )
        previous = row["path"] if row else None
        return previous if previous != str(path) else None

    def file_record(self, key: str, fmt: str) -> dict[str, Any] | None:
        """The file row of (key, fmt) as it is now, `audio` included."""
        rows = self._query("SELECT key, format, path, size, mtime_ns, inputs, audio FROM files "
                           "WHERE key = ? AND format = ?", (key, fmt))
        return dict(rows[0]) if rows else None

    def file_stems(self) -> dict[str, str]:
        """key -> the file name (without extension) its outputs have now."""
        stems: dict[str, str] = {}
        for (key, _fmt), path in sorted(self.file_paths().items()):
            stems.setdefault(key, Path(path).stem)
        return stems

    def file_records(self, keys: Collection[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The file rows, of every track or of `keys` only."""
        sql = "SELECT key, format, path, size, mtime_ns, inputs FROM files"
        names = ("key", "format", "path", "size", "mtime_ns", "inputs")
        if keys is None or len(keys) > _FEW:
            rows = self._tuples(sql)
            wanted = None if keys is None else set(keys)
            return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in rows if wanted is None or r[0] in wanted}
        rows = self._tuples(f"{sql} WHERE key IN ({', '.join('?' for _ in keys)})", list(keys))
        return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in rows}

    def stamps(self) -> dict[str, tuple[str, str, str, str]]:
        """key -> (stamp, audio, name, plain) of the tracks engine/fastpath.py proved up to date."""
        rows = self._tuples("SELECT key, stamp, audio, name, plain FROM clean")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def set_stamps(self, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Record (key, stamp, audio, name, plain) rows (see stamps)."""
        with self._tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO clean (key, stamp, audio, name, plain) VALUES (?, ?, ?, ?, ?)",
                             list(rows))

    def set_playlist(self, slug: str, name: str, source: str, fetched_at: float, keys: Sequence[str]) -> None:
        """Replace a playlist's memberships with `keys` in order."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO playlists (slug, name, source, fetched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (slug) DO UPDATE SET name = excluded.name, source = excluded.source, "
                "fetched_at = excluded.fetched_at",
                (slug, name, source, fetched_at),
            )
            conn.execute("DELETE FROM memberships WHERE playlist = ?", (slug,))
            conn.executemany(
                "INSERT INTO memberships (playlist, position, key) VALUES (?, ?, ?)",
                [(slug, i + 1, k) for i, k in enumerate(keys)],
            )

    def forget_files(self, paths: Sequence[str]) -> None:
        """Drop the file rows of deleted library files."""
        with self._tx() as conn:
            conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])

    def set_eagle_ids(self, key: str, ids: Mapping[str, str]) -> None:
        self.upsert_track(key, eagle_ids=json.dumps(dict(ids), sort_keys=True))

    # -- reads ------------------------------------------------------------------------------

    def failures(self) -> dict[str, Failure]:
        rows = self._query(
            "SELECT key, failed_stage, error_category, error_message, attempts, failed_at, failed_inputs FROM tracks "
            "WHERE status = 'failed'"
        )
        return {
            r["key"]: Failure(r["key"], r["failed_stage"] or "", r["error_category"] or "", r["error_message"] or "",
                              r["attempts"], r["failed_at"] or 0.0, r["failed_inputs"])
            for r in rows
        }

    def lossy_skipped(self) -> dict[str, frozenset[str]]:
        """The formats `from_lossy: skip` holds back, by track (only tracks that have some)."""
        rows = self._query("SELECT key, from_lossy_skipped FROM tracks "
                           "WHERE from_lossy_skipped IS NOT NULL AND from_lossy_skipped != ''")
        return {r[0]: frozenset(f for f in r[1].split(",") if f) for r in rows}

    def aliases(self) -> dict[str, str]:
        """{track: the recording kept in its place} of the acoustic duplicates (`duplicate_of`)
        whose kept track has not failed (cratefile.quality.aliases)."""
        rows = self._query("SELECT a.key, a.duplicate_of FROM tracks a LEFT JOIN tracks k ON k.key = a.duplicate_of "
                           "WHERE a.duplicate_of IS NOT NULL AND a.duplicate_of != a.key "
                           "AND (k.status IS NULL OR k.status != 'failed')")
        return {r[0]: r[1] for r in rows}

    def lossy_origin(self) -> frozenset[str]:
        """The tracks whose source audio came from a lossy encode (verdict lossy or upscaled)."""
        return frozenset(r[0] for r in self._query(
            "SELECT key FROM tracks WHERE quality_verdict IN ('lossy', 'upscaled')"))

    def file_paths(self, keys: Collection[str] | None = None) -> dict[tuple[str, str], str]:
        """(key, format) -> path, of every track or of `keys` only."""
        sql = "SELECT key, format, path FROM files"
        if keys is None or len(keys) > _FEW:
            wanted = None if keys is None else set(keys)
            return {(r[0], r[1]): r[2] for r in self._tuples(sql) if wanted is None or r[0] in wanted}
        if not keys:
            return {}
        rows = self._tuples(f"{sql} WHERE key IN ({', '.join('?' for _ in keys)})", list(keys))
        return {(r[0], r[1]): r[2] for r in rows}

    def track(self, key: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM tracks WHERE key = ?", (key,))
        return dict(rows[0]) if rows else None

    def tracks(self, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every track's row (only `columns`, and the key, when given: `cratefile status` reads
        four columns of 20,000 rows, and whole rows of the few it shows)."""
        if columns is not None and not all(c.isidentifier() for c in columns):
            raise ValueError(f"not column names: {list(columns)}")
        wanted = "*" if columns is None else ", ".join(["key", *[c for c in columns if c != "key"]])
        return self._dicts(f"SELECT {wanted} FROM tracks ORDER BY key")

    def _dicts(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:  # plain tuples zipped with the column names: ~3x faster than dict(Row) for 20k rows
            try:
                cur = self._conn.cursor()
                cur.row_factory = None
                rows = cur.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise CatalogError(f"{self.path}: {exc}") from exc
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def playlists(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._query("SELECT * FROM playlists ORDER BY slug")]

    def members(self, slug: str) -> list[str]:
        return [r["key"] for r in self._query(
            "SELECT key FROM memberships WHERE playlist = ? ORDER BY position", (slug,)
        )]

    def files_of(self, key: str) -> dict[str, str]:
        return {r["format"]: r["path"] for r in self._query("SELECT format, path FROM files WHERE key = ?", (key,))}
