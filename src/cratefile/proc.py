"""The one subprocess wrapper, and where the ffmpeg binary comes from.

argv lists only, never a shell. A failure raises ToolError with the command, the exit code
and the tail of stderr.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence

from cratefile.errors import CratefileError, ToolError

STDERR_TAIL = 2000


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    capture_stdout: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv; return the completed process or raise ToolError."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-STDERR_TAIL:].decode("utf-8", "replace")
        raise ToolError(argv, None, tail) from exc
    except OSError as exc:
        raise ToolError(argv, -1, str(exc)) from exc
    if proc.returncode != 0:
        tail = proc.stderr[-STDERR_TAIL:].decode("utf-8", "replace")
        raise ToolError(argv, proc.returncode, tail)
    return proc


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $CRATEFILE_FFMPEG, the imageio-ffmpeg wheel, then PATH."""
    explicit = os.environ.get("CRATEFILE_FFMPEG")
    if explicit:
        return explicit
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise CratefileError(
        "ffmpeg not found: install the imageio-ffmpeg wheel (pip install imageio-ffmpeg), "
        "put ffmpeg on PATH, or set CRATEFILE_FFMPEG to its path"
    )
