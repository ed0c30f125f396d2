"""ffmpeg reading a file inside its filter graph (lavfi `amovie`), with the plain CLI as fallback.

Since ffmpeg 7 the command line runs its demuxer, decoder, filter graph and muxer in separate
threads and hands every packet and frame from one to the next. An MP3 or AAC file is some 11,000
packets per five minutes, and the hand-offs cost more CPU than the decoding: decoding a 320k MP3
for analysis took 0.98 s of CPU that way and 0.38 s when `amovie` decodes it inside the graph and
`asetnsamples` hands the rest of the pipeline a few large frames (bench/analysis_speed.py). The
output is byte for byte the same.

`amovie` is less forgiving: it stops at the first packet it cannot decode, where the command line
logs the error and goes on with the next one, and ffmpeg still exits 0. So the graph run is used
only when it logged no error; otherwise the caller runs its plain command line, which recovers
what it can of a damaged file exactly as before.

`amovie` decodes on one thread (`dec_threads=1`): with its default of several, the ffmpeg 9 build
we ship crashed (SIGSEGV) on about every other FLAC while ending the run, and a crash while
ending can as well be a hang. A test runs a FLAC through twenty times to keep it that way.

The file is reached through a symlink with a plain name in the run's own temporary folder, so no
title, quote, colon or comma of the user's file name ever goes through filter-graph escaping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from cratefile.errors import ToolError
from cratefile.proc import run

# Samples per frame handed on from the graph. To raw PCM (the analysis): 1.5 s at 44.1 kHz, a
# few hundred hand-offs per track. To an encoder: FLAC (and any encoder without a fixed frame
# size) takes its block size from the frames it is given; 4096 is a block a hardware player
# decodes (the FLAC subset allows up to 4608 at 48 kHz), where 65536 made the FLAC encoder
# refuse to open, and ffmpeg 9 then sometimes crashed or hung tearing the run down.
FRAME = 65536
ENCODER_FRAME = 4096
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
# '-loglevel level+...' prefixes each message with its level; a message that starts a line
# (after the optional '[component @ 0x...]') is one of ffmpeg's, not a line of file metadata.
_ERROR_LINE = re.compile(rb"^(?:\[[^\]\n]* @ 0x[0-9a-f]+\] )?\[(?:error|fatal|panic)\] ", re.M)
LOGLEVEL = ["-loglevel", "level+info"]

_unsupported: set[str] = set()  # ffmpeg binaries without the lavfi input (a minimal build)


def link(src: Path, workdir: Path) -> str | None:
    """A plain relative name in `workdir` for `src` (the graph run's cwd is `workdir`); None
    where the temporary folder takes no symlink (the caller then runs its plain command line)."""
    suffix = src.suffix if _SUFFIX.fullmatch(src.suffix) else ""
    name = f"in{suffix}"
    try:
        os.symlink(os.path.abspath(src), workdir / name)
    except OSError:
        return None
    return name


def run_graph(argv: list[str], workdir: Path, timeout: float) -> bytes | None:
    """Run a graph command in `workdir`; its stderr if it ran clean, else None (use the fallback)."""
    exe = argv[0]
    if exe in _unsupported:
        return None
    try:
        proc = run(argv, timeout=timeout, capture_stdout=False, cwd=workdir)
    except ToolError as exc:
        if exc.returncode is None or exc.returncode == -1:
            raise  # timed out, or could not be started: the fallback would fare no better
        if "Unknown input format" in exc.stderr_tail and "lavfi" in exc.stderr_tail:
            _unsupported.add(exe)
        return None
    if _ERROR_LINE.search(proc.stderr):
        return None
    return proc.stderr


def movie(name: str, seek: float = 0.0) -> str:
    """The `amovie` source of `name`'s first audio stream, seeked to `seek` seconds (the demuxer's
    own seek: it may land a little before or after, so follow it with `atrim` where it matters)."""
    # 'a:0' is escaped once for the option and once for the graph. One decoding thread: with
    # more, ffmpeg 9 crashed (SIGSEGV) on every other FLAC while tearing the run down.
    source = f"amovie={name}:s=a\\\\:0:dec_threads=1"
    return source + (f":seek_point={seek:g}" if seek > 0 else "")


def input_argv(name: str, filters: str = "", frame: int = FRAME) -> list[str]:
    """`-f lavfi -i amovie=...`: the first audio stream of `name`, through `filters`, in frames of
    `frame` samples (the last one shorter)."""
    graph = movie(name) + ("," + filters if filters else "")
    return ["-f", "lavfi", "-i", f"{graph},asetnsamples=n={frame}:p=0"]


def run_graph_or_plain(src: Path, workdir: Path, graph: Callable[[str], list[str]], plain: list[str],
                       timeout: float) -> tuple[bytes, bool]:
    """Run `graph(name)` (name: `src` linked into `workdir`) and, where it cannot be used or did
    not run clean, the plain command line `plain`: the stderr of the run that counts, and whether
    that was the graph run. Raises ToolError as `cratefile.proc.run` does, for the plain run."""
    name = link(src, workdir)
    if name is not None:
        stderr = run_graph(graph(name), workdir, timeout)
        if stderr is not None:
            return stderr, True
    return run(plain, timeout=timeout, capture_stdout=False).stderr, False


def run_preferring_graph(src: Path, workdir: Path, graph: Callable[[str], list[str]], plain: list[str],
                         timeout: float) -> bytes:
    """`run_graph_or_plain`'s stderr."""
    return run_graph_or_plain(src, workdir, graph, plain, timeout)[0]
