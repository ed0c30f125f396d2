"""convert:<key>:<format> — one library file per (track, format), tags written in the same step.

Tags come from the sidecar (title, artist, artwork, URL), the analysis (BPM, key in the
chosen notation) and the playlists that list the track (album fallback, grouping). When a
track's file name changed (new title, new naming rule) the previous file is removed once
the new one is in place.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from cratefile.atomic import read_json
from cratefile.engine.context import RunContext
from cratefile.engine.freshness import convert_inputs
from cratefile.engine.guard import guarded
from cratefile.errors import TrackFailure
from cratefile.analysis.key import key_in_notation
from cratefile.stages.convert import convert
from cratefile.stages.download import audio_path
from cratefile.tags import TrackTags


def usable_artwork(path: Path) -> Path | None:
    """Cover art the taggers can embed (JPEG or PNG); other images (webp thumbnails) are skipped."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    return path if head.startswith((b"\xff\xd8\xff", b"\x89PNG")) else None


def track_tags(layout_audio: Path, sidecar: dict[str, Any], analysis: dict[str, Any], *,
               album: str, grouping: str, notation: str, fallback_title: str, fallback_artist: str) -> TrackTags:
    key = analysis.get("key")
    artwork = sidecar.get("artwork")
    upload = str(sidecar.get("upload_date") or "")
    return TrackTags(
        title=sidecar.get("title") or fallback_title,
        artist=sidecar.get("artist") or fallback_artist,
        album=sidecar.get("album") or album,
        grouping=grouping,
        bpm=analysis.get("bpm"),
        key=key_in_notation(key, notation) if key else None,
        url=sidecar.get("url"),
        genre=sidecar.get("genre"),
        year=upload[:4] if len(upload) >= 4 else None,
        artwork=usable_artwork(layout_audio / artwork) if artwork else None,
    )


@guarded("convert")
def run_convert(ctx: RunContext, key: str, fmt: str, dst: str, album: str, grouping: str,
                notation: str, recipe_digest: str) -> TaskFailed | bool:
    layout = ctx.layout
    inputs = convert_inputs(layout, key, recipe_digest)  # before reading: what this file is made of
    sidecar = read_json(layout.sidecar(key)) or {}
    analysis = read_json(layout.analysis(key)) or {}
    recipe = ctx.manifest.formats[fmt]
    naming = ctx.manifest.naming
    tags = track_tags(layout.audio, sidecar, analysis, album=album, grouping=grouping, notation=notation,
                      fallback_title=naming.fallback_title, fallback_artist=naming.fallback_artist)
    target = Path(dst)
    try:
        convert(audio_path(layout.audio, sidecar), target, recipe, tags)
    except TrackFailure as failure:
        ctx.failed(key, f"convert {fmt}", failure)
        return TaskFailed(f"{key} → {fmt}: {failure}")
    previous = ctx.catalog.record_file(key, fmt, target, inputs)
    if previous and Path(previous).parent == target.parent and Path(previous).is_relative_to(layout.library):
        with contextlib.suppress(FileNotFoundError):
            Path(previous).unlink()
    ctx.catalog.upsert_track(key, status="built")
    ctx.succeeded(key, f"convert {fmt}")
    return True
