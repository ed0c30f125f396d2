"""`url: <playlist URL>`: any playlist or track URL yt-dlp understands (SoundCloud sets first).

The snapshot is reused while younger than the playlist's `refresh` interval, so a rerun makes
no network request. yt-dlp is imported only when a URL playlist is fetched or downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cratefile.records import Playlist, Sidecar, SourceSpec, TrackRef
from cratefile.sources.base import Listing, ManifestReader, SourceBase
from cratefile.yamlpos import YamlPath

if TYPE_CHECKING:
    from cratefile.context import RunContext


def snapshot_young(playlist: Playlist, meta: Mapping[str, Any]) -> bool:
    """A remote source's snapshot is reused while younger than the playlist's refresh interval."""
    return time.time() - float(meta.get("fetched_at", 0)) < playlist.refresh_seconds


class UrlSource(SourceBase):
    kind = "url"
    schema: Mapping[str, Any] = {
        "description": "An http(s) playlist URL that yt-dlp understands, e.g. a SoundCloud set.",
        "$ref": "#/$defs/httpUrl",
        "examples": ["https://soundcloud.com/user/sets/name"],
    }

    def parse(self, value: Any, path: YamlPath, reader: ManifestReader) -> SourceSpec:
        url = str(value)
        if any(c.isspace() for c in url) or not urlsplit(url).hostname:
            reader.bad(path, f"{reader.show(path)} is not a valid URL",
                       "percent-encode spaces (%20) and give a host")
        return SourceSpec(self.kind, url)

    def enumerate(self, run: RunContext, playlist: Playlist) -> Listing:
        from cratefile.sources import ytdlp

        return Listing(tuple(ytdlp.enumerate_playlist(playlist.source.location, run.manifest.ytdlp)))

    def fresh(self, run: RunContext, playlist: Playlist, meta: Mapping[str, Any]) -> bool:
        return snapshot_young(playlist, meta)

    def download(self, run: RunContext, ref: TrackRef, dest: Path) -> Sidecar:
        from cratefile.sources import ytdlp

        return ytdlp.download(ref, dest, run.manifest.ytdlp, attempts=run.manifest.retry.transient_attempts)

    def current(self, run: RunContext, sidecar: Sidecar) -> bool:
        return (run.layout.audio / sidecar.audio).is_file()
