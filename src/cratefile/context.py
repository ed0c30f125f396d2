"""RunContext: the process resources one run shares between its doit actions.

The manifest, the layout, the catalog handle, the analysis worker pool (started on first
use) and the per-track outcomes the report is made of. Actions get it as their first
argument; everything else they take is plain data.
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cratefile.catalog.sqlite import Catalog
from cratefile.errors import TrackFailure
from cratefile.layout import Layout
from cratefile.records import Manifest

if TYPE_CHECKING:
    from cratefile.analysis import AnalyzerPool


@dataclass(frozen=True)
class Outcome:
    key: str
    stage: str
    ok: bool
    category: str | None = None
    message: str | None = None


@dataclass
class RunContext:
    manifest: Manifest
    refresh: bool = False
    retry_failed: bool = False
    accept_shrink: bool = False  # --accept-shrink: take a listing the shrink guard would hold back
    rematch: bool = False  # --rematch: search Spotify/Discogs tracks again, whatever playlists.lock says
    analysis_workers: int = 1
    started: float = field(default_factory=time.time)
    outcomes: list[Outcome] = field(default_factory=list)
    playlist_errors: dict[str, str] = field(default_factory=dict)
    sink_errors: list[str] = field(default_factory=list)  # a sink failed as a whole: one line each
    notes: list[str] = field(default_factory=list)  # said once in the run's summary and report
    sink_stats: dict[str, Any] = field(default_factory=dict)  # per sink, for the report
    ref_inputs: dict[str, str] = field(default_factory=dict)  # track key -> digest of its snapshot entry
    stop_reason: str | None = None  # set once: the run stops scheduling work (interrupt, environment)
    stop_code: int | None = None  # the exit code the stop asks for
    _shared: dict[str, Any] = field(default_factory=dict)  # per-run clients and caches of the sinks
    _catalog: Catalog | None = None
    _pool: AnalyzerPool | None = None
    _lock: Any = field(default_factory=threading.RLock)  # reentrant: shared() makers may use the catalog

    def __post_init__(self) -> None:
        # a catalog lost since an earlier build is refilled from the build's files (engine/refill.py)
        self.catalog_was_missing = self.layout.doit_db.exists() and not self.layout.catalog.exists()

    @property
    def layout(self) -> Layout:
        return Layout(self.manifest.cache, self.manifest.library)

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog(self.layout.catalog)
            return self._catalog

    @property
    def pool(self) -> AnalyzerPool:
        with self._lock:
            if self._pool is None:
                from cratefile.analysis import AnalyzerPool

                self._pool = AnalyzerPool(workers=self.analysis_workers)
            return self._pool

    def file_records(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The catalog's file rows, read once per run (each row changes only by its own task)."""
        records: dict[tuple[str, str], dict[str, Any]] = self.shared(
            "file-records", lambda: self.catalog.file_records() if self.layout.catalog.exists() else {})
        return records

    def seen_files(self) -> dict[str, tuple[int, int]]:
        """{path: (mtime_ns, size)} of source files this run's freshness checks listed (a kind
        fills it as it lists, e.g. the folder kind): the fast path's stamps take a file's facts
        from here instead of a second stat a moment later."""
        seen: dict[str, tuple[int, int]] = self.shared("seen-files", dict)
        return seen

    def shared(self, name: str, make: Callable[[], Any]) -> Any:
        """A per-run object (a sink's client, a cache), made on first use, shared by all workers."""
        with self._lock:
            if name not in self._shared:
                self._shared[name] = make()
            return self._shared[name]

    def succeeded(self, key: str, stage: str) -> None:
        with self._lock:
            self.outcomes.append(Outcome(key, stage, True))

    def failed(self, key: str, stage: str, failure: TrackFailure) -> None:
        """Record a track failure in the catalog and for the report; the run goes on."""
        self.catalog.record_failure(key, stage, failure.category.value, failure.message, self.ref_inputs.get(key))
        with self._lock:
            self.outcomes.append(Outcome(key, stage, False, failure.category.value, failure.message))

    def stop(self, reason: str, code: int) -> None:
        """Stop the run: no new action starts, running children are ended, and nothing that
        fails from now on is recorded against a track. Called from any thread; a worker
        thread's stop interrupts doit's main loop (the main thread then writes the report)."""
        from cratefile import proc

        with self._lock:
            if self.stop_reason is not None:
                return
            self.stop_reason, self.stop_code = reason, code
        proc.stop_children()
        if threading.current_thread() is not threading.main_thread():
            _thread.interrupt_main()

    def sink_failed(self, sink: str, message: str) -> None:
        """A sink failed as a whole (said once per distinct message); the build's results stand."""
        line = f"{sink}: {message}"
        with self._lock:
            if line not in self.sink_errors:
                self.sink_errors.append(line)

    def note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            catalog, self._catalog = self._catalog, None
        if pool is not None:
            pool.close()
        if catalog is not None:
            catalog.close()
        for obj in self._shared.values():
            close = getattr(obj, "close", None)
            if close is not None:
                close()
        self._shared.clear()

