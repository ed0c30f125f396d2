"""download:<key> — bring a track's source audio into cache/audio with a sidecar JSON.

The sidecar (`cache/audio/<stem>.json`) is the task's target and is written last, so its
presence means the audio is complete. URL tracks go through yt-dlp; local files stay
where they are and the sidecar points at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from doit.exceptions import TaskFailed

from cratefile.atomic import read_json, write_json
from cratefile.engine.context import RunContext
from cratefile.engine.guard import guarded
from cratefile.errors import TrackFailure
from cratefile.records import TrackRef
from cratefile.sources import folder as folder_source
from cratefile.stages import notion_lock


def audio_path(layout_audio: Path, sidecar: dict[str, Any]) -> Path:
    """The audio file a sidecar describes (absolute for local files, in cache/audio otherwise)."""
    return layout_audio / sidecar["audio"]


@guarded("download")
def run_download(ctx: RunContext, ref: dict[str, Any], kind: str) -> TaskFailed | bool:
    track = TrackRef(**ref)
    dest = ctx.layout.audio
    dest.mkdir(parents=True, exist_ok=True)
    try:
        notion_lock.take(ctx, track.key)
        if kind == "folder":
            sidecar = folder_source.prepare(track, dest)
        else:
            from cratefile.sources import ytdlp

            sidecar = ytdlp.download(track, dest, ctx.manifest.ytdlp, attempts=ctx.manifest.retry.transient_attempts)
    except TrackFailure as failure:
        ctx.failed(track.key, "download", failure)
        return TaskFailed(f"{track.key}: {failure}")
    write_json(ctx.layout.sidecar(track.key), sidecar)
    ctx.catalog.upsert_track(
        track.key,
        url=sidecar.get("url") or track.url,
        title=sidecar.get("title") or track.title,
        artist=sidecar.get("artist") or track.artist,
        album=sidecar.get("album"),
        duration=sidecar.get("duration"),
    )
    ctx.catalog.clear_failure(track.key, "downloaded")
    ctx.succeeded(track.key, "download")
    return True


def sidecar_current(ctx: RunContext, key: str, kind: str) -> bool:
    """doit uptodate: the sidecar exists and its audio is still there (and unchanged, for local files)."""
    sidecar = read_json(ctx.layout.sidecar(key))
    if not isinstance(sidecar, dict) or "audio" not in sidecar:
        return False
    if kind == "folder":
        return folder_source.is_current(sidecar)
    return audio_path(ctx.layout.audio, sidecar).is_file()
