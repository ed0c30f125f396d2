"""The playlists sink (always on): per playlist, a folder of links per format and an M3U8.

Tasks `publish:<slug>`, made once the conversions ran, over the library files that exist. An
acoustic duplicate's position links the file of the recording kept in its place, and a format
`from_lossy: skip` holds back is left out (cratefile.quality.aliases.Published).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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


def _states(entries: Mapping[str, list[Entry]], known: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    """Per format, a digest of its entries and of the (mtime_ns, size) of every library file they
    link: what their file_dep were (one uptodate value instead of a doit dependency per file).
    A file the run already found in place (`known`, BuildView.file_sigs) is not stat-ed again."""
    states = {}
    for fmt, rows in entries.items():
        h = hashlib.blake2b(digest_size=16)
        parts = [fmt]
        for key, name, src in rows:
            sig = known.get(src)
            if sig is None:
                try:
                    st = os.stat(src)
                except OSError:
                    parts.append(f"{key}\0{name}\0{src}\0-")
                    continue
                sig = st.st_mtime_ns, st.st_size
            parts.append(f"{key}\0{name}\0{src}\0{sig[0]}\0{sig[1]}")
        h.update("\n".join(parts).encode("utf-8", "surrogateescape"))
        states[fmt] = h.hexdigest()
    return states


class PlaylistsSink(SinkBase):
    name = "playlists"
    basename = "publish"
    after = "convert"

    def parse(self, section: Any, reader: Any) -> bool:
        return True  # no section: always on

    def tasks(self, build: BuildView, config: Any) -> Iterator[dict[str, Any]]:
        from doit.tools import config_changed  # here: `cratefile status` loads this sink, not doit

        layout = build.layout
        published = Published.of(build)
        for p in build.manifest.playlists:
            snap = build.snapshots.get(p.slug)
            if snap is None:
                continue
            folder = playlist_folder(p)
            formats = p.formats
            entries: dict[str, list[Entry]] = {fmt: [] for fmt in formats}
            columns = [entries[fmt] for fmt in formats]
            for ref in snap.tracks:
                paths = published.output_files(ref.key, formats)  # an alias: the kept track's files
                if paths.count(None) == len(paths):
                    continue
                track = published.key_of(ref.key)
                for rows, src in zip(columns, paths, strict=True):
                    if src is not None:
                        rows.append((track, src.rpartition("/")[2], src))
            states = _states(entries, build.file_sigs)
            yield {
                "name": p.slug,
                "doc": f"playlist folder and M3U8 of {p.name!r}",
                "actions": [(run_publish, [build.run, p.slug, folder, entries, states])],
                "targets": [str(layout.m3u(folder, fmt)) for fmt in p.formats],
                # the linked files' (mtime_ns, size) in the digest, not as 60,000 file_dep of a large library
                "uptodate": [config_changed(digest(states)),
                             (_links_present, [layout.playlist_dir(folder), entries])],
                **quiet(),
            }
