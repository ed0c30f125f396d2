"""The playlists sink (always on): per playlist, a folder of links per format and an M3U8.

Tasks `publish:<slug>`, made once the conversions ran, over the library files that exist. An
acoustic duplicate's position links the file of the recording kept in its place, and a format
`from_lossy: skip` holds back is left out (cratefile.quality.aliases.Published).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.layout import playlist_folder
from cratefile.quality.aliases import Published
from cratefile.records import digest
from cratefile.sinks.base import BuildView, SinkBase, quiet
from cratefile.sinks.playlists.publish import Entry, run_publish


def _links_present(base: Path, entries: Mapping[str, list[Entry]]) -> bool:
    """Every link is there: one listing per format folder, not one stat per link."""
    for fmt, rows in entries.items():
        try:
            with os.scandir(base / fmt) as found:
                names = {e.name for e in found if not e.is_symlink() or os.path.exists(e.path)}
        except OSError:
            names = set()
        if not all(name in names for _, name, _ in rows):
            return False
    return True


def _sources(entries: Mapping[str, list[Entry]]) -> list[tuple[str, int, int] | None]:
    """(path, mtime_ns, size) of every library file a playlist links: what its file_dep were
    (a digest of these is one uptodate value instead of a doit dependency per file)."""
    out: list[tuple[str, int, int] | None] = []
    for rows in entries.values():
        for _, _, src in rows:
            try:
                st = os.stat(src)
            except OSError:
                out.append(None)
                continue
            out.append((src, st.st_mtime_ns, st.st_size))
    return out


class PlaylistsSink(SinkBase):
    name = "playlists"
    basename = "publish"
    after = "convert"

    def parse(self, section: Any, reader: Any) -> bool:
        return True  # no section: always on

    def tasks(self, build: BuildView, config: Any) -> Iterator[dict[str, Any]]:
        layout = build.layout
        published = Published.of(build)
        for p in build.manifest.playlists:
            snap = build.snapshots.get(p.slug)
            if snap is None:
                continue
            folder = playlist_folder(p)
            entries: dict[str, list[Entry]] = {}
            for fmt in p.formats:
                rows = []
                for ref in snap.tracks:
                    src = published.output_file(ref.key, fmt)  # an alias: the kept track's file
                    if src is not None:
                        rows.append((published.key_of(ref.key), os.path.basename(src), src))
                entries[fmt] = rows
            yield {
                "name": p.slug,
                "doc": f"playlist folder and M3U8 of {p.name!r}",
                "actions": [(run_publish, [build.run, p.slug, folder, entries])],
                "targets": [str(layout.m3u(folder, fmt)) for fmt in p.formats],
                # the linked files' (mtime_ns, size) in the digest, not as 60,000 file_dep of a large library
                "uptodate": [config_changed(digest([entries, _sources(entries)])),
                             (_links_present, [layout.playlist_dir(folder), entries])],
                **quiet(),
            }
