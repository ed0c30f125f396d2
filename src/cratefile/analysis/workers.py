"""Long-lived analysis worker processes, so a track does not pay the import and warm-up of a
fresh interpreter.

Each worker is a spawned process (not forked: the caller runs doit threads) that pins its
numeric libraries to one thread, warms up once on a synthetic signal, then serves requests
over its own pipe, one at a time. `AnalyzerPool.analyze` borrows an idle worker (starting one
more, up to the pool's size, when none is idle), so several threads can call it at once and a
crash only ever concerns the track that caused it.

Failure handling: a worker that dies during a track is replaced and the track retried once in
a fresh worker (an OOM kill can be bad luck); a second death, or a track exceeding `timeout`,
raises TrackFailure(ANALYSIS_FAILED). Nothing waits on a dead process.

The analysis needs numpy only (no librosa, no numba JIT), so a fresh worker is ready in well
under a second; the pool saves that per track, bounds the number of concurrent analyses and
keeps a crash out of the caller's process. Spawning re-imports the caller's __main__ module in
each worker, as multiprocessing always does: scripts need the `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cratefile.errors import Category, CratefileError, TrackFailure
from cratefile.records import AnalysisOptions

AnalyzeFn = Callable[[Path, AnalysisOptions], dict[str, Any]]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _default_analyze(path: Path, options: AnalysisOptions) -> dict[str, Any]:
    from cratefile.analysis.track import analyze_file

    return analyze_file(path, options)


def _warm_up() -> None:
    """Load every code path once (numpy FFT plans, our modules, the ffmpeg lookup)."""
    import numpy as np

    from cratefile.analysis.track import analyze_signal
    from cratefile.proc import ffmpeg_exe

    sr = 11025
    t = np.arange(3 * sr) / sr
    y = 0.2 * np.sin(2 * np.pi * 220.0 * t) + (np.sin(2 * np.pi * 2.0 * t) > 0.99) * 0.5
    analyze_signal(y.astype(np.float32), sr, AnalysisOptions(), loudness_lufs=-14.0)
    ffmpeg_exe()


def _worker_main(conn: Connection, analyze: AnalyzeFn) -> None:
    # Ctrl-C reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm_up()
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the parent went away
            return
        if request is None:
            return
        path, options = request
        try:
            reply: tuple[Any, ...] = ("ok", analyze(Path(path), options))
        except TrackFailure as exc:
            reply = ("fail", exc.category.value, exc.message)
        except Exception as exc:  # a bug: report it to the caller instead of dying silently
            reply = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        conn.send(reply)


def _spawn_target(conn: Connection, analyze: AnalyzeFn) -> None:
    """Entry point of a worker process: pin thread counts before numpy loads, then serve."""
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    _worker_main(conn, analyze)


class _WorkerLost(Exception):
    """The worker died (hung=False) or stopped answering (hung=True) during a request."""

    def __init__(self, message: str, *, hung: bool) -> None:
        super().__init__(message)
        self.hung = hung


class _Worker:
    def __init__(self, ctx: Any, analyze: AnalyzeFn) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_spawn_target, args=(child, analyze), daemon=True, name="cratefile-analyzer")
        self.process.start()
        child.close()  # keep only the worker's copy, so its death shows as EOF here

    def call(self, path: Path, options: AnalysisOptions, timeout: float) -> tuple[Any, ...]:
        try:
            self.conn.send((str(path), options))
            if not self.conn.poll(timeout):
                raise _WorkerLost(f"no answer within {timeout:g} s", hung=True)
            reply: tuple[Any, ...] = self.conn.recv()
            return reply
        except (EOFError, OSError) as exc:
            self.process.join(1.0)
            raise _WorkerLost(f"worker died (exit code {self.process.exitcode})", hung=False) from exc

    def stop(self, grace: float = 2.0) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass  # already gone: nothing to tell it
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(grace)
        self.conn.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)
        self.conn.close()


class AnalyzerPool:
    """Worker processes that analyse tracks; `analyze` is safe to call from several threads."""

    def __init__(self, workers: int = 1, *, timeout: float = 900.0, analyze: AnalyzeFn | None = None) -> None:
        """`analyze` replaces analyze_file in the workers (a picklable module-level function;
        tests inject one that crashes or hangs). `timeout` bounds one track, in seconds."""
        if workers < 1:
            raise ValueError("an AnalyzerPool needs at least one worker")
        self._ctx = multiprocessing.get_context("spawn")
        self._analyze = analyze or _default_analyze
        self._timeout = timeout
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self._most = workers
        self._closed = False
        # One worker warms up while the run plans; the others start when two threads want
        # one at once, so a run at -n 1 (or of one track) never pays for a worker it leaves idle.
        self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self._analyze)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)

    def _spawn_if_room(self) -> _Worker | None:
        with self._lock:
            if len(self._workers) >= self._most:
                return None
            worker = _Worker(self._ctx, self._analyze)
            self._workers.add(worker)
            return worker

    def _borrow(self) -> _Worker:
        while True:
            if self._closed:
                raise CratefileError("the analyzer pool is closed")
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                grown = self._spawn_if_room()
                if grown is not None:
                    return grown
                try:
                    worker = self._idle.get(timeout=0.5)
                except queue.Empty:
                    continue
            if worker.process.is_alive():
                return worker
            # Died while idle (killed from outside): not this track's fault, replace it.
            self._retire(worker)
            self._idle.put(self._spawn())

    def _give_back(self, worker: _Worker) -> None:
        if self._closed:
            worker.stop()
            with self._lock:
                self._workers.discard(worker)
        else:
            self._idle.put(worker)

    def analyze(self, path: Path, options: AnalysisOptions) -> dict[str, Any]:
        """Analyse `path` in a worker. Raises TrackFailure(ANALYSIS_FAILED) on a bad file and
        TrackFailure(TRANSIENT) on a worker crash (after one retry) or a timeout."""
        lost = ""
        for _attempt in (1, 2):
            worker = self._borrow()
            try:
                reply = worker.call(Path(path), options, self._timeout)
            except _WorkerLost as exc:
                self._retire(worker)
                self._give_back(self._spawn())
                lost = str(exc)
                if exc.hung:
                    break  # a hang would hang again: do not spend another timeout on it
                continue
            self._give_back(worker)
            return _unpack(reply, Path(path))
        # a worker that died or hung twice is not a verdict on the file: retried next run
        raise TrackFailure(Category.TRANSIENT, f"analysis of {Path(path).name} failed: {lost}")

    def close(self) -> None:
        """Stop every worker (idle ones now, busy ones when their track is done)."""
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            worker.stop()
            with self._lock:
                self._workers.discard(worker)

    def __enter__(self) -> AnalyzerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring)."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]


def _unpack(reply: tuple[Any, ...], path: Path) -> dict[str, Any]:
    kind = reply[0]
    if kind == "ok":
        result: dict[str, Any] = reply[1]
        return result
    if kind == "fail":
        raise TrackFailure(Category(reply[1]), reply[2])
    raise TrackFailure(Category.ANALYSIS_FAILED, f"internal error analysing {path.name}: {reply[1]}")
