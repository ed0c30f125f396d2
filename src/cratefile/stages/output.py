"""convert:<key>:<format> — one library file per (track, format), tags written in the same step.

Tags come from the sidecar (title, artist, artwork, URL), the analysis (BPM, key in the
chosen notation) and the playlists that list the track (album fallback, grouping). When a
track's file name changed (new title, new naming rule) the previous file is removed once
the new one is in place.

A file whose encoded audio is still what the recipe would make of the source (the catalog
records what it was made of) is re-tagged instead: a renamed playlist (grouping), another
playlist listing the track, a new key notation or file name cost a copy, not an encoding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cratefile.actions import action
from cratefile.analysis.key import key_in_notation
from cratefile.atomic import read_json
from cratefile.context import RunContext
from cratefile.errors import Category, TrackFailure
from cratefile.freshness import audio_inputs, audio_intact, convert_inputs
from cratefile.quality.step import convert_gate
from cratefile.records import AnalysisResult, Sidecar
from cratefile.stages.convert import convert, retag
from cratefile.stages.download import audio_path, read_sidecar

if TYPE_CHECKING:
    from cratefile.tags import TrackTags


RETAGGED = "retagged"  # RunContext.shared name: the (key, format) files re-tagged, not encoded, this run


def usable_artwork(path: Path) -> Path | None:
    """Cover art the taggers can embed (JPEG or PNG); other images (webp thumbnails) are skipped."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None
    return path if head.startswith((b"\xff\xd8\xff", b"\x89PNG")) else None


def track_tags(layout_audio: Path, sidecar: Sidecar, analysis: AnalysisResult, *,
               album: str, grouping: str, notation: str, fallback_title: str, fallback_artist: str,
               quality: str | None = None) -> TrackTags:
    from cratefile.tags import TrackTags  # mutagen only when a file is written

    musical_key = analysis.musical_key
    upload = sidecar.upload_date or ""
    return TrackTags(
        title=sidecar.title or fallback_title,
        artist=sidecar.artist or fallback_artist,
        album=sidecar.album or album,
        grouping=grouping,
        bpm=analysis.bpm,
        musical_key=key_in_notation(musical_key, notation) if musical_key else None,
        url=sidecar.url or None,
        genre=sidecar.genre,
        year=upload[:4] if len(upload) >= 4 else None,
        artwork=usable_artwork(layout_audio / sidecar.artwork) if sidecar.artwork else None,
        quality=quality,
    )


@action("convert {0}")
def run_convert(ctx: RunContext, key: str, fmt: str, dst: str, album: str, grouping: str,
                notation: str, recipe_digest: str) -> None:
    _convert(ctx, key, fmt, dst, album, grouping, notation, recipe_digest)


@action("convert {0}")
def run_convert_late(ctx: RunContext, key: str, fmt: str, name_of: Callable[[str], str], album: str,
                     grouping: str, notation: str, digest_of: Callable[[str], str]) -> None:
    """run_convert for a track whose file name is known only once its download of this run
    ended (plan.convert_tasks): `name_of(key)` gives it, `digest_of(name)` its recipe digest."""
    try:
        name = name_of(key)
    except LookupError as exc:
        raise TrackFailure(Category.CONVERSION_FAILED, "no downloaded audio to convert") from exc
    dst = ctx.layout.output(fmt, name, ctx.manifest.formats[fmt].extension)
    _convert(ctx, key, fmt, str(dst), album, grouping, notation, digest_of(name))


def _convert(ctx: RunContext, key: str, fmt: str, dst: str, album: str, grouping: str,
             notation: str, recipe_digest: str) -> None:
    layout = ctx.layout
    inputs = convert_inputs(layout, key, recipe_digest)  # before reading: what this file is made of
    audio = audio_inputs(layout, key, ctx.manifest.formats[fmt])
    sidecar = read_sidecar(layout, key)
    if sidecar is None:
        raise TrackFailure(Category.CONVERSION_FAILED, "no downloaded audio to convert")
    analysis = AnalysisResult.from_json(read_json(layout.analysis(key))) or AnalysisResult()
    recipe = ctx.manifest.formats[fmt]
    decision, quality = convert_gate(ctx, key, fmt, recipe)  # from_lossy, and the provenance tag
    if not decision.build:
        return
    naming = ctx.manifest.naming
    tags = track_tags(layout.audio, sidecar, analysis, album=album, grouping=grouping, notation=notation,
                      fallback_title=naming.fallback_title, fallback_artist=naming.fallback_artist,
                      quality=quality)
    target = Path(dst)
    row = ctx.catalog.file_record(key, fmt)
    if audio_intact(row, audio):  # only what its tags say changed: no encoding
        assert row is not None
        retag(Path(row["path"]), target, recipe, tags)
        ctx.shared(RETAGGED, list).append((key, fmt))
    else:
        convert(audio_path(layout, sidecar), target, recipe, tags)
    previous = ctx.catalog.record_file(key, fmt, target, inputs, audio)
    if previous and Path(previous).parent == target.parent and Path(previous).is_relative_to(layout.library):
        with contextlib.suppress(FileNotFoundError):
            Path(previous).unlink()
    ctx.catalog.upsert_track(key, status="built")
