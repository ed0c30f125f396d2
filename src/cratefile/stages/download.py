"""download:<key> — bring a track's source audio into cache/audio with a sidecar JSON.

The sidecar (`cache/audio/<stem>.json`, a `records.Sidecar`) is the task's target and is
written last, so its presence means the audio is complete. The track's source kind does the
work (yt-dlp for URLs; local files stay where they are and the sidecar points at them);
every sink's `before_download` hook runs first (Notion's processing lock), then a sink may
supply a copy its app already holds instead of a download (the Eagle sink: sinks/eagle/supply.py).

Each new source file is measured once (cratefile.quality: provenance and fingerprint) before
its sidecar is written; a download made before that measurement existed is measured on the
next run without being fetched again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cratefile.actions import action
from cratefile.atomic import read_json, write_json
from cratefile.context import RunContext
from cratefile.layout import Layout
from cratefile.quality.step import assess, quality_current
from cratefile.records import Sidecar, TrackRef
from cratefile.sinks import SINKS
from cratefile.sources import SOURCES


def audio_path(layout: Layout, sidecar: Sidecar) -> Path:
    """The audio file a sidecar describes (absolute for local files, in cache/audio otherwise)."""
    return layout.audio / sidecar.audio


def read_sidecar(layout: Layout, key: str) -> Sidecar | None:
    return Sidecar.from_json(read_json(layout.sidecar(key)))


@action("download")
def run_download(ctx: RunContext, ref: dict[str, Any], kind: str) -> None:
    track = TrackRef(**ref)
    dest = ctx.layout.audio
    dest.mkdir(parents=True, exist_ok=True)
    known = read_sidecar(ctx.layout, track.key)
    if known is not None and SOURCES[kind].current(ctx, known):  # here only to be measured
        assess(ctx, track.key, audio_path(ctx.layout, known), known.duration)
        return
    sinks = [(sink, config) for name, sink in SINKS.items() if (config := ctx.manifest.sink(name)) is not None]
    for sink, _config in sinks:
        sink.before_download(ctx, track.key)
    sidecar = _supplied(ctx, sinks, track, dest, kind) or SOURCES[kind].download(ctx, track, dest)
    assess(ctx, track.key, audio_path(ctx.layout, sidecar), sidecar.duration)
    write_json(ctx.layout.sidecar(track.key), sidecar.to_json())
    ctx.catalog.upsert_track(
        track.key,
        url=sidecar.url or track.url,
        title=sidecar.title or track.title,
        artist=sidecar.artist or track.artist,
        album=sidecar.album,
        duration=sidecar.duration,
    )
    ctx.catalog.clear_failure(track.key, "downloaded")


def _supplied(ctx: RunContext, sinks: list[tuple[Any, Any]], track: TrackRef, dest: Path, kind: str) -> Sidecar | None:
    """A copy an app's library already holds (the Eagle sink's `supply`), for a remote track."""
    if kind == "folder":  # a local file is its own source
        return None
    for sink, config in sinks:
        sidecar: Sidecar | None = sink.supply(ctx, config, track, dest)
        if sidecar is not None:
            # in the run's report: which tracks were not downloaded, and where they came from
            ctx.shared("supplied", lambda: ctx.sink_stats.setdefault("supplied", [])).append(
                {"key": track.key, "from": sidecar.supplied_by})
            return sidecar
    return None


def sidecar_current(ctx: RunContext, key: str, kind: str) -> bool:
    """doit uptodate: the sidecar exists, its audio is still there (and unchanged, for local
    files) and has been measured (cratefile.quality)."""
    sidecar = read_sidecar(ctx.layout, key)
    return (sidecar is not None and SOURCES[kind].current(ctx, sidecar)
            and quality_current(ctx, key, audio_path(ctx.layout, sidecar)))
