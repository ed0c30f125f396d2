"""Trouble in the environment — a full or read-only volume, a missing permission, a missing or
broken tool — is never a track's failure: it would fail every track the same way.

`environment_problem(exc)` says, in one line a DJ can act on, whether an exception (or what
caused it) is such trouble. The action wrapper then stops the run instead of recording a
failure against the track; the next plain run continues where this one stopped.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from cratefile.errors import ToolError

EXIT_ENVIRONMENT = 74  # EX_IOERR: the machine, not the music, stopped the run

_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS,)
_DENIED = (errno.EACCES, errno.EPERM)
_TOO_MANY = (errno.EMFILE, errno.ENFILE)


def _free(path: str | None) -> str:
    if not path:
        return ""
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return ""
    return f" ({free / 1e6:.0f} MB free)"


def _volume(path: str | None) -> str:
    return f"the volume holding {os.path.dirname(path) or path}" if path else "a volume"


def _from_os_error(exc: OSError) -> str | None:
    path = exc.filename if isinstance(exc.filename, str) else None
    if exc.errno in _FULL:
        return f"{_volume(path)} is full{_free(path)}: free some space, then run cratefile again"
    if exc.errno in _READ_ONLY:
        return f"{path or 'a folder'} is on a read-only file system: make it writable or move it, then run again"
    if exc.errno in _DENIED and path:
        return f"no permission to write {path}: fix its permissions, then run again"
    if exc.errno in _TOO_MANY:
        return f"too many open files ({exc.strerror}): raise the limit (ulimit -n), then run again"
    return None


def _from_tool(exc: ToolError) -> str | None:
    text = exc.stderr_tail
    prog = os.path.basename(exc.argv[0]) if exc.argv else "a tool"
    if exc.returncode == -1:  # could not be started at all
        return (f"{prog} cannot be run ({text.strip()}): "
                "reinstall it (pip install imageio-ffmpeg) or set CRATEFILE_FFMPEG")
    if "No space left on device" in text:
        volume = _volume(exc.argv[-1].removeprefix("file:") if exc.argv else None)
        return f"{volume} is full: free some space, then run again"
    if "Read-only file system" in text:
        return f"{prog} could not write its output: a read-only file system"
    return None


def environment_problem(exc: BaseException) -> str | None:
    """One line naming the trouble and the fix, or None when `exc` is not environment trouble."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found: str | None = None
        if isinstance(current, OSError):
            found = _from_os_error(current)
        elif isinstance(current, ToolError):
            found = _from_tool(current)
        elif isinstance(current, sqlite3.OperationalError):
            text = str(current)
            if "disk is full" in text or "disk I/O error" in text:
                found = f"the cache volume is full or failing ({text}): free some space, then run again"
            elif "readonly database" in text or "unable to open database" in text:
                found = f"the catalog cannot be written ({text}): make cache/ writable, then run again"
        elif "ffmpeg not found" in str(current):
            found = str(current)
        if found:
            return found
        current = current.__cause__ or current.__context__
    return None
