"""Where every file of a workspace lives. The one place that knows the cache and library layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cratefile.naming import safe_component
from cratefile.records import Playlist, stem_of


@dataclass(frozen=True)
class Layout:
    cache: Path
    library: Path

    @property
    def snapshots(self) -> Path:
        return self.cache / "playlists"

    def snapshot(self, slug: str) -> Path:
        return self.snapshots / f"{slug}.json"

    @property
    def audio(self) -> Path:
        return self.cache / "audio"

    def sidecar(self, key: str) -> Path:
        return self.audio / f"{stem_of(key)}.json"

    @property
    def analyses(self) -> Path:
        return self.cache / "analysis"

    def analysis(self, key: str) -> Path:
        return self.analyses / f"{stem_of(key)}.json"

    def output(self, fmt: str, name: str, ext: str) -> Path:
        return self.library / fmt / f"{name}.{ext}"

    @property
    def playlists_root(self) -> Path:
        return self.library / "playlists"

    def playlist_dir(self, folder: str) -> Path:
        return self.playlists_root / folder

    def m3u(self, folder: str, fmt: str) -> Path:
        return self.playlists_root / folder / f"{folder} ({fmt}).m3u8"

    @property
    def catalog(self) -> Path:
        return self.cache / "catalog.sqlite"

    @property
    def doit_db(self) -> Path:
        return self.cache / "doit.sqlite"

    @property
    def reports(self) -> Path:
        return self.cache / "reports"

    @property
    def logs(self) -> Path:
        return self.cache / "logs"

    @property
    def lock(self) -> Path:
        return self.cache / ".lock"

    @property
    def ytdlp_cache(self) -> Path:
        return self.cache / "yt-dlp"


def playlist_folder(playlist: Playlist) -> str:
    """The folder name of a playlist under library/playlists/."""
    return safe_component(playlist.name, 100)
