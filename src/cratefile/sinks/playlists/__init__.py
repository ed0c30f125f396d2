"""The playlists sink (always on): per playlist, a folder of links per format and an M3U8.

Tasks `publish:<slug>`, made once the conversions ran, over the library files that exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from doit.tools import config_changed

from cratefile.layout import playlist_folder
from cratefile.records import digest
from cratefile.sinks.base import BuildView, SinkBase, quiet
from cratefile.sinks.playlists.publish import Entry, run_publish


def _links_present(base: Path, entries: Mapping[str, list[Entry]]) -> bool:
    return all((base / fmt / name).exists() for fmt, rows in entries.items() for _, name, _ in rows)


class PlaylistsSink(SinkBase):
    name = "playlists"
    basename = "publish"
    after = "convert"

    def parse(self, section: Any, reader: Any) -> bool:
        return True  # no section: always on

    def tasks(self, build: BuildView, config: Any) -> Iterator[dict[str, Any]]:
        layout = build.layout
        for p in build.manifest.playlists:
            snap = build.snapshots.get(p.slug)
            if snap is None:
                continue
            folder = playlist_folder(p)
            entries: dict[str, list[Entry]] = {}
            for fmt in p.formats:
                rows = []
                for ref in snap.tracks:
                    src = build.output(ref.key, fmt)
                    if src is not None:
                        rows.append((ref.key, src.name, str(src)))
                entries[fmt] = rows
            deps = sorted({src for rows in entries.values() for _, _, src in rows})
            yield {
                "name": p.slug,
                "doc": f"playlist folder and M3U8 of {p.name!r}",
                "actions": [(run_publish, [build.run, p.slug, folder, entries])],
                "file_dep": deps,
                "targets": [str(layout.m3u(folder, fmt)) for fmt in p.formats],
                "uptodate": [config_changed(digest(entries)), (_links_present, [layout.playlist_dir(folder), entries])],
                **quiet(),
            }
