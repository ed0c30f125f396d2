"""doit's dependency DB and file checker, adapted to long runs over large audio files.

- `IncrementalSqliteDB`: doit's sqlite3 backend only writes at the end of a run, so a kill -9
  lost every finished task. This one commits dirty rows at most about once a second, so a
  killed run loses at most the last second of finished work.
- `StatChecker`: doit's default checker MD5-hashes every file_dep in the coordinating
  process; for audio that is hundreds of MB per track. (mtime_ns, size) is enough here
  because every output is replaced atomically by our own actions.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from doit.dependency import FileChangedChecker, SqliteDB

COMMIT_INTERVAL = 1.0


class IncrementalSqliteDB(SqliteDB):  # type: ignore[misc]  # doit has no type information
    desc = "sqlite3, committed about every second (cratefile)"
    _dirty: set[str]  # set by SqliteDB: the task ids changed since the last commit

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None) -> None:
        super().__init__(name, codec, module_name=module_name)
        self._lock = threading.RLock()
        self._last_commit = time.monotonic()

    def _sqlite3(self, name: str) -> Any:
        conn = super()._sqlite3(name)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def set(self, task_id: str, dependency: str, value: Any) -> None:
        with self._lock:
            super().set(task_id, dependency, value)
            if time.monotonic() - self._last_commit >= COMMIT_INTERVAL:
                self._flush()

    def remove(self, task_id: str) -> None:
        with self._lock:
            super().remove(task_id)

    def _flush(self) -> None:
        for task_id in self._dirty:
            self._conn.execute(
                "insert or replace into doit values (?,?)", (task_id, self.codec.encode(self._cache[task_id]))
            )
        self._conn.commit()
        self._dirty = set()
        self._last_commit = time.monotonic()

    def dump(self) -> None:
        with self._lock:
            super().dump()


class StatChecker(FileChangedChecker):  # type: ignore[misc]  # doit has no type information
    """A file_dep is unchanged while its (mtime_ns, size) is."""

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
        return list(state) != [file_stat.st_mtime_ns, file_stat.st_size]

    def get_state(self, dep: str, current_state: Any) -> Any:
        st = os.stat(dep)
        state = [st.st_mtime_ns, st.st_size]
        if current_state is not None and list(current_state) == state:
            return None
        return state
