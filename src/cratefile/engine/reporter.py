"""What a run shows while it works, and what it remembers for the run report.

On a terminal: one line rewritten in place with tasks done/known, tracks touched and an ETA.
Elsewhere (cron, CI, a pipe): one plain line per task that ran or failed.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from doit.exceptions import BaseFail


class CrateReporter:
    desc = "cratefile progress"

    def __init__(self, outstream: IO[str] | None = None, options: dict[str, Any] | None = None,
                 tty: bool | None = None) -> None:
        self.out = outstream or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.executed: list[str] = []
        self.succeeded: list[str] = []
        self.failures: dict[str, str] = {}
        self.errors: list[str] = []
        self.seen: set[str] = set()
        self._open: dict[str, set[str]] = {}  # track stem -> its tasks not finished yet
        self.uptodate = 0
        self._started_at: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._busy = 0.0
        self._lock = threading.Lock()

    # doit's reporter interface -------------------------------------------------------------
    def initialize(self, tasks: Any, selected_tasks: Any) -> None:
        pass

    def get_status(self, task: Any) -> None:
        if task.actions:
            self.seen.add(task.name)
            stem = _stem(task.name)
            if stem:
                with self._lock:
                    self._open.setdefault(stem, set()).add(task.name)

    def execute_task(self, task: Any) -> None:
        if task.actions:
            self._started_at[task.name] = time.monotonic()

    def add_success(self, task: Any) -> None:
        if not task.actions:
            return
        self._finish(task.name)
        self.succeeded.append(task.name)
        if not self.tty:
            self._line(f"done    {task.name}")
        self._progress(task.name)

    def add_failure(self, task: Any, fail: BaseFail) -> None:
        if not task.actions:
            return
        message = fail.get_msg().strip().splitlines()
        text = message[-1] if message else type(fail).__name__
        if type(fail).__name__ == "UnmetDependency":
            # the failure of the earlier step was already said; this one is only its consequence
            self.failures[task.name] = "skipped: an earlier step of this track failed"
            self._settle(task.name)
            return
        self._finish(task.name)
        if text not in self.failures.values():  # one line for a cause shared by many tasks
            self._line(f"FAILED  {task.name}: {text}")
        self.failures[task.name] = text

    def skip_uptodate(self, task: Any) -> None:
        if task.actions:
            self.uptodate += 1
            self._settle(task.name)
            self._progress(None)

    def skip_ignore(self, task: Any) -> None:
        pass

    def cleanup_error(self, exception: Exception) -> None:
        self.errors.append(str(exception))

    def runtime_error(self, msg: str) -> None:
        self.errors.append(msg)
        self._line(f"ERROR   {msg}")

    def teardown_task(self, task: Any) -> None:
        pass

    def complete_run(self) -> None:
        if self.tty:
            self.out.write("\r\033[K")
            self.out.flush()

    # ---------------------------------------------------------------------------------------
    def _settle(self, name: str) -> None:
        stem = _stem(name)
        if stem:
            with self._lock:
                self._open.get(stem, set()).discard(name)

    def _finish(self, name: str) -> None:
        self._settle(name)
        with self._lock:
            self.executed.append(name)
            start = self._started_at.pop(name, None)
            if start is not None:
                self._busy += time.monotonic() - start

    def _line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()

    def _progress(self, current: str | None) -> None:
        if not self.tty:
            return
        done = len(self.executed) + self.uptodate
        total = max(len(self.seen), done)
        remaining = total - done
        with self._lock:
            tracks = len(self._open)
            tracks_done = sum(1 for pending in self._open.values() if not pending)
        eta = ""
        if self.executed and remaining:
            per_task = (time.monotonic() - self._t0) / max(len(self.executed), 1)
            eta = f"  ETA {_fmt_seconds(per_task * remaining)}"
        what = f"  {current}" if current else ""
        self.out.write(f"\r\033[K[{tracks_done}/{tracks} tracks, {done}/{total} tasks]{eta}{what}"[:200])
        self.out.flush()


def _stem(task_name: str) -> str | None:
    """The track stem of a per-track task ('convert:<stem>:wav'), None for playlist tasks."""
    parts = task_name.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] in {"download", "analyze", "convert", "eagle"} else None


def _fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
