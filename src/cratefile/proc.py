"""The one subprocess wrapper, and where the ffmpeg binary comes from.

argv lists only, never a shell. A failure raises ToolError with the command, the exit code
and the tail of stderr.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence

from cratefile.errors import CratefileError, ToolError

STDERR_TAIL = 2000


_children: set[subprocess.Popen[bytes]] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    capture_stdout: bool = True,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv; return the completed process or raise ToolError.

    The child runs in its own session, so a Ctrl-C in the terminal reaches only cratefile:
    the run decides (`stop_children`) which children to end, and knows that it did."""
    if _stopping.is_set():
        raise ToolError(argv, None, "not started: the run is stopping")
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=cwd,
        )
    except OSError as exc:
        raise ToolError(argv, -1, str(exc)) from exc
    with _children_lock:
        _children.add(proc)
    try:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            _, stderr = proc.communicate()
            tail = (stderr or b"")[-STDERR_TAIL:].decode("utf-8", "replace")
            raise ToolError(argv, None, tail) from exc
    finally:
        with _children_lock:
            _children.discard(proc)
    if proc.returncode != 0:
        tail = (stderr or b"")[-STDERR_TAIL:].decode("utf-8", "replace")
        raise ToolError(argv, proc.returncode, tail)
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout or b"", stderr or b"")


def stop_children() -> None:
    """End every running child and start no new one (the run is stopping)."""
    _stopping.set()
    with _children_lock:
        running = list(_children)
    for child in running:
        with contextlib.suppress(OSError):
            child.terminate()


def allow_children() -> None:
    """A new run in this process (tests run several) may start children again."""
    _stopping.clear()


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $CRATEFILE_FFMPEG, the imageio-ffmpeg wheel, then PATH."""
    explicit = os.environ.get("CRATEFILE_FFMPEG")
    if explicit:
        return explicit
    try:
        import imageio_ffmpeg

        exe: str = imageio_ffmpeg.get_ffmpeg_exe()  # imageio-ffmpeg has no type information
        return exe
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise CratefileError(
        "ffmpeg not found: install the imageio-ffmpeg wheel (pip install imageio-ffmpeg), "
        "put ffmpeg on PATH, or set CRATEFILE_FFMPEG to its path"
    )
