"""The convert stage: one source file -> one library file in one format, tags included.

ffmpeg writes a temporary sibling of the target (same extension, so ffmpeg and mutagen see
the right container), mutagen tags that temporary file, and only then does `os.replace`
give it the real name: a library name only ever holds a complete, tagged file. When only the
tags change, `retag` does the same with a copy of the file already built.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cratefile import graphinput, proc
from cratefile.atomic import atomic_target
from cratefile.errors import Category, ToolError, TrackFailure
from cratefile.records import FormatRecipe

if TYPE_CHECKING:  # mutagen only when a file is written: not on a no-op rerun
    from cratefile.tags import TrackTags

# Generous: the native AAC encoder needs ~2 s CPU per minute of audio with -aac_coder fast,
# so even a two-hour mix on a loaded machine finishes well inside this.
FFMPEG_TIMEOUT = 1800.0
MESSAGE_TAIL = 300


def ffmpeg_argv(src: Path, dst: Path, recipe: FormatRecipe, ffmpeg: str, graph_name: str | None = None) -> list[str]:
    """The ffmpeg command that encodes `src` into `dst` following `recipe`. Pure.

    With `graph_name` (a link to `src` in the run's working folder, cratefile.graphinput) the
    file is decoded inside the filter graph, which costs less CPU for the same bytes; the
    command then logs only errors, each marked, so that a damaged file is noticed."""
    argv = [ffmpeg, "-nostdin", "-y", "-hide_banner"]
    if graph_name is not None:
        argv += ["-loglevel", "level+error", *graphinput.input_argv(graph_name, frame=graphinput.ENCODER_FRAME)]
    else:
        # 'file:' so that a name with a colon ('Artist: Title.mp3') or a leading '-' is never
        # taken for a protocol or an option.
        argv += ["-loglevel", "error", "-i", f"file:{src}"]
        # First audio stream only; no cover-art video stream (the graph input reads the
        # first audio stream alone).
        argv += ["-map", "0:a:0", "-vn"]
    # No source tags or chapters (the tags are written afterwards by mutagen, from our metadata).
    argv += ["-map_metadata", "-1", "-map_chapters", "-1"]
    argv += ["-c:a", recipe.codec]
    if recipe.bitrate is not None:
        argv += ["-b:a", recipe.bitrate]
    if recipe.sample_rate is not None:
        argv += ["-ar", str(recipe.sample_rate)]
    if recipe.channels is not None:
        argv += ["-ac", str(recipe.channels)]
    else:
        # Keep mono or stereo, fold anything wider to stereo: >2-channel WAV needs the
        # WAVE_FORMAT_EXTENSIBLE header that CDJs reject, and DJ players are stereo anyway.
        argv += ["-af", "aformat=channel_layouts=mono|stereo"]
    if recipe.sample_fmt is not None:
        argv += ["-sample_fmt", recipe.sample_fmt]
    argv += list(recipe.args)
    # No encoder-version tag (ISFT/TSSE/©too): outputs depend on the recipe only.
    # The graph run works in its own folder: the output then needs its full path.
    out = os.path.abspath(dst) if graph_name is not None else dst
    argv += ["-fflags", "+bitexact", "-f", recipe.container, f"file:{out}"]
    return argv


def convert(src: Path, dst: Path, recipe: FormatRecipe, tags: TrackTags) -> None:
    """Encode `src` to `dst` and embed `tags`; `dst` appears only when complete.

    The file is decoded inside ffmpeg's filter graph; where that logs an error (a damaged
    file, which amovie gives up on), the plain command line encodes what it can recover.
    Raises TrackFailure(CONVERSION_FAILED) when ffmpeg or tagging fails (TRANSIENT when
    ffmpeg timed out, which a busy machine can cause); nothing is left behind.
    """
    ffmpeg = proc.ffmpeg_exe()
    with atomic_target(dst) as tmp, tempfile.TemporaryDirectory(prefix="cratefile-convert-") as work:
        try:
            graphinput.run_preferring_graph(src, Path(work), lambda name: ffmpeg_argv(src, tmp, recipe, ffmpeg, name),
                                            ffmpeg_argv(src, tmp, recipe, ffmpeg), FFMPEG_TIMEOUT)
        except ToolError as exc:
            category = Category.TRANSIENT if exc.returncode is None else Category.CONVERSION_FAILED
            raise TrackFailure(category, _ffmpeg_message(src, recipe, exc)) from exc
        _tag(tmp, recipe, tags)
        _fsync(tmp)


def retag(src: Path, dst: Path, recipe: FormatRecipe, tags: TrackTags) -> None:
    """Give `dst` the encoded audio of `src` (a file `convert` made with this recipe) with new
    `tags`, without encoding again: a copy is tagged and takes the name, so `dst` is never a
    half-tagged file, and the files hard-linked to `src` (playlist folders) keep theirs until
    they are linked again. `src` may be `dst`."""
    with atomic_target(dst) as tmp:
        try:
            shutil.copyfile(src, tmp)
        except OSError as exc:
            raise TrackFailure(Category.CONVERSION_FAILED, f"{recipe.name}: cannot copy {src.name} ({exc})") from exc
        _tag(tmp, recipe, tags)
        _fsync(tmp)


def _tag(path: Path, recipe: FormatRecipe, tags: TrackTags) -> None:
    from cratefile.tags import TagError, write_tags

    try:
        write_tags(path, recipe.tagger, tags)
    except TagError as exc:
        raise TrackFailure(Category.CONVERSION_FAILED, f"{recipe.name}: {exc}") from exc


def _ffmpeg_message(src: Path, recipe: FormatRecipe, exc: ToolError) -> str:
    what = "timed out" if exc.returncode is None else f"exit {exc.returncode}"
    lines = [line.strip() for line in exc.stderr_tail.strip().splitlines() if line.strip()]
    tail = " | ".join(lines[-3:])[-MESSAGE_TAIL:]
    return f"ffmpeg could not convert {src.name} to {recipe.name} ({what}): {tail or 'no output'}"


def _fsync(path: Path) -> None:
    """Flush the finished file before it takes the real name, so a power cut after the
    rename cannot leave an empty file under it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
